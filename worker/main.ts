import { NativeConnection, Runtime, Worker, DefaultLogger, type LogLevel } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import { OperatorError } from '../common/errors.js';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { defaultPageBudget } from '../activities/sync/sync.activities.js';
import { createQboClientForTenant } from '../activities/qbo/qbo-auth.js';
import type { Database } from '../db/schema.js';
import { describe } from '../db/postgres.js';
import { listMigrations } from '../db/migrate.js';
import { requireWorkerQboAccess, type Config } from './config.js';
import { qboAuthDepsFromConfig } from './qbo-deps.js';
import { workerLogFunction } from './log-format.js';
import { createWorkerMetrics, freeLoopbackPort, serveMetrics, type WorkerMetrics } from './metrics.js';
import { TemporalUnavailableError } from './temporal-server.js';
import { ensureWorkflowBundle } from './workflow-bundle.js';

let runtime: Promise<string | undefined> | undefined;

/**
 * Installs the SDK's runtime once per process, before the first connection (which would install a
 * default one). With QBSYNC_METRICS_PORT set, the SDK's Prometheus exporter listens on a loopback
 * port, whose address this returns; undefined when metrics are off or an earlier runtime is in place
 * (tests create several workers in one process).
 */
function installRuntime(config: Config): Promise<string | undefined> {
  runtime ??= (async () => {
    const level = config.logLevel;
    const sdkLevel: LogLevel =
      level === 'debug' ? 'DEBUG' : level === 'info' ? 'WARN' : level === 'warn' ? 'WARN' : 'ERROR';
    const sdkMetricsAddress =
      config.worker.metricsPort !== undefined ? `127.0.0.1:${await freeLoopbackPort()}` : undefined;
    try {
      Runtime.install({
        logger: new DefaultLogger(sdkLevel, workerLogFunction(level === 'debug')),
        ...(sdkMetricsAddress
          ? { telemetryOptions: { metrics: { prometheus: { bindAddress: sdkMetricsAddress } } } }
          : {}),
      });
      return sdkMetricsAddress;
    } catch {
      return undefined;
    }
  })();
  return runtime;
}

export async function connectToTemporal(config: Config): Promise<NativeConnection> {
  await installRuntime(config);
  const address = config.temporal.address;
  try {
    return await NativeConnection.connect({ address });
  } catch (error) {
    throw new TemporalUnavailableError(`cannot reach Temporal at ${address} (TEMPORAL_ADDRESS): ${describe(error)}`);
  }
}

export interface WorkerHandle {
  readonly worker: Worker;
  /** Resolves when the worker has stopped; rejects if it failed. */
  readonly running: Promise<void>;
  stop(): Promise<void>;
}

export class DatabaseNotMigratedError extends OperatorError {
  override readonly name = 'DatabaseNotMigratedError';
}

/** Workers never migrate on their own (many start at once in production); they refuse a stale schema. */
export async function assertMigrated(db: Kysely<Database>): Promise<void> {
  const migrations = await listMigrations(db as Kysely<unknown>);
  const pending = migrations.filter((migration) => migration.executedAt === undefined);
  if (pending.length > 0) {
    throw new DatabaseNotMigratedError(
      `the database is missing ${pending.length} migration${pending.length > 1 ? 's' : ''} (first: ${pending[0]?.name}); run "qbsync migrate"`,
    );
  }
}

/**
 * How activities reach QBO: the OAuth app and token key from configuration, the shared per-realm
 * limiter in PostgreSQL. Without them a worker does not start (requireWorkerQboAccess).
 */
export function qboClientsFromConfig(
  config: Config,
  db: Kysely<Database>,
  now: () => Date,
  metrics?: WorkerMetrics,
): ActivityDeps['qboClientFor'] {
  requireWorkerQboAccess(config);
  const configured = qboAuthDepsFromConfig(config, db, now)!;
  const deps =
    metrics && configured.limiter
      ? { ...configured, limiter: metrics.countingLimiter(configured.limiter) }
      : configured;
  return (tenantId) => createQboClientForTenant(deps, tenantId);
}

/** The composition root: config and connections in, a running worker out. */
export async function startWorker(options: {
  readonly config: Config;
  readonly db: Kysely<Database>;
  readonly connection?: NativeConnection;
  /** Overrides how activities reach QBO (tests wire a simulator-specific factory here). */
  readonly qboClientFor?: ActivityDeps['qboClientFor'];
}): Promise<WorkerHandle> {
  const now = () => new Date();
  const { metricsPort, maxCachedWorkflows, reuseV8Context, pagesPerActivity } = options.config.worker;
  const sdkMetricsAddress = await installRuntime(options.config);
  const metrics =
    metricsPort !== undefined
      ? createWorkerMetrics(sdkMetricsAddress ? { sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics` } : {})
      : undefined;
  const qboClientFor = options.qboClientFor ?? qboClientsFromConfig(options.config, options.db, now, metrics);
  const codePath = await ensureWorkflowBundle();
  const connection = options.connection ?? (await connectToTemporal(options.config));
  const worker = await Worker.create({
    connection,
    namespace: options.config.temporal.namespace,
    taskQueue: options.config.temporal.taskQueue,
    workflowBundle: { codePath },
    activities: createActivities({
      db: options.db,
      now,
      qboClientFor,
      pageBudget: { ...defaultPageBudget, pages: pagesPerActivity },
      ...(metrics ? { meter: metrics.meter } : {}),
    }),
    maxCachedWorkflows,
    reuseV8Context,
  });
  const metricsServer = metrics && metricsPort !== undefined ? await serveMetrics(metrics, metricsPort) : undefined;
  const running = worker.run();
  return {
    worker,
    running,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await metricsServer?.close();
      if (!options.connection) await connection.close();
    },
  };
}
