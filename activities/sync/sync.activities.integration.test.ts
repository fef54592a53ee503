import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailureType } from '../../common/failure-types.js';
import { syncedEntities } from '../../common/sync-types.js';
import { createDb } from '../../db/connection.js';
import { createQboClientForTenant } from '../qbo/qbo-auth.js';
import { connectedTenant, startQboFixture, type QboFixture } from '../../test/onboarding-helpers.js';
import { emptyCounts } from './crm-writer.js';
import { createSyncActivities, type SyncActivities } from './sync.activities.js';

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
