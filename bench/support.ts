/**
 * What the fault benchmarks share: a private PostgreSQL cluster they may stop and start, a real
 * `qbsync worker` process they may kill, the duplicate check, the sync-now pass that settles a
 * company, and the closing `key=value` line.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { authorizeUrl, connectTenant } from '../activities/qbo/qbo-auth.js';
import { portAnswers } from '../db/postgres.js';
import type { Database } from '../db/schema.js';
// Types only: test/database.ts reads TEST_DATABASE_URL when it loads, which chaos sets first.
import type { QboFixture } from '../test/onboarding-helpers.js';
import { syncNowUpdate, tenantSyncWorkflowType, tenantWorkflowId } from '../workflows/definitions.js';
import { cliEnv, cliPath, repoRoot } from '../test/cli.js';
import { workerMallocArenaMax, workerNodeFlags } from '../worker/v8-settings.js';

export type PgStopMode = 'fast' | 'immediate';

export interface PrivatePostgres {
  /** The cluster's maintenance database, to hand to TEST_DATABASE_URL. */
  readonly url: string;
  readonly port: number;
  stop(mode: PgStopMode): void;
  start(): Promise<void>;
  /** Stops the cluster (immediately) and removes its files. */
  destroy(): void;
}

/** The newest installed server's bin folder (Debian keeps them under /usr/lib/postgresql/<major>/bin). */
function postgresBinFolder(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((name) => existsSync(path.join(root, name, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) throw new Error(`no PostgreSQL server binaries under ${root}/*/bin`);
  return path.join(root, majors[0]!, 'bin');
}

/**
 * A throw-away cluster of its own, so that stopping it disturbs nobody else's databases. initdb
 * refuses to run as root: as root, the cluster belongs to the `postgres` user, and its folder is
 * made that user's so it can enter it.
 */
export async function startPrivatePostgres(port: number): Promise<PrivatePostgres> {
  const bin = postgresBinFolder();
  const folder = mkdtempSync(path.join(os.tmpdir(), 'qbsync-bench-pg-'));
  const dataDir = path.join(folder, 'data');
  const logFile = path.join(folder, 'server.log');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    if (!Number.isInteger(uid) || !Number.isInteger(gid))
      throw new Error('running as root, but there is no postgres user');
    chownSync(folder, uid, gid);
    chmodSync(folder, 0o700);
  }
  const run = (tool: string, args: readonly string[]) => {
    const command = asRoot ? 'runuser' : path.join(bin, tool);
    const fullArgs = asRoot ? ['-u', 'postgres', '--', path.join(bin, tool), ...args] : [...args];
    const result = spawnSync(command, fullArgs, { cwd: folder, encoding: 'utf8' });
    if (result.status !== 0)
      throw new Error(
        `${tool} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr}` +
          (existsSync(logFile) ? `\nserver log:\n${tailOf(readFileSync(logFile, 'utf8'))}` : ''),
      );
  };
  run('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  const options = `-p ${port} -k ${folder} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  const start = async () => {
    run('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', options, '-w', '-t', '120', 'start']);
    for (let waited = 0; !(await portAnswers('127.0.0.1', port, 500)); waited += 100) {
      if (waited > 60_000) throw new Error(`the private PostgreSQL did not answer on port ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: (mode) => run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '120', 'stop']),
    start,
    destroy() {
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // Already stopped.
      }
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** The last lines of a process's output, for a report after something went wrong. */
export function tailOf(text: string, lines = 20): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** A `qbsync worker` process, as an operator runs it. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Everything it printed (the last 64 KB). */
  output(): string;
  /** Resolves with the exit code or signal when it exits. */
  readonly exited: Promise<string>;
  kill(): Promise<void>;
}

export function startWorkerProcess(env: Record<string, string>, readyTimeoutMs = 180_000): Promise<WorkerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...workerNodeFlags, cliPath, 'worker'], { cwd: repoRoot, env: cliEnv(env) });
    let output = '';
    let ready = false;
    const exited = new Promise<string>((resolveExit) =>
      child.once('exit', (code, signal) => resolveExit(String(code ?? signal))),
    );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`qbsync worker was not polling within ${readyTimeoutMs} ms: ${tailOf(output)}`));
    }, readyTimeoutMs);
    const handle: WorkerProcess = {
      child,
      output: () => output,
      exited,
      async kill() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-65_536);
      if (!ready && output.includes('Worker polling')) {
        ready = true;
        clearTimeout(timer);
        resolve(handle);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((how) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`qbsync worker exited (${how}) before polling: ${tailOf(output)}`));
    });
  });
}

/** Asks for a pass and waits for it; a run that continued as new before the pass ended is asked again. */
export async function passNow(handle: () => WorkflowHandle): Promise<{ outcome: string; lastError: string | null }> {
  for (;;) {
    const result = await handle().executeUpdate(syncNowUpdate, { args: [{ reason: 'bench', wait: true }] });
    if (result.outcome !== 'requested') return { outcome: result.outcome, lastError: result.lastError };
  }
}

/** Retries a call that fails while a server it needs is being restarted. */
export async function retrying<T>(what: string, call: () => Promise<T>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} kept failing for ${timeoutMs} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The closing line: space-separated key=value pairs, one line, for scripts to read. */
export function figuresLine(figures: Record<string, string | number>): string {
  return Object.entries(figures)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

/** A process's resident set now and at its peak (Linux: VmRSS and VmHWM), in MiB; undefined once it exited. */
export function processMemoryMb(pid: number): { rss: number; peak: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** CPU seconds (user + system) used so far by each party to a benchmark on this machine. */
export interface CpuSeconds {
  readonly worker: number;
  /** This process: the simulator (QuickBooks's stand-in) and the benchmark's own polling. */
  readonly simulator: number;
  /** Every PostgreSQL process on the machine (the dev server keeps Temporal's history in SQLite). */
  readonly postgres: number;
  readonly temporal: number;
}

const clockTicksPerSecond = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of a /proc/PID/stat line, in clock ticks, and its command name. */
function processTicks(pid: string): { command: string; ticks: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // it exited meanwhile
  }
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  return { command: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) };
}

/**
 * Reads /proc: where a benchmark's CPU went, so that a speed can be set against what the machine's
 * cores gave each party. Two readings' difference is what each used in between.
 */
export function cpuSecondsNow(workerPid: number): CpuSeconds {
  let postgres = 0;
  let temporal = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const entry = processTicks(pid);
    if (entry?.command === 'postgres') postgres += entry.ticks;
    else if (entry?.command === 'temporal') temporal += entry.ticks;
  }
  const own = process.cpuUsage();
  return {
    worker: (processTicks(String(workerPid))?.ticks ?? 0) / clockTicksPerSecond,
    simulator: (own.user + own.system) / 1e6,
    postgres: postgres / clockTicksPerSecond,
    temporal: temporal / clockTicksPerSecond,
  };
}

export function cpuSecondsBetween(before: CpuSeconds, after: CpuSeconds): CpuSeconds {
  return {
    worker: after.worker - before.worker,
    simulator: after.simulator - before.simulator,
    postgres: after.postgres - before.postgres,
    temporal: after.temporal - before.temporal,
  };
}

/**
 * The least wall time the CPU a run used allows on this machine's cores: every party's CPU seconds
 * over the cores, as if none of them ever waited for another. A speed above records ÷ this is out
 * of reach on this machine without taking CPU off one of the parties.
 */
export function cpuFloorSeconds(cpu: CpuSeconds, cores = os.availableParallelism()): number {
  return (cpu.worker + cpu.simulator + cpu.postgres + cpu.temporal) / cores;
}

/** What a `qbsync worker` process needs to sync tenants of a simulator into a fixture's database. */
export function workerEnvironment(
  fixture: QboFixture,
  temporalAddress: string,
  taskQueue: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: fixture.database.url,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_TASK_QUEUE: taskQueue,
    QBO_CLIENT_ID: fixture.sim.clientId,
    QBO_CLIENT_SECRET: fixture.sim.clientSecret,
    QBO_API_BASE_URL: fixture.sim.baseUrl,
    QBO_OAUTH_BASE_URL: fixture.sim.baseUrl,
    QBSYNC_TOKEN_KEY: Buffer.from(fixture.deps.tokenKey).toString('base64'),
    QBSYNC_LOG_LEVEL: 'warn',
    // As the worker image sets it (Dockerfile): glibc reads it only when the process starts.
    MALLOC_ARENA_MAX: workerMallocArenaMax,
    ...extra,
  };
}

/** A tenant connected through the simulator's consent to one of its companies. */
export async function connectTenantTo(
  fixture: QboFixture,
  tenantId: string,
  realmId: string,
  startDate: string,
): Promise<void> {
  await fixture.database.db
    .insertInto('tenants')
    .values({ id: tenantId, name: `Tenant ${tenantId}`, start_date: startDate })
    .execute();
  const response = await fetch(`${authorizeUrl(fixture.deps.oauth, tenantId)}&realmId=${encodeURIComponent(realmId)}`, {
    redirect: 'manual',
  });
  const location = response.headers.get('location');
  if (response.status !== 302 || !location) throw new Error(`consent did not redirect (HTTP ${response.status})`);
  const connected = await connectTenant(fixture.deps, tenantId, location);
  if (connected.realmId !== realmId)
    throw new Error(`tenant ${tenantId} got company ${connected.realmId}, not ${realmId}`);
}

/** Waits until every tenant has `atLeast` succeeded passes of a kind; calls `tick` between looks. */
export async function waitForPasses(
  db: Kysely<Database>,
  tenantIds: readonly string[],
  kind: 'backfill' | 'incremental',
  atLeast: number | ((tenantId: string) => number),
  options: { readonly timeoutMs: number; readonly tick?: () => void },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    // Other people's tests restart the shared PostgreSQL now and then: a failed look is looked again.
    const passes = await retrying('counting passes', () => passCounts(db, kind));
    const behind = tenantIds.filter(
      (id) => (passes.get(id) ?? 0) < (typeof atLeast === 'number' ? atLeast : atLeast(id)),
    );
    if (behind.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${behind.length} tenant(s) still without their ${kind} pass, e.g. ${behind.slice(0, 3).join(', ')}`,
      );
    }
    options.tick?.();
    await sleep(500);
  }
}

/** Succeeded passes of a kind per tenant. */
export async function passCounts(db: Kysely<Database>, kind: 'backfill' | 'incremental'): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('sync_passes')
    .select(['tenant_id', (eb) => eb.fn.countAll<string>().as('passes')])
    .where('kind', '=', kind)
    .where('status', '=', 'succeeded')
    .groupBy('tenant_id')
    .execute();
  return new Map(rows.map((row) => [row.tenant_id, Number(row.passes)]));
}

/** One family of a Prometheus text exposition, summed over its label sets (counters end in _total). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match?.[1] === name) sum += Number(match[3]);
  }
  return sum;
}

/** Runs `work` over `items`, `width` at a time. */
export async function inBatches<T>(
  items: readonly T[],
  width: number,
  work: (item: T, index: number) => Promise<unknown>,
): Promise<void> {
  for (let first = 0; first < items.length; first += width) {
    await Promise.all(items.slice(first, first + width).map((item, offset) => work(item, first + offset)));
  }
}

/** One tenant per company of the simulator (`<prefix>-0001`, …), connected through consent, every record in scope. */
export async function connectTenants(fixture: QboFixture, prefix: string): Promise<string[]> {
  const realmIds = fixture.sim.realmIds;
  const tenantIds = realmIds.map((_, index) => `${prefix}-${String(index + 1).padStart(4, '0')}`);
  await inBatches(tenantIds, 20, (tenantId, index) =>
    connectTenantTo(fixture, tenantId, realmIds[index]!, '2000-01-01'),
  );
  return tenantIds;
}

/** Starts the workflows of tenants from connectTenants (the n-th on the simulator's n-th company). */
export async function startTenantWorkflows(
  client: Client,
  fixture: QboFixture,
  taskQueue: string,
  tenantIds: readonly string[],
  pollIntervalSeconds: number,
): Promise<void> {
  await inBatches(tenantIds, 50, (tenantId, index) =>
    client.workflow.start(tenantSyncWorkflowType, {
      taskQueue,
      workflowId: tenantWorkflowId(tenantId),
      args: [{ tenantId, realmId: fixture.sim.realmIds[index]!, mode: 'two_way', pollIntervalSeconds }],
    }),
  );
}

/** Ends the tenants' workflows (a benchmark's clean-up; one already ended is fine). */
export async function terminateTenantWorkflows(client: Client, tenantIds: readonly string[]): Promise<void> {
  await inBatches(tenantIds, 50, (tenantId) =>
    client.workflow
      .getHandle(tenantWorkflowId(tenantId))
      .terminate('the benchmark ended')
      .catch(() => undefined),
  );
}
