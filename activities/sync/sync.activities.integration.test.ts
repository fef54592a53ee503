import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailureType } from '../../common/failure-types.js';
import { syncedEntities } from '../../common/sync-types.js';
import { createDb } from '../../db/connection.js';
import { countDeferredSubCustomers } from '../../db/repositories/deferred-sub-customers.js';
import { verifyTenant } from '../../client/verify.js';
import { connectTenant, createQboClientForTenant } from '../qbo/qbo-auth.js';
import { QboError } from '../qbo/qbo-errors.js';
import {
  connectedTenant,
  consent,
  createTenant,
  startQboFixture,
  type QboFixture,
} from '../../test/onboarding-helpers.js';

import { emptyCounts } from './crm-writer.js';
import { readCursor } from '../../db/repositories/sync-cursors.js';
import { settleLagMs } from './paging-planner.js';
import { createSyncActivities, type SyncActivities, type SyncDeps } from './sync.activities.js';

describe('sync activities against the simulator and PostgreSQL', () => {
  let fixture: QboFixture;
  let activities: SyncActivities;
  let realmId: string;
  const tenantId = 'paging-activities';
  const env = new MockActivityEnvironment();
  const run = <I, O>(activity: (input: I) => Promise<O>, input: I): Promise<O> => env.run(activity, input);
  const requests = () => fixture.sim.sim.apiRequestCount(realmId);

  beforeAll(async () => {
    fixture = await startQboFixture({ customers: 40, transactions: 80, items: 10, seed: 7 });
    ({ realmId } = await connectedTenant(fixture, tenantId));
    activities = createSyncActivities({
      db: fixture.database.db,
      now: () => new Date(),
      qboClientFor: (id) => createQboClientForTenant(fixture.deps, id),
    });
  });
  afterAll(async () => fixture?.stop());

  it('an incremental pass before any backfill opens a pass to read by query, in one request', async () => {
    const before = requests();
    const result = await run(activities.incrementalPass, { tenantId });
    expect(requests() - before).toBe(1);
    expect(result).toMatchObject({ kind: 'by-query', reason: 'an entity has never been read' });
    const pass = await fixture.database.db
      .selectFrom('sync_passes')
      .select(['status', 'kind'])
      .where('id', '=', result.passId)
      .executeTakeFirstOrThrow();
    expect(pass).toEqual({ status: 'running', kind: 'incremental' });
    const finished = await run(activities.finishSyncPass, {
      passId: result.passId,
      status: 'cancelled',
      counts: emptyCounts(),
    });
    expect(finished).toEqual({ openErrors: 0 });
  });

  it('a backfill reads every entity page by page up to the pass end', async () => {
    const pass = await run(activities.beginSyncPass, { tenantId, kind: 'backfill' });
    let written = 0;
    for (const entity of syncedEntities) {
      for (let page = 0; ; page += 1) {
        expect(page).toBeLessThan(50);
        const result = await run(activities.syncEntityPage, {
          tenantId,
          entity,
          until: pass.until,
          overlap: false,
        });
        written += result.counts.written;
        if (result.done) break;
      }
    }
    expect(written).toBeGreaterThan(50);
    const finished = await run(activities.finishSyncPass, {
      passId: pass.passId,
      status: 'succeeded',
      counts: { ...emptyCounts(), written },
    });
    expect(finished.openErrors).toBeGreaterThanOrEqual(0);
  });

  it('an idle incremental pass is one CDC request, committed with its finished pass row', async () => {
    const before = requests();
    const result = await run(activities.incrementalPass, { tenantId });
    expect(requests() - before).toBe(1);
    expect(fixture.sim.sim.apiRequestCount(realmId, 'cdc')).toBe(1);
    if (result.kind !== 'applied') throw new Error(`expected CDC to serve the pass: ${result.reason}`);
    const pass = await fixture.database.db
      .selectFrom('sync_passes')
      .selectAll()
      .where('id', '=', result.passId)
      .executeTakeFirstOrThrow();
    expect(pass).toMatchObject({ status: 'succeeded', kind: 'incremental', counts: result.counts });
    expect(pass.finished_at).not.toBeNull();
    const cursors = await fixture.database.db
      .selectFrom('sync_cursors')
      .select('cursor_at')
      .where('tenant_id', '=', tenantId)
      .execute();
    expect(cursors.map((row) => row.cursor_at.toISOString())).toEqual(syncedEntities.map(() => result.cursor));
  });

  it('an incremental pass applies an edit made in QBO', async () => {
    const customer = (
      fixture.sim.sim.adminState(realmId) as { entities: Record<string, Array<{ Id: string; Job?: boolean }>> }
    ).entities['Customer']!.find((record) => !record.Job)!;
    fixture.sim.sim.adminEditCustomer(realmId, customer.Id, { CompanyName: 'Renamed in QBO' });
    const result = await run(activities.incrementalPass, { tenantId });
    expect(result).toMatchObject({ kind: 'applied' });
    expect(result.kind === 'applied' && result.counts.written).toBeGreaterThanOrEqual(1);
    const account = await fixture.database.db
      .selectFrom('accounts')
      .select('company_name')
      .where('company_name', '=', 'Renamed in QBO')
      .executeTakeFirst();
    expect(account).toBeDefined();
  });

  it('a database that cannot be reached fails as DatabaseUnavailable, retryable', async () => {
    const unreachable = createDb({ url: 'postgres://postgres@127.0.0.1:9/none' });
    try {
      const down = createSyncActivities({
        db: unreachable,
        now: () => new Date(),
        qboClientFor: (id) => createQboClientForTenant(fixture.deps, id),
      });
      await expect(
        run(down.finishSyncPass, { passId: 1, status: 'failed', counts: emptyCounts() }),
      ).rejects.toMatchObject({ type: FailureType.DatabaseUnavailable, nonRetryable: false });
    } finally {
      await unreachable.destroy();
    }
  });
});

describe('a record QBO returns damaged (no usable Id)', () => {
  let fixture: QboFixture;
  const tenantId = 'damaged-records';

  beforeAll(async () => {
    fixture = await startQboFixture({ customers: 40, transactions: 80, items: 10, seed: 11 });
  });
  afterAll(async () => fixture?.stop());

  it('goes to the error table with its entity, field and place, and the rest of the backfill lands', async () => {
    const { realmId } = await connectedTenant(fixture, tenantId);
    const { sim } = fixture.sim;
    const state = sim.adminState(realmId) as {
      entities: Record<string, Array<{ Id: string; Job?: boolean; Type?: string; TxnDate?: string }>>;
    };
    const customer = state.entities['Customer']!.find((c) => !c.Job)!;
    // An invoice on or after the tenant's start date, which a backfill reads.
    const invoice = state.entities['Invoice']!.find((i) => (i.TxnDate ?? '') >= '2024-06-01')!;
    const product = state.entities['Item']!.find((i) => i.Type !== 'Category')!;
    sim.adminCorrupt(realmId, 'Customer', customer.Id, 'missing', { field: 'Id' });
    sim.adminCorrupt(realmId, 'Invoice', invoice.Id, 'wrongType', { field: 'Id' });
    sim.adminCorrupt(realmId, 'Item', product.Id, 'missing', { field: 'Id' });
    // Damage is an edit, made now: a pass reads up to its settle lag before now.
    await new Promise((resolve) => setTimeout(resolve, settleLagMs + 1_000));

    const env = new MockActivityEnvironment();
    const run = <I, O>(activity: (input: I) => Promise<O>, input: I): Promise<O> => env.run(activity, input);
    const activities = createSyncActivities({
      db: fixture.database.db,
      now: () => new Date(),
      qboClientFor: (id) => createQboClientForTenant(fixture.deps, id),
    });
    const pass = await run(activities.beginSyncPass, { tenantId, kind: 'backfill' });
    let failed = 0;
    for (const entity of syncedEntities) {
      for (let page = 0; ; page += 1) {
        expect(page).toBeLessThan(20);
        const result = await run(activities.syncEntityPage, {
          tenantId,
          entity,
          until: pass.until,
          overlap: false,
        });
        failed += result.counts.failed;
        if (result.done) break;
      }
    }

    const errors = await fixture.database.db
      .selectFrom('sync_errors')
      .select(['entity_type', 'qbo_id', 'error_type', 'field', 'message'])
      .where('tenant_id', '=', tenantId)
      .where('resolved_at', 'is', null)
      .where('field', '=', 'Id')
      .orderBy('entity_type')
      .execute();
    const window = /element \d+ of the \w+ query of LastUpdatedTime \d{4}-\d\d-\d\dT[\d:]+\.\.\d{4}-/;
    expect(errors).toEqual([
      {
        entity_type: 'Customer',
        qbo_id: expect.stringMatching(/^#\d+@\d{4}-\d\d-\d\dT[\d:]+$/) as string,
        error_type: 'MappingError',
        field: 'Id',
        message: expect.stringMatching(
          new RegExp(`^is missing \\(QBO returned this Customer damaged: ${window.source}`),
        ) as string,
      },
      {
        // wrongType makes the Id the number 12345: as near to an id as the record gives.
        entity_type: 'Invoice',
        qbo_id: '12345',
        error_type: 'MappingError',
        field: 'Id',
        message: expect.stringMatching(
          /^must be a non-empty string, got a number \(12345\) \(QBO returned this Invoice/,
        ) as string,
      },
      {
        entity_type: 'Item',
        qbo_id: expect.stringMatching(/^#\d+@\d{4}-\d\d-\d\dT[\d:]+$/) as string,
        error_type: 'MappingError',
        field: 'Id',
        message: expect.stringMatching(window) as string,
      },
    ]);
    expect(failed).toBeGreaterThanOrEqual(3);

    // Everything else landed: verify finds no difference beyond the records in error.
    const report = await verifyTenant(
      fixture.database.db,
      await createQboClientForTenant(fixture.deps, tenantId),
      tenantId,
    );
    expect(report.records).toEqual([]);
  });
});

describe('a page activity retried after a failed request', () => {
  let fixture: QboFixture;
  const tenantId = 'paging-resume';
  let realmId: string;
  /** Requests the wrapped client made; the one numbered failAt (1-based) fails as a QBO 5xx would. */
  let asked = 0;
  let failAt = 0;
  /** Of those, the count(*) requests. */
  let counted = 0;
  /** Page reads (queries by LastUpdatedTime) the wrapped client made; the one numbered failPageAt fails. */
  let pageReads = 0;
  let failPageAt = 0;

  beforeAll(async () => {
    fixture = await startQboFixture({ customers: 40, transactions: 80, items: 10, seed: 7 });
    ({ realmId } = await connectedTenant(fixture, tenantId));
  });
  afterAll(async () => fixture?.stop());

  const runIn = <I, O>(env: MockActivityEnvironment, activity: (input: I) => Promise<O>, input: I): Promise<O> =>
    env.run(activity, input);

  function activitiesWithFlakyClient(paging: Pick<SyncDeps, 'pageBudget' | 'pageSize'> = {}): SyncActivities {
    return createSyncActivities({
      ...paging,
      db: fixture.database.db,
      now: () => new Date(),
      qboClientFor: async (id) => {
        const client = await createQboClientForTenant(fixture.deps, id);
        const flaky =
          <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
          async (...args: A): Promise<R> => {
            asked += 1;
            if (asked === failAt) throw new QboError(FailureType.QboServerFault, 'injected: 503 on this request');
            return call(...args);
          };
        const count = flaky(client.count.bind(client));
        return {
          ...client,
          count: (...args: Parameters<typeof count>) => {
            counted += 1;
            return count(...args);
          },
          query: flaky(async (query: Parameters<typeof client.query>[0]) => {
            if (query.orderBy?.field === 'MetaData.LastUpdatedTime') {
              pageReads += 1;
              if (pageReads === failPageAt) throw new QboError(FailureType.QboServerFault, 'injected: 503 on a page');
            }
            return client.query(query);
          }),
        };
      },
    });
  }

  it('R23: goes on from the request that failed, kept in its heartbeat, and writes the page once with no count', async () => {
    const activities = activitiesWithFlakyClient();
    const pass = await runIn(new MockActivityEnvironment(), activities.beginSyncPass, {
      tenantId,
      kind: 'backfill' as const,
    });
    const input = { tenantId, entity: 'Invoice' as const, until: pass.until, overlap: false };

    const first = new MockActivityEnvironment();
    let checkpoint: unknown;
    first.on('heartbeat', (details: unknown) => (checkpoint = details));
    asked = 0;
    counted = 0;
    failAt = 1; // the page's one read fails
    await expect(runIn(first, activities.syncEntityPage, input)).rejects.toThrow(/injected/);
    expect(checkpoint).toMatchObject({ entity: 'Invoice', step: { kind: 'request', request: { kind: 'read' } } });

    const retry = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: checkpoint });
    failAt = 0;
    const page = await runIn(retry, activities.syncEntityPage, input);
    // A page is one read by LastUpdatedTime: no count(*) in either attempt.
    expect(counted).toBe(0);
    expect(page.counts.written).toBeGreaterThan(0);
    expect(page.done).toBe(true);

    // A checkpoint made from another cursor is stale: the page is planned afresh.
    const stale = new MockActivityEnvironment({ attempt: 3, heartbeatDetails: checkpoint });
    counted = 0;
    asked = 0;
    const again = await runIn(stale, activities.syncEntityPage, input);
    expect(again.window).toBe('up to date');
    expect(asked).toBe(0);
  });

  it('R23 / issue 16: an activity of several pages that dies after committing some reports them all on its retry, each record once', async () => {
    const activities = activitiesWithFlakyClient({ pageSize: 10, pageBudget: { pages: 100, milliseconds: 60_000 } });
    const pass = await runIn(new MockActivityEnvironment(), activities.beginSyncPass, {
      tenantId,
      kind: 'backfill' as const,
    });
    const input = { tenantId, entity: 'Customer' as const, until: pass.until, overlap: false };
    const inWindow = await runIn(new MockActivityEnvironment(), activities.estimateEntityTotal, input);
    expect(inWindow).toBeGreaterThan(20);
    const info = { activityId: 'customers-1', workflowExecution: { workflowId: 'wf', runId: 'run' } };

    const first = new MockActivityEnvironment({ ...info, attempt: 1 });
    let checkpoint: unknown;
    first.on('heartbeat', (details: unknown) => (checkpoint = details));
    pageReads = 0;
    failPageAt = 3; // two pages of 10 read; the third read fails while the second page is written
    await expect(runIn(first, activities.syncEntityPage, input)).rejects.toThrow(/injected/);
    const committed = await readCursor(fixture.database.db, { tenantId, realmId }, 'Customer');
    expect(committed?.tally?.total.written).toBeGreaterThan(0);

    failPageAt = 0;
    const retry = new MockActivityEnvironment({ ...info, attempt: 2, heartbeatDetails: checkpoint });
    const result = await runIn(retry, activities.syncEntityPage, input);
    expect(result.done).toBe(true);
    // Every customer of the window counted once, those of the pages the first attempt committed included.
    const { written, unchanged, failed } = result.counts;
    expect(written + unchanged + failed).toBe(inWindow);

    // The next activity of the same pass starts from the pass's total: nothing left, nothing counted twice.
    const next = await runIn(
      new MockActivityEnvironment({ ...info, activityId: 'customers-2', attempt: 1 }),
      activities.syncEntityPage,
      input,
    );
    expect(next.counts).toEqual(emptyCounts());
  });
});

describe('issue 16: the requests of a backfill', () => {
  let fixture: QboFixture;
  let activities: SyncActivities;
  let realmId: string;
  const tenantId = 'backfill-requests';
  const env = new MockActivityEnvironment();
  const run = <I, O>(activity: (input: I) => Promise<O>, input: I): Promise<O> => env.run(activity, input);
  const requests = () => fixture.sim.sim.apiRequestCount(realmId);

  beforeAll(async () => {
    fixture = await startQboFixture({ customers: 2_500, transactions: 20, items: 10, seed: 5 });
    // From a start date before any record: every customer is in the read, three pages of them.
    await createTenant(fixture, tenantId, '2000-01-01');
    ({ realmId } = await connectTenant(fixture.deps, tenantId, await consent(fixture)));
    activities = createSyncActivities({
      // A page an activity, so that the sub-customers waiting can be counted between pages.
      pageBudget: { pages: 1, milliseconds: 60_000 },
      db: fixture.database.db,
      now: () => new Date(),
      qboClientFor: (id) => createQboClientForTenant(fixture.deps, id),
    });
  });
  afterAll(async () => fixture?.stop());

  it("issue 16: a backfill's pass start is one request: QBO's clock and every entity's estimate in one batch", async () => {
    const before = requests();
    const pass = await run(activities.beginSyncPass, { tenantId, kind: 'backfill' });
    expect(requests() - before).toBe(1);
    expect(Object.keys(pass.estimates ?? {}).sort()).toEqual([...syncedEntities].sort());
    for (const entity of syncedEntities) {
      const alone = await run(activities.estimateEntityTotal, { tenantId, entity, until: pass.until });
      expect(pass.estimates?.[entity]).toBe(alone);
    }
    expect(pass.estimates?.Customer).toBe(2_500);
    const finished = await run(activities.finishSyncPass, {
      passId: pass.passId,
      status: 'cancelled',
      counts: emptyCounts(),
    });
    expect(finished.openErrors).toBe(0);
  });

  it('issue 16: sub-customers read pages before their parent cost no request: the Customer read is one request a page', async () => {
    const pass = await run(activities.beginSyncPass, { tenantId, kind: 'backfill' });
    const before = requests();
    let pages = 0;
    let mostWaiting = 0;
    for (let done = false; !done; pages += 1) {
      expect(pages).toBeLessThan(10);
      const page = await run(activities.syncEntityPage, {
        tenantId,
        entity: 'Customer',
        until: pass.until,
        overlap: false,
      });
      done = page.done;
      mostWaiting = Math.max(mostWaiting, await countDeferredSubCustomers(fixture.database.db, { tenantId, realmId }));
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    // The case arose: jobs were read pages before their parent.
    expect(mostWaiting).toBeGreaterThan(0);
    // Every parent is in the read (the start date is before any record): nothing is left to read at the end.
    expect(requests() - before).toBe(pages);
    expect(await countDeferredSubCustomers(fixture.database.db, { tenantId, realmId })).toBe(0);

    const state = fixture.sim.sim.adminState(realmId) as {
      entities: Record<string, Array<{ Id: string; Job?: boolean }>>;
    };
    const jobs = state.entities['Customer']!.filter((record) => record.Job).map((record) => record.Id);
    const linkedJobs = await fixture.database.db
      .selectFrom('qbo_links')
      .select('qbo_id')
      .where('tenant_id', '=', tenantId)
      .where('entity_type', '=', 'Customer')
      .where('parent_qbo_id', 'is not', null)
      .execute();
    expect(linkedJobs.map((row) => row.qbo_id).sort()).toEqual(jobs.sort());
    const missing = await fixture.database.db
      .selectFrom('sync_errors')
      .select('qbo_id')
      .where('tenant_id', '=', tenantId)
      .where('error_type', '=', 'MissingReference')
      .execute();
    expect(missing).toEqual([]);
  });
});
