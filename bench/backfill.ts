/**
 * backfill: a simulated company (a fifth customers, the rest transactions), a connected tenant, a
 * real `qbsync worker` process (so that its memory is its own), the Temporal dev server and
 * PostgreSQL, with the simulator's limits on (500 requests a minute, 10 at once). Prints the sync's
 * speed, and in the same run the speed of the two things it is made of: a raw fetch of the same
 * records over plain HTTP (1,000 a page, one request at a time, limits off so that it measures the
 * transfer, not the limit) and a raw `unnest` upsert of as many rows into a scratch table (1,000 a
 * statement). Then requests and history per 1,000 records, the worker's peak RSS, and verify.
 *
 *   npm run bench -- backfill [--records N] [--customers N --transactions N] [--continue-as-new-after EVENTS]
 *
 * `memory` and `throttled` run the same measurement (measureBackfill) with other settings.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { sql, type Kysely } from 'kysely';
import { createQboClientForTenant, createTenantTokenSource } from '../activities/qbo/qbo-auth.js';
import { minorVersion } from '../activities/qbo/qbo-client.js';
import { verifyTenant } from '../client/verify.js';
import { syncedEntities } from '../common/sync-types.js';
import { latestSucceededPass } from '../db/repositories/sync-passes.js';
import type { Database } from '../db/schema.js';
import { tenantSyncWorkflowType, tenantWorkflowId } from '../workflows/definitions.js';
import { startTestTemporal } from '../test/global-setup.js';
import { historyFigures } from '../test/history.js';
import { startQboFixture, type QboFixture } from '../test/onboarding-helpers.js';
import {
  connectTenantTo,
  cpuSecondsBetween,
  cpuFloorSeconds,
  cpuSecondsNow,
  figuresLine,
  processMemoryMb,
  type CpuSeconds,
  sleep,
  startWorkerProcess,
  workerEnvironment,
} from './support.js';

export interface BackfillOptions {
  readonly customers: number;
  readonly transactions: number;
  readonly startDate?: string;
  readonly continueAsNewAfterEvents?: number;
  /** Every QBO request answered this much later (the simulator's slow fault), as QBO's own latency. */
  readonly latencyMs?: number;
  /** Also measure the raw fetch and raw upsert of the same data. */
  readonly rawBaselines: boolean;
  /** Extra environment for the worker process (its cache settings, for example). */
  readonly workerEnv?: Record<string, string>;
}

export interface BackfillFigures {
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerS: number;
  readonly requests: number;
  readonly throttled429: number;
  readonly historyBytes: number;
  readonly maxEventsPerRun: number;
  readonly runs: number;
  readonly peakRssMb: number;
  /** CPU seconds each party used during the backfill (this machine's 2 cores give 2 a second). */
  readonly cpu: CpuSeconds;
  /** Rows the sync keeps for the tenant after the backfill: its CRM rows and their links to QBO. */
  readonly syncedRows: number;
  readonly rawFetchPerS?: number;
  readonly rawUpsertPerS?: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
}

/** Records to a company: a fifth customers, the rest transactions (as chaos does). */
export function companyOf(records: number): { customers: number; transactions: number } {
  const customers = Math.round(records / 5);
  return { customers, transactions: records - customers };
}

export async function measureBackfill(options: BackfillOptions, say: (line: string) => void): Promise<BackfillFigures> {
  const server = await startTestTemporal();
  const fixture = await startQboFixture(
    { customers: options.customers, transactions: options.transactions, items: 60, seed: 11 },
    {},
    { limited: true },
  );
  const taskQueue = `bench-backfill-${Date.now()}`;
  const worker = await startWorkerProcess(workerEnvironment(fixture, server.address, taskQueue, options.workerEnv));
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  try {
    await fixture.sim.warmed;
    const tenantId = 'bench';
    const realmId = fixture.sim.realmIds[0]!;
    await connectTenantTo(fixture, tenantId, realmId, options.startDate ?? '2000-01-01');
    if (options.latencyMs) fixture.sim.sim.setFaults(realmId, { rateSlow: 1, slowMs: options.latencyMs });
    fixture.sim.sim.resetApiRequestCounts();
    const refusedBefore = fixture.sim.sim.rateLimiter.refused(realmId);
    say(
      `company: ${options.customers} customers, ${options.transactions} transactions; worker pid ${worker.child.pid}`,
    );

    const started = Date.now();
    const cpuBefore = cpuSecondsNow(worker.child.pid!);
    const handle = await client.workflow.start(tenantSyncWorkflowType, {
      taskQueue,
      workflowId: tenantWorkflowId(tenantId),
      args: [
        {
          tenantId,
          realmId,
          mode: 'two_way',
          pollIntervalSeconds: 3600,
          ...(options.continueAsNewAfterEvents ? { continueAsNewAfterEvents: options.continueAsNewAfterEvents } : {}),
        },
      ],
    });
    let peakRssMb = 0;
    let backfill: Awaited<ReturnType<typeof latestSucceededPass>>;
    for (let looks = 0; ; looks++) {
      peakRssMb = Math.max(peakRssMb, processMemoryMb(worker.child.pid!)?.peak ?? 0);
      backfill = await latestSucceededPass(fixture.database.db, tenantId, 'backfill');
      if (backfill?.finished_at) break;
      if (worker.child.exitCode !== null) throw new Error(`the worker exited: ${worker.output().slice(-2000)}`);
      if (looks % 60 === 59) say(`backfilling for ${((Date.now() - started) / 1000).toFixed(0)} s`);
      await sleep(500);
    }
    const cpu = cpuSecondsBetween(cpuBefore, cpuSecondsNow(worker.child.pid!));
    // Read at once: the incremental pass that follows a backfill adds a request or two.
    const requests = fixture.sim.sim.apiRequestCount(realmId);
    const throttled429 = fixture.sim.sim.rateLimiter.refused(realmId) - refusedBefore;
    fixture.sim.sim.setFaults(realmId, {});
    const seconds = (backfill.finished_at!.getTime() - started) / 1000;
    const counts = backfill.counts as { written: number; unchanged: number; deleted: number };
    const records = counts.written + counts.unchanged + counts.deleted;
    const history = await historyFigures(client, handle.workflowId);
    await handle.terminate('the backfill benchmark has measured it');
    const syncedRows = await syncedRowCount(fixture.database.db, tenantId);
    peakRssMb = Math.max(peakRssMb, processMemoryMb(worker.child.pid!)?.peak ?? 0);
    say(
      `backfill: ${records} records in ${seconds.toFixed(1)} s = ${(records / seconds).toFixed(0)} records/s; worker peak RSS ${peakRssMb.toFixed(0)} MiB`,
    );
    say(
      `CPU during the backfill: worker ${cpu.worker.toFixed(1)} s, simulator and benchmark ${cpu.simulator.toFixed(1)} s, PostgreSQL ${cpu.postgres.toFixed(1)} s, Temporal ${cpu.temporal.toFixed(1)} s (in ${seconds.toFixed(1)} s on ${os.availableParallelism()} cores: at least ${cpuFloorSeconds(cpu).toFixed(1)} s had no party waited for another)`,
    );
    say(`rows kept: ${syncedRows} (CRM rows and links), ${(syncedRows / records).toFixed(2)} a record`);
    say(
      `requests: ${requests} (${throttled429} answered 429); history: ${history.runs} run(s), at most ${history.maxEventsPerRun} events in a run, ${history.totalBytes} bytes`,
    );

    const verifyStarted = Date.now();
    const report = await verifyTenant(
      fixture.database.db,
      await createQboClientForTenant(fixture.deps, tenantId),
      tenantId,
    );
    say(
      `verify: ${report.missing} missing, ${report.extra} extra, ${report.different} different, in ${((Date.now() - verifyStarted) / 1000).toFixed(1)} s`,
    );
    let raw: { rawFetchPerS: number; rawUpsertPerS: number } | undefined;
    if (options.rawBaselines) {
      const fetched = await rawFetch(fixture, tenantId, realmId);
      say(
        `raw fetch: ${fetched.records.length} records in ${fetched.seconds.toFixed(1)} s (${fetched.requests} requests)`,
      );
      const upsertSeconds = await rawUpsert(fixture.database.db, fetched.records, records);
      say(`raw upsert: ${records} rows in ${upsertSeconds.toFixed(1)} s`);
      raw = { rawFetchPerS: fetched.records.length / fetched.seconds, rawUpsertPerS: records / upsertSeconds };
    }
    return {
      records,
      seconds,
      recordsPerS: records / seconds,
      requests,
      throttled429,
      historyBytes: history.totalBytes,
      maxEventsPerRun: history.maxEventsPerRun,
      runs: history.runs,
      peakRssMb,
      cpu,
      syncedRows,
      ...raw,
      missing: report.missing,
      extra: report.extra,
      different: report.different,
    };
  } finally {
    await worker.kill();
    await client.connection.close();
    await fixture.stop();
    await server.stop();
  }
}

/**
 * Rows the sync keeps for a tenant: the CRM's rows of every synced table and the links to QBO. The
 * raw upsert the ratio divides by writes one narrow row a record; the sync writes these.
 */
async function syncedRowCount(db: Kysely<Database>, tenantId: string): Promise<number> {
  const tables = [
    'accounts',
    'contacts',
    'list_members',
    'products',
    'revenue_categories',
    'opportunities',
    'opportunity_lines',
    'qbo_links',
  ] as const;
  let total = 0;
  for (const table of tables) {
    const { rows } = await sql<{ n: string }>`
      SELECT count(*) AS n FROM ${sql.table(table)} WHERE tenant_id = ${tenantId}`.execute(db);
    total += Number(rows[0]!.n);
  }
  return total;
}

type RawRecord = Record<string, unknown> & { Id: string; entity: string };

/**
 * Every synced entity read over plain HTTP, 1,000 records a request, one request at a time and
 * each answer parsed: what reading the company costs without the sync around it. The limits are
 * off meanwhile (the sync has just spent the minute's budget), so this is the transfer's speed.
 */
async function rawFetch(
  fixture: QboFixture,
  tenantId: string,
  realmId: string,
): Promise<{ records: RawRecord[]; seconds: number; requests: number }> {
  const { sim } = fixture.sim;
  const token = await createTenantTokenSource(fixture.deps, tenantId).current();
  const wasLimited = sim.rateLimitsEnabled;
  sim.rateLimitsEnabled = false;
  const records: RawRecord[] = [];
  let requests = 0;
  const started = Date.now();
  try {
    for (const entity of syncedEntities) {
      const active = entity === 'Customer' || entity === 'Item' ? ' WHERE Active IN (true, false)' : '';
      for (let position = 1; ; position += 1000) {
        const statement = `SELECT * FROM ${entity}${active} STARTPOSITION ${position} MAXRESULTS 1000`;
        const url = `${fixture.sim.baseUrl}/v3/company/${realmId}/query?query=${encodeURIComponent(statement)}&minorversion=${minorVersion}`;
        const response = await fetch(url, {
          headers: { Accept: 'application/json', Authorization: `Bearer ${token}` },
        });
        requests += 1;
        if (!response.ok) throw new Error(`raw fetch: HTTP ${response.status} for ${statement}`);
        const body = (await response.json()) as { QueryResponse: Record<string, unknown> };
        const page = (body.QueryResponse[entity] ?? []) as RawRecord[];
        for (const record of page) records.push({ ...record, entity });
        if (page.length < 1000) break;
      }
    }
  } finally {
    sim.rateLimitsEnabled = wasLimited;
  }
  return { records, seconds: (Date.now() - started) / 1000, requests };
}

/**
 * `rows` rows upserted into a scratch table with one `INSERT … SELECT FROM unnest(…) ON CONFLICT`
 * per 1,000, each its own transaction, made from the fetched records (reused with new keys when
 * the sync counted more records than the raw fetch read).
 */
async function rawUpsert(db: Kysely<Database>, fetched: readonly RawRecord[], rows: number): Promise<number> {
  await sql`CREATE TABLE bench_raw_upsert (
    entity text NOT NULL, qbo_id text NOT NULL, name text, amount numeric(15,2), updated_at timestamptz,
    sync_token integer, PRIMARY KEY (entity, qbo_id))`.execute(db);
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  const started = Date.now();
  for (let first = 0; first < rows; first += 1000) {
    const batch = Array.from({ length: Math.min(1000, rows - first) }, (_, offset) => {
      const index = first + offset;
      const record = fetched[index % fetched.length]!;
      const round = Math.floor(index / fetched.length);
      return {
        entity: record.entity,
        id: round === 0 ? record.Id : `${record.Id}-${round}`,
        name: text(record['DisplayName']) ?? text(record['Name']) ?? text(record['DocNumber']),
        amount: typeof record['TotalAmt'] === 'number' ? record['TotalAmt'] : null,
        updatedAt: text((record['MetaData'] as Record<string, unknown> | undefined)?.['LastUpdatedTime']),
        syncToken: Number(record['SyncToken'] ?? 0),
      };
    });
    await sql`
      INSERT INTO bench_raw_upsert (entity, qbo_id, name, amount, updated_at, sync_token)
      SELECT * FROM unnest(${batch.map((r) => r.entity)}::text[], ${batch.map((r) => r.id)}::text[],
                           ${batch.map((r) => r.name)}::text[], ${batch.map((r) => r.amount)}::numeric[],
                           ${batch.map((r) => r.updatedAt)}::timestamptz[], ${batch.map((r) => r.syncToken)}::int[])
      ON CONFLICT (entity, qbo_id) DO UPDATE
        SET name = excluded.name, amount = excluded.amount, updated_at = excluded.updated_at,
            sync_token = excluded.sync_token`.execute(db);
  }
  const seconds = (Date.now() - started) / 1000;
  await sql`DROP TABLE bench_raw_upsert`.execute(db);
  return seconds;
}

/** Whether this module is the benchmark being run (memory and throttled import it). */
export function isBenchmark(moduleUrl: string): boolean {
  return process.argv[1] === fileURLToPath(moduleUrl);
}

if (isBenchmark(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '100000' },
      customers: { type: 'string' },
      transactions: { type: 'string' },
      'start-date': { type: 'string', default: '2000-01-01' },
      'continue-as-new-after': { type: 'string' },
    },
  });
  const company =
    values.customers !== undefined || values.transactions !== undefined
      ? { customers: Number(values.customers ?? 0), transactions: Number(values.transactions ?? 0) }
      : companyOf(Number(values.records));
  if (!(company.customers + company.transactions > 0))
    throw new Error('--records (or --customers/--transactions) must be positive');
  const figures = await measureBackfill(
    {
      ...company,
      startDate: values['start-date'],
      ...(values['continue-as-new-after'] ? { continueAsNewAfterEvents: Number(values['continue-as-new-after']) } : {}),
      rawBaselines: true,
    },
    (line) => console.log(line),
  );
  const perThousand = (value: number) => ((value / figures.records) * 1000).toFixed(2);
  const smallerRaw = Math.min(figures.rawFetchPerS!, figures.rawUpsertPerS!);
  const cpuCeiling = figures.records / cpuFloorSeconds(figures.cpu);
  console.log(
    figuresLine({
      records: figures.records,
      records_per_s: figures.recordsPerS.toFixed(0),
      raw_fetch_per_s: figures.rawFetchPerS!.toFixed(0),
      raw_upsert_per_s: figures.rawUpsertPerS!.toFixed(0),
      ratio: (figures.recordsPerS / smallerRaw).toFixed(3),
      requests_per_1k: perThousand(figures.requests),
      history_bytes_per_1k: ((figures.historyBytes / figures.records) * 1000).toFixed(0),
      max_events_per_run: figures.maxEventsPerRun,
      peak_rss_mb: figures.peakRssMb.toFixed(0),
      throttled_429: figures.throttled429,
      cpu_s_worker: figures.cpu.worker.toFixed(1),
      cpu_s_simulator: figures.cpu.simulator.toFixed(1),
      cpu_s_postgres: figures.cpu.postgres.toFixed(1),
      cpu_s_temporal: figures.cpu.temporal.toFixed(1),
      cpu_floor_s: cpuFloorSeconds(figures.cpu).toFixed(1),
      records_per_s_cpu_ceiling: cpuCeiling.toFixed(0),
      ratio_cpu_ceiling: (cpuCeiling / smallerRaw).toFixed(3),
      crm_rows_per_record: (figures.syncedRows / figures.records).toFixed(2),
      missing: figures.missing,
      extra: figures.extra,
      different: figures.different,
    }),
  );
}
