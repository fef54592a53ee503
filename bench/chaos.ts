/**
 * chaos: a backfill of --records records (a fifth customers, the rest transactions) while users
 * keep editing the company (single edits every second, deactivations, deletions, and two
 * same-second bursts), during which a real `qbsync worker` process is SIGKILLed --kills times at
 * random moments mid-page and started again, the Temporal dev server is restarted once (its
 * history kept in a SQLite file) and PostgreSQL is restarted once. PostgreSQL is a private cluster
 * (initdb into a temporary folder, its own port), never the machine's shared server.
 *
 * --pg-stop-mode is fast or immediate; by default the seed picks it (even: fast, odd: immediate),
 * so runs with different seeds cover both: `--pg-stop-mode immediate` forces a crash-style stop.
 *
 * At the end: one more pass past the bursts' seconds, verify at 0/0/0, and 0 duplicates.
 *
 * Each strike waits for the worker it hits to be in a new page, and a killed worker's page waits
 * out its 10-second heartbeat timeout, so a strike costs about 15 s and lets 3,000 to 6,000
 * records through: 120,000 records (the default) leave room for 20 kills and both restarts, where
 * 100,000 sometimes finish first. A run that ends before all its strikes fails and says so.
 *
 *   npx tsx bench/chaos.ts [--records N] [--kills N] [--seed N] [--pg-stop-mode fast|immediate]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import protos from '@temporalio/proto';
import { connectTenant, createQboClientForTenant } from '../activities/qbo/qbo-auth.js';
import { verifyTenant } from '../client/verify.js';
import type { TenantStatus } from '../common/sync-types.js';
import { latestSucceededPass } from '../db/repositories/sync-passes.js';
import { Prng } from '../sandbox/index.js';
import type { RunningDevServer } from '../worker/temporal-server.js';
import { statusQuery, tenantSyncWorkflowType, tenantWorkflowId } from '../workflows/definitions.js';
import { freePort, startTestTemporal } from '../test/global-setup.js';
import { duplicateCounts } from '../test/duplicate-counts.js';
import type { CompanyRecord } from '../test/tenant-harness.js';
import {
  figuresLine,
  passNow,
  retrying,
  sleep,
  startPrivatePostgres,
  startWorkerProcess,
  tailOf,
  type PgStopMode,
  type WorkerProcess,
} from './support.js';

const { temporal } = protos;

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '120000' },
    kills: { type: 'string', default: '20' },
    seed: { type: 'string' },
    'pg-stop-mode': { type: 'string' },
    'max-kill-delay-ms': { type: 'string', default: '3000' },
  },
});
const records = Number(values.records);
const plannedKills = Number(values.kills);
const seed = values.seed === undefined ? Math.floor(Math.random() * 1_000_000) : Number(values.seed);
const maxKillDelayMs = Number(values['max-kill-delay-ms']);
const stopModeOption = values['pg-stop-mode'];
if (stopModeOption !== undefined && stopModeOption !== 'fast' && stopModeOption !== 'immediate')
  throw new Error('--pg-stop-mode is fast or immediate');
const pgStopMode: PgStopMode = stopModeOption ?? (seed % 2 === 0 ? 'fast' : 'immediate');
if (!(records >= 100) || !Number.isInteger(plannedKills) || plannedKills < 0 || !Number.isInteger(seed))
  throw new Error('--records must be at least 100, --kills a whole number and --seed an integer');
const customers = Math.round(records / 5);
const transactions = records - customers;
const rng = new Prng(seed);
const began = Date.now();
const elapsed = () => `${((Date.now() - began) / 1000).toFixed(0)} s`;
const say = (line: string) => console.log(`[${elapsed()}] ${line}`);

// Whatever was started is stopped again, last first: a bench that fails must not leave a
// PostgreSQL cluster or a Temporal server behind. On Ctrl-C the run is still going, so the
// processes are killed at once (synchronously) rather than stopped in turn.
const cleanups: (() => Promise<unknown> | void)[] = [];
const onInterrupt: (() => void)[] = [];
async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.warn(`cleaning up: ${(error as Error).message}`);
    }
  }
}
process.once('SIGINT', () => {
  for (const kill of onInterrupt.reverse()) kill();
  process.exit(130);
});

let exitCode = 1;
try {
  const pg = await startPrivatePostgres(await freePort());
  cleanups.push(() => pg.destroy());
  onInterrupt.push(() => pg.destroy());
  // test/database.ts reads TEST_DATABASE_URL when it loads: the fixture's database goes to the
  // private cluster only if it is imported after this.
  process.env['TEST_DATABASE_URL'] = pg.url;
  const { consent, createTenant, startQboFixture } = await import('../test/onboarding-helpers.js');
  const temporalFolder = mkdtempSync(path.join(os.tmpdir(), 'qbsync-bench-temporal-'));
  cleanups.push(() => rmSync(temporalFolder, { recursive: true, force: true }));
  onInterrupt.push(() => rmSync(temporalFolder, { recursive: true, force: true }));
  const temporalPort = await freePort();
  const startTemporal = () => startTestTemporal(path.join(temporalFolder, 'temporal.db'), temporalPort);
  let server: RunningDevServer = await startTemporal();
  cleanups.push(() => server.stop());
  onInterrupt.push(() => server.process.kill('SIGKILL'));
  say(
    `company: ${customers} customers, ${transactions} transactions; seed ${seed}; PostgreSQL on port ${pg.port} (stop mode ${pgStopMode}); Temporal on ${server.address}`,
  );

  const fixture = await startQboFixture({ customers, transactions, items: 60, seed }, {}, { limited: true });
  cleanups.push(() => fixture.stop());
  const { sim } = fixture.sim;
  const tenantId = 'chaos';
  const taskQueue = `chaos-${Date.now()}`;
  await createTenant(fixture, tenantId, '2000-01-01');
  const { realmId } = await connectTenant(fixture.deps, tenantId, await consent(fixture));
  const workerEnv = {
    DATABASE_URL: fixture.database.url,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    QBO_CLIENT_ID: sim.clientId,
    QBO_CLIENT_SECRET: sim.clientSecret,
    QBO_API_BASE_URL: fixture.sim.baseUrl,
    QBO_OAUTH_BASE_URL: fixture.sim.baseUrl,
    QBSYNC_TOKEN_KEY: Buffer.from(fixture.deps.tokenKey).toString('base64'),
  };
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  cleanups.push(() => client.connection.close());
  const handle = () => client.workflow.getHandle(tenantWorkflowId(tenantId));
  cleanups.push(() =>
    handle()
      .terminate('the chaos bench ended')
      .catch(() => undefined),
  );
  const status = () => retrying('the status query', () => handle().query(statusQuery));

  let worker: WorkerProcess = await startWorkerProcess(workerEnv);
  cleanups.push(() => worker.kill());
  onInterrupt.push(() => worker.child.kill('SIGKILL'));
  let kills = 0;
  let temporalRestarts = 0;
  let pgRestarts = 0;
  /** Worker exits nobody asked for. */
  let workerDeaths = 0;
  let stalls = 0;
  const edits = { single: 0, deactivated: 0, deleted: 0, burst: 0 };
  let editing: NodeJS.Timeout | undefined;

  /** Restarts the worker when it died on its own (a strike or a defect), saying how it ended. */
  async function keepWorkerAlive(): Promise<void> {
    if (worker.child.exitCode === null && worker.child.signalCode === null) return;
    const how = await worker.exited;
    workerDeaths += 1;
    say(`the worker exited on its own (${how}); its last lines:\n${tailOf(worker.output(), 40)}`);
    worker = await startWorkerProcess(workerEnv);
  }

  /**
   * A page on its first attempt (a new page, not the retry of the last one) started by the worker now
   * running: the page a killed worker held still shows as started until its heartbeat times out.
   */
  async function freshPageRunning(): Promise<boolean> {
    const described = await handle().describe();
    const identity = `${worker.child.pid}@`;
    return (described.raw.pendingActivities ?? []).some(
      (activity) =>
        activity.activityType?.name === 'syncEntityPage' &&
        activity.attempt === 1 &&
        activity.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED &&
        (activity.lastWorkerIdentity ?? '').startsWith(identity),
    );
  }

  /** Waits for the running worker to be in a fresh page, or for the backfill to be over. */
  async function waitForFreshPage(): Promise<void> {
    for (let since = Date.now(), asked = 0; ; asked += 1) {
      await keepWorkerAlive();
      if (await freshPageRunning().catch(() => false)) return;
      if (asked % 40 === 0 && (await status()).phase !== 'backfill') return;
      if (Date.now() - since > 120_000) {
        // A worker alive but idle for two minutes: say so, and give it a new process.
        stalls += 1;
        say(`no page started for 2 minutes; restarting the worker. Its last lines:\n${tailOf(worker.output(), 8)}`);
        await worker.kill();
        worker = await startWorkerProcess(workerEnv);
        since = Date.now();
      }
      await sleep(50);
    }
  }

  /** A user at work in QuickBooks: an edit, now and then a deactivation or a deleted transaction. */
  function startEditing(company: Record<string, CompanyRecord[]>): void {
    const names = (company['Customer'] ?? []).filter((c) => !c.Job && c.Active !== false).map((c) => c.Id);
    const deletable = ['Invoice', 'Estimate', 'SalesReceipt', 'CreditMemo'].flatMap((entity) =>
      (company[entity] ?? []).map((record) => ({ entity, id: record.Id })),
    );
    editing = setInterval(() => {
      try {
        sim.adminEditCustomer(realmId, rng.pick(names), { CompanyName: `Chaos édition ${edits.single}` });
        edits.single += 1;
        if (rng.chance(0.3)) {
          sim.adminSetActive(realmId, 'Customer', rng.pick(names), rng.chance(0.5));
          edits.deactivated += 1;
        }
        if (rng.chance(0.3) && deletable.length > 0) {
          const [doomed] = deletable.splice(rng.int(0, deletable.length - 1), 1);
          sim.adminDelete(realmId, doomed!.entity, doomed!.id);
          edits.deleted += 1;
        }
      } catch (error) {
        say(`an edit was refused: ${(error as Error).message}`);
      }
    }, 1000);
  }

  /** The two bursts: customers while customers are being read, transactions while invoices are. */
  function burstIfDue(current: TenantStatus, bursts: Set<string>): void {
    if (current.phase !== 'backfill') return;
    const size = Math.max(1, Math.min(5000, Math.round(records / 20)));
    if (!bursts.has('Customer') && current.entities.Customer.done > 0) {
      bursts.add('Customer');
      edits.burst += sim.adminBulkEdit(realmId, size, 'Customer').edited.length;
      say(`burst: ${size} customers edited in one second`);
    }
    if (!bursts.has('Invoice') && current.entities.Invoice.done > 0) {
      bursts.add('Invoice');
      edits.burst += sim.adminBulkEdit(realmId, size).edited.length;
      say(`burst: ${size} transactions edited in one second`);
    }
  }

  try {
    const started = Date.now();
    await client.workflow.start(tenantSyncWorkflowType, {
      taskQueue,
      workflowId: tenantWorkflowId(tenantId),
      args: [{ tenantId, realmId, mode: 'two_way', pollIntervalSeconds: 3600 }],
    });
    startEditing((sim.adminState(realmId) as { entities: Record<string, CompanyRecord[]> }).entities);
    const bursts = new Set<string>();
    // The strikes, in order: kills, with the Temporal restart after a third of them and the
    // PostgreSQL restart after two thirds, each at a random moment in a page.
    const strikes: ('kill' | 'temporal' | 'postgres')[] = Array.from({ length: plannedKills }, () => 'kill' as const);
    strikes.splice(Math.round((plannedKills * 2) / 3), 0, 'postgres');
    strikes.splice(Math.round(plannedKills / 3), 0, 'temporal');
    let endedEarly = false;
    for (const strike of strikes) {
      await waitForFreshPage();
      await sleep(rng.int(0, maxKillDelayMs));
      const current = await status();
      burstIfDue(current, bursts);
      if (current.phase !== 'backfill') {
        endedEarly = true;
        say(`the backfill ended before the ${strike} strike: make the company larger (--records)`);
        break;
      }
      if (strike === 'kill') {
        await worker.kill();
        kills += 1;
        worker = await startWorkerProcess(workerEnv);
        say(`kill ${kills}: ${JSON.stringify(doneOf(current))}`);
      } else if (strike === 'temporal') {
        const stopped = Date.now();
        await server.stop();
        await sleep(2000);
        server = await startTemporal();
        temporalRestarts += 1;
        say(`Temporal restarted (down ${((Date.now() - stopped) / 1000).toFixed(1)} s); the worker is ${liveness()}`);
      } else {
        const stopped = Date.now();
        pg.stop(pgStopMode);
        await sleep(2000);
        await pg.start();
        pgRestarts += 1;
        say(
          `PostgreSQL restarted (${pgStopMode}, down ${((Date.now() - stopped) / 1000).toFixed(1)} s); the worker is ${liveness()}`,
        );
      }
    }

    for (;;) {
      await keepWorkerAlive();
      const current = await status();
      burstIfDue(current, bursts);
      if (current.phase === 'incremental' && current.lastPass) break;
      if (Date.now() - started > 3 * 3600_000)
        throw new Error(`the backfill did not finish: ${JSON.stringify(current)}`);
      await sleep(1000);
    }
    const backfill = await retrying('the backfill pass', () =>
      latestSucceededPass(fixture.database.db, tenantId, 'backfill'),
    );
    if (!backfill?.finished_at) throw new Error('no finished backfill pass in sync_passes');
    const backfillSeconds = (backfill.finished_at.getTime() - started) / 1000;
    const counts = backfill.counts as { written: number; unchanged: number; deleted: number };
    const backfilled = counts.written + counts.unchanged + counts.deleted;
    say(`backfill: ${backfilled} records in ${backfillSeconds.toFixed(1)} s`);

    // The users stop; passes read up to a few seconds before QBO's clock, so one more pass is past
    // the last edit's second.
    clearInterval(editing);
    await sleep(6000);
    const settled = await passNow(handle);
    say(`the settling pass ${settled.outcome}${settled.lastError ? `: ${settled.lastError}` : ''}`);
    const report = await verifyTenant(
      fixture.database.db,
      await createQboClientForTenant(fixture.deps, tenantId),
      tenantId,
    );
    const duplicates = await duplicateCounts(fixture.database.db, tenantId);
    const wall = (Date.now() - began) / 1000;
    say(
      `verify: ${report.missing} missing, ${report.extra} extra, ${report.different} different, ${report.failed} failed; ` +
        `first differences: ${JSON.stringify(report.records.slice(0, 5))}`,
    );
    say(`rows: ${JSON.stringify(duplicates)}`);
    say(
      `edits during the run: ${edits.single} single, ${edits.deactivated} (de)activations, ${edits.deleted} deletions, ${edits.burst} in bursts`,
    );
    console.log(
      figuresLine({
        company_records: records,
        records: backfilled,
        seconds: backfillSeconds.toFixed(1),
        records_per_s: (backfilled / backfillSeconds).toFixed(0),
        wall_s: wall.toFixed(0),
        kills,
        temporal_restarts: temporalRestarts,
        pg_restarts: pgRestarts,
        pg_stop_mode: pgStopMode,
        seed,
        worker_deaths: workerDeaths,
        stalls,
        edits: edits.single + edits.deactivated + edits.deleted + edits.burst,
        missing: report.missing,
        extra: report.extra,
        different: report.different,
        failed: report.failed,
        duplicates: duplicates.duplicates,
      }),
    );
    const complete = !endedEarly && kills >= plannedKills && temporalRestarts === 1 && pgRestarts === 1;
    exitCode =
      complete &&
      settled.outcome === 'succeeded' &&
      report.missing + report.extra + report.different + report.failed + duplicates.duplicates === 0
        ? 0
        : 1;
  } finally {
    clearInterval(editing);
  }
  function liveness(): string {
    return worker.child.exitCode === null && worker.child.signalCode === null ? 'still running' : 'gone';
  }

  function doneOf(current: TenantStatus): Record<string, number> {
    return Object.fromEntries(Object.entries(current.entities).map(([entity, progress]) => [entity, progress.done]));
  }
} finally {
  await cleanUp();
}
process.exit(exitCode);
