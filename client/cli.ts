import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Kysely } from 'kysely';
import { loadConfig, requireWorkerQboAccess, type Config } from '../worker/config.js';
import { reportFailure } from './cli-errors.js';
import { readLiveDevEnv, withDevEnv } from './dev-env.js';
import { registerSandboxCommand } from './commands/sandbox.js';
import { registerMapCommand } from './commands/map.js';
import { registerReportCommand } from './commands/report.js';
import { registerServeCommand } from './commands/serve.js';
import { registerWebhooksCommand } from './commands/webhooks.js';
import { registerConnectCommand } from './commands/connect.js';
import { registerPreviewCommand } from './commands/preview.js';
import { registerOnboardCommand } from './commands/onboard.js';
import { registerDisconnectCommand } from './commands/disconnect.js';
import { registerChangeCompanyCommand } from './commands/change-company.js';
import { registerTenantCommands } from './commands/tenant.js';
import { registerConflictCommands } from './commands/conflicts.js';

// Commands import their heavy modules (Temporal, pg, the simulator) inside their actions, so that
// `qbsync --help` and argument errors answer at once.

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Fills unset variables from the dev.env of a running `qbsync dev`; the real environment wins. */
function adoptDevEnv(): void {
  const file = readLiveDevEnv(process.env);
  if (file) Object.assign(process.env, withDevEnv(process.env, file));
}

function config(): Config {
  return loadConfig(process.env);
}

interface DevCommandOptions {
  readonly simulatorPort: number;
  readonly customers: number;
  readonly transactions: number;
  readonly every?: number;
  readonly webhooksPort?: number;
  readonly webhooks: boolean;
}

export function buildProgram(): Command {
  const program = new Command('qbsync')
    .description("Keeps a CRM's PostgreSQL database in step with each tenant's QuickBooks Online company.")
    .showHelpAfterError('(run qbsync --help for usage)')
    .exitOverride()
    .hook('preAction', (_program, action) => {
      // `dev` writes dev.env; every other command reads it, so that it reaches a running dev stack.
      if (action.name() !== 'dev') adoptDevEnv();
    });

  program
    .command('setup')
    .description('find or install the Temporal CLI (go install on first use, about 3 minutes)')
    .option('--quiet', 'print only what is being installed')
    .action(async (options: { quiet?: boolean }) => {
      const cfg = config();
      const { findOrInstallTemporal } = await import('../worker/temporal-server.js');
      const started = Date.now();
      const found = await findOrInstallTemporal({
        cliPath: cfg.temporal.cliPath,
        pathVariable: process.env['PATH'],
        dataDir: cfg.dataDir,
        log,
      });
      if (!options.quiet || found.how === 'go install' || found.how === 'SDK download') {
        log(`Temporal CLI: ${found.path} (found via ${found.how}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
      }
    });

  program
    .command('build-workflows')
    .description(
      'bundle the workflow code for workers (a worker builds it on start when its sources changed); prints its path',
    )
    .option('--workflows <path>', 'the workflows module to bundle (default workflows/index.ts)')
    .option('--out-dir <folder>', 'where to write it (default .data/workflow-bundles beside the sources)')
    .action(async (options: { workflows?: string; outDir?: string }) => {
      const { buildWorkflowBundle } = await import('../worker/workflow-bundle.js');
      log(
        await buildWorkflowBundle({
          ...(options.workflows !== undefined ? { entry: options.workflows } : {}),
          ...(options.outDir !== undefined ? { folder: options.outDir } : {}),
        }),
      );
    });

  program
    .command('migrate')
    .description('migrate the database to the latest schema, or down one step with --down')
    .option('--down', 'undo the latest migration')
    .action(async (options: { down?: boolean }) => {
      const cfg = config();
      const { openDatabase } = await import('./connections.js');
      const { migrateDownOne, migrateToLatest } = await import('../db/migrate.js');
      const database = await openDatabase(cfg, log);
      try {
        const db = database.db as Kysely<unknown>;
        const results = options.down ? await migrateDownOne(db) : await migrateToLatest(db);
        if (results.length === 0) log(options.down ? 'Nothing to undo.' : 'Already at the latest migration.');
        for (const result of results) log(`${result.direction === 'Up' ? 'applied' : 'undid'} ${result.migrationName}`);
      } finally {
        await database.close();
      }
    });

  program
    .command('worker')
    .description('run a Temporal worker for the qbsync task queue (needs a migrated database)')
    .action(async () => {
      const cfg = config();
      requireWorkerQboAccess(cfg);
      const { assertMigrated, connectToTemporal, startWorker } = await import('../worker/main.js');
      const { openDatabase } = await import('./connections.js');
      const connection = await connectToTemporal(cfg);
      const database = await openDatabase(cfg, log).catch(async (error: unknown) => {
        await connection.close();
        throw error;
      });
      const worker = await assertMigrated(database.db)
        .then(() => startWorker({ config: cfg, db: database.db, connection }))
        .catch(async (error: unknown) => {
          await database.close();
          await connection.close();
          throw error;
        });
      log(
        `Worker polling task queue "${cfg.temporal.taskQueue}" on ${cfg.temporal.address} (namespace ${cfg.temporal.namespace}).`,
      );
      await untilSignal(async () => {
        await worker.stop();
        await connection.close();
        await database.close();
      }, worker.running);
    });

  program
    .command('dev')
    .description(
      'run the whole stack in the foreground: Temporal dev server, PostgreSQL, worker, a simulated QuickBooks company sending webhooks to a receiver, and a demo tenant (Ctrl-C stops it)',
    )
    .addOption(
      new Option('--simulator-port <port>', 'port of the QuickBooks simulator').argParser(portArg).default(8911),
    )
    .addOption(new Option('--customers <n>', 'customers in the simulated company').argParser(countArg).default(2000))
    .addOption(
      new Option('--transactions <n>', 'transactions in the simulated company').argParser(countArg).default(8000),
    )
    .addOption(
      new Option(
        '--every <seconds>',
        'seconds between incremental passes (default 300 with webhooks, 10 without)',
      ).argParser(countArg),
    )
    .addOption(
      new Option(
        '--webhooks-port <port>',
        'port of the webhook receiver the simulator sends to (default QBSYNC_WEBHOOKS_PORT, 8090)',
      ).argParser(portArg),
    )
    .option('--no-webhooks', 'no webhook receiver: edits arrive with the next incremental pass')
    .action(async (options: DevCommandOptions) => {
      const cfg = config();
      // With webhooks an edit arrives within seconds, so passes on a timer are only a safety net.
      const every = options.every ?? (options.webhooks ? 300 : 10);
      const { startDevDemo, monitorDemo, devEnvironment } = await import('./dev.js');
      const demo = await startDevDemo(cfg, log, {
        simulatorPort: options.simulatorPort,
        customers: options.customers,
        transactions: options.transactions,
        startDate: `${new Date().getUTCFullYear() - 3}-01-01`,
        pollIntervalSeconds: every,
        webhooksPort: options.webhooks ? (options.webhooksPort ?? cfg.webhooks.port) : undefined,
      });
      const { stack } = demo;
      log('');
      log(
        `  Temporal    ${stack.temporalAddress}${stack.startedTemporal ? ' (dev server, history in ' + cfg.dataDir + '/temporal.db)' : ' (already running)'}`,
      );
      log(`  Temporal UI ${stack.temporalUiUrl}`);
      log(`  PostgreSQL  ${redactUrl(stack.database.target.url)} (${stack.database.target.source}, migrated)`);
      log(`  Worker      task queue "${cfg.temporal.taskQueue}", namespace "${cfg.temporal.namespace}"`);
      log(`  QuickBooks  simulator at ${demo.simulator.baseUrl}, company ${demo.realmId}`);
      log(
        demo.webhooksUrl
          ? `  Webhooks    receiver at ${demo.webhooksUrl}; the simulator sends it signed webhooks (passes on a timer every ${every} s besides)`
          : `  Webhooks    off (--no-webhooks): edits arrive with the next pass, every ${every} s`,
      );
      log(`  Demo tenant "demo", workflow ${demo.workflowId}:`);
      log(`              ${stack.temporalUiUrl}/namespaces/${cfg.temporal.namespace}/workflows/${demo.workflowId}`);
      const { removeDevEnv, writeDevEnv } = await import('./dev-env.js');
      const envFile = writeDevEnv(cfg.dataDir, devEnvironment(demo), process.pid);
      log(`  Settings    ${envFile} (qbsync commands in another terminal read it)`);
      log('');
      log('Press Ctrl-C to stop.');
      const monitor = monitorDemo(demo, log, process.stdout.isTTY === true);
      await untilSignal(async () => {
        removeDevEnv(cfg.dataDir);
        await monitor.stop();
        await demo.stop();
      }, stack.worker.running);
      log('Stopped.');
    });

  registerMapCommand(program);
  registerReportCommand(program);
  registerSandboxCommand(program);
  registerServeCommand(program);
  registerWebhooksCommand(program);
  registerConnectCommand(program);
  registerPreviewCommand(program);
  registerOnboardCommand(program);
  registerDisconnectCommand(program);
  registerChangeCompanyCommand(program);
  registerTenantCommands(program);
  registerConflictCommands(program);

  return program;
}

/** Waits for Ctrl-C or SIGTERM (or for the worker to fail), then runs the clean-up once. */
async function untilSignal(cleanUp: () => Promise<void>, running: Promise<void>): Promise<void> {
  let signalled!: () => void;
  const signal = new Promise<void>((resolve) => (signalled = resolve));
  process.once('SIGINT', signalled);
  process.once('SIGTERM', signalled);
  try {
    await Promise.race([signal, running]);
  } finally {
    await cleanUp();
  }
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

function portArg(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new InvalidArgumentError('must be a port number (1-65535)');
  return port;
}

function countArg(value: string): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) throw new InvalidArgumentError('must be a positive integer');
  return count;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (help, version or a usage error).
      return error.exitCode === 0 ? 0 : 2;
    }
    return reportFailure(error, process.env['QBSYNC_LOG_LEVEL'] === 'debug');
  }
}
