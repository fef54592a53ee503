/**
 * scale-out: 1, 2 and 3 `qbsync worker` processes on one task queue backfill --tenants companies
 * (each round its own simulator and database), against a Temporal server that persists to
 * PostgreSQL, the production topology: Temporal's own server, built from go.temporal.io/server at
 * the version the Temporal CLI embeds (bench/build-temporal-server.sh), its schema set up by its
 * temporal-sql-tool (bench/temporal-postgres.sh) in databases of its own on the PostgreSQL that the
 * tests use. Without those binaries the run says why and uses the dev server (temporal=dev).
 *
 * Prints records_per_s_N per worker count, duplicate_pages (CRM rows without exactly one link and
 * list entry after every round: a page written twice beyond Temporal's at-least-once retries, which
 * must be idempotent) and throttled_429 (the simulator's refusals for its per-company limits: the
 * shared per-realm limiter must keep them at 0).
 *
 *   npm run bench -- scale-out [--tenants N] [--customers N] [--transactions N] [--workers 1,2,3] [--temporal postgres|dev]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'kysely';
import { searchAttributeTypes } from '../common/search-attributes.js';
import { dropDatabase, portAnswers, withDatabase } from '../db/postgres.js';
import { duplicateCounts } from '../test/duplicate-counts.js';
import { startTestTemporal, temporalCliPath } from '../test/global-setup.js';
import { testServerUrl } from '../test/database.js';
import { repoRoot } from '../test/cli.js';
import { startQboFixture } from '../test/onboarding-helpers.js';
import {
  connectTenants,
  figuresLine,
  inBatches,
  sleep,
  startTenantWorkflows,
  startWorkerProcess,
  tailOf,
  terminateTenantWorkflows,
  waitForPasses,
  workerEnvironment,
  type WorkerProcess,
} from './support.js';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '200' },
    customers: { type: 'string', default: '100' },
    transactions: { type: 'string', default: '400' },
    workers: { type: 'string', default: '1,2,3' },
    temporal: { type: 'string', default: 'postgres' },
  },
});
const tenantCount = Number(values.tenants);
const workerCounts = values.workers.split(',').map(Number);
const began = Date.now();
const say = (line: string) => console.log(`[${((Date.now() - began) / 1000).toFixed(0)} s] ${line}`);
const buildDir = path.join(repoRoot, '.data', 'temporal-server-build');

interface TemporalUnderTest {
  readonly address: string;
  readonly kind: 'postgres' | 'dev';
  stop(): Promise<void>;
}

/** Runs a command to its end, throwing with its output when it fails. */
function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0) {
    throw new Error(
      `${path.basename(command)} ${args.join(' ')} failed (${result.status ?? result.signal}): ${tailOf(`${result.stdout}\n${result.stderr}`)}`,
    );
  }
  return result.stdout;
}

/**
 * Temporal's server on two fresh PostgreSQL databases: schema by temporal-sql-tool, a config
 * of free loopback ports, the `default` namespace and qbsync's search attributes registered with
 * the CLI (the dev server does both at start).
 */
async function startTemporalOnPostgres(): Promise<TemporalUnderTest> {
  const server = path.join(buildDir, 'server');
  const sqlTool = path.join(buildDir, 'sql');
  if (!existsSync(server) || !existsSync(sqlTool)) {
    throw new Error(`no Temporal server build in ${buildDir}: run sh bench/build-temporal-server.sh`);
  }
  const pg = new URL(testServerUrl);
  const suffix = Date.now().toString(36);
  const database = `temporal_bench_${suffix}`;
  const visibility = `temporal_bench_visibility_${suffix}`;
  run('sh', [
    path.join(repoRoot, 'bench', 'temporal-postgres.sh'),
    sqlTool,
    pg.hostname,
    pg.port || '5432',
    decodeURIComponent(pg.username) || 'postgres',
    database,
    visibility,
  ]);
  const ports: number[] = [];
  while (ports.length < 9) {
    const port = await lowFreePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const [frontend, frontendHttp, ...rest] = ports as [number, number, ...number[]];
  const service = (grpcPort: number, membershipPort: number, extra = '') =>
    `    rpc: { grpcPort: ${grpcPort}, membershipPort: ${membershipPort}, bindOnLocalHost: true${extra} }`;
  const store = (name: string, maxConns: number) => `    ${name}:
      sql:
        pluginName: postgres12
        databaseName: ${name === 'default' ? database : visibility}
        connectAddr: '${pg.hostname}:${pg.port || '5432'}'
        connectProtocol: tcp
        user: '${decodeURIComponent(pg.username) || 'postgres'}'
        password: '${decodeURIComponent(pg.password)}'
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: 1h`;
  const root = mkdtempSync(path.join(os.tmpdir(), 'qbsync-temporal-pg-'));
  mkdirSync(path.join(root, 'config'));
  writeFileSync(
    path.join(root, 'config', 'bench.yaml'),
    `log: { stdout: true, level: warn }
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
${store('default', 20)}
${store('visibility', 10)}
global:
  membership: { maxJoinDuration: 30s, broadcastAddress: 127.0.0.1 }
services:
  frontend:
${service(frontend, rest[0]!, `, httpPort: ${frontendHttp}`)}
  history:
${service(rest[1]!, rest[2]!)}
  matching:
${service(rest[3]!, rest[4]!)}
  worker:
${service(rest[5]!, rest[6]!)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active: { enabled: true, initialFailoverVersion: 1, rpcName: frontend, rpcAddress: '127.0.0.1:${frontend}' }
dcRedirectionPolicy: { policy: noop }
`,
  );
  const child = spawn(server, ['--root', root, '--config', 'config', '--env', 'bench', '--allow-no-auth', 'start'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  const address = `127.0.0.1:${frontend}`;
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    rmSync(root, { recursive: true, force: true });
    await dropDatabase(withDatabase(testServerUrl, database)).catch(() => undefined);
    await dropDatabase(withDatabase(testServerUrl, visibility)).catch(() => undefined);
  };
  try {
    for (let waited = 0; !(await portAnswers('127.0.0.1', frontend, 500)); waited += 250) {
      if (child.exitCode !== null || waited > 120_000)
        throw new Error(`the Temporal server did not start: ${tailOf(output)}`);
      await sleep(250);
    }
    const cli = temporalCliPath();
    await retry(
      () =>
        run(cli, [
          'operator',
          'namespace',
          'create',
          '--address',
          address,
          '--namespace',
          'default',
          '--retention',
          '1d',
        ]),
      /already/,
    );
    for (const [name, type] of Object.entries(searchAttributeTypes)) {
      await retry(
        () =>
          run(cli, [
            'operator',
            'search-attribute',
            'create',
            '--address',
            address,
            '--namespace',
            'default',
            '--name',
            name,
            '--type',
            type,
          ]),
        /already/,
      );
    }
    return { address, kind: 'postgres', stop };
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\nthe server's last output:\n${tailOf(output)}`);
  }
}

/**
 * A free port under 32768: Temporal keeps membership ports in a smallint column, and the kernel
 * hands out ephemeral ports from 32768 up.
 */
async function lowFreePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** Retries a CLI call while the new server settles (its namespace cache refreshes every few seconds). */
async function retry(call: () => unknown, done: RegExp): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      call();
      return;
    } catch (error) {
      if (done.test(String(error))) return;
      if (attempt >= 60) throw error;
      await sleep(1_000);
    }
  }
}

let temporal: TemporalUnderTest;
if (values.temporal === 'postgres') {
  try {
    temporal = await startTemporalOnPostgres();
  } catch (error) {
    say(`Temporal on PostgreSQL is not available, so this run uses the dev server: ${(error as Error).message}`);
    const dev = await startTestTemporal();
    temporal = { address: dev.address, kind: 'dev', stop: () => dev.stop() };
  }
} else {
  const dev = await startTestTemporal();
  temporal = { address: dev.address, kind: 'dev', stop: () => dev.stop() };
}
say(`Temporal (${temporal.kind}) at ${temporal.address}`);

const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
const figures: Record<string, string | number> = { temporal: temporal.kind, tenants: tenantCount };
let duplicates = 0;
let refused = 0;
try {
  for (const workers of workerCounts) {
    const fixture = await startQboFixture(
      {
        companies: tenantCount,
        customers: Number(values.customers),
        transactions: Number(values.transactions),
        items: 20,
        seed: 7,
        warmCache: false,
      },
      {},
      { limited: true },
    );
    const taskQueue = `bench-scale-out-${workers}-${Date.now()}`;
    const processes: WorkerProcess[] = [];
    let tenantIds: string[] = [];
    try {
      tenantIds = await connectTenants(fixture, `w${workers}`);
      for (let n = 0; n < workers; n++) {
        processes.push(await startWorkerProcess(workerEnvironment(fixture, temporal.address, taskQueue)));
      }
      const started = Date.now();
      await startTenantWorkflows(client, fixture, taskQueue, tenantIds, 3600);
      let looks = 0;
      await waitForPasses(fixture.database.db, tenantIds, 'backfill', 1, {
        timeoutMs: 3_600_000,
        tick: () => {
          if (++looks % 60 === 0)
            say(`${workers} worker(s): backfilling for ${((Date.now() - started) / 1000).toFixed(0)} s`);
          const dead = processes.find((worker) => worker.child.exitCode !== null);
          if (dead) throw new Error(`a worker exited: ${tailOf(dead.output())}`);
        },
      });
      const totals = await sql<{ records: number; finished: Date }>`
        SELECT sum((counts->>'written')::int + (counts->>'unchanged')::int + (counts->>'deleted')::int)::int AS records,
               max(finished_at) AS finished
        FROM sync_passes WHERE kind = 'backfill' AND status = 'succeeded'`.execute(fixture.database.db);
      const { records, finished } = totals.rows[0]!;
      const seconds = (finished.getTime() - started) / 1000;
      let roundDuplicates = 0;
      await inBatches(tenantIds, 10, async (tenantId) => {
        roundDuplicates += (await duplicateCounts(fixture.database.db, tenantId)).duplicates;
      });
      const roundRefused = fixture.sim.sim.rateLimiter.refused();
      duplicates += roundDuplicates;
      refused += roundRefused;
      figures[`records_per_s_${workers}`] = (records / seconds).toFixed(0);
      say(
        `${workers} worker(s): ${records} records in ${seconds.toFixed(1)} s = ${(records / seconds).toFixed(0)} records/s; ${roundDuplicates} duplicates, ${roundRefused} answered 429`,
      );
    } finally {
      await terminateTenantWorkflows(client, tenantIds);
      for (const worker of processes) await worker.kill();
      await fixture.stop();
    }
  }
  console.log(figuresLine({ ...figures, duplicate_pages: duplicates, throttled_429: refused }));
} finally {
  await client.connection.close();
  await temporal.stop();
}
