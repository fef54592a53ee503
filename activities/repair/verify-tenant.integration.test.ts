import { MockActivityEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncedEntities } from '../../common/sync-types.js';
import { asSync } from '../../db/crm-rules.js';
import { connectedTenant, startQboFixture, type QboFixture } from '../../test/onboarding-helpers.js';
import { createQboClientForTenant } from '../qbo/qbo-auth.js';
import { createSyncActivities } from '../sync/sync.activities.js';
import { verifyTenant } from './verify-tenant.js';

/**
 * Verify compares a page at a time (issue 16: a tenant of a million records must not be held in
 * memory, by `qbsync verify` or by the worker's full reconcile, R21). Small pages and link reads make
 * a small company cross many of each, so what one page cannot see (a customer referred to from
 * another page, a CRM row whose QBO record is gone) is still found.
 */
describe('R25 / R21 / issue 16: verify a page at a time', () => {
  let fixture: QboFixture;
  const tenantId = 'verify-pages';
  const env = new MockActivityEnvironment();
  const run = <I, O>(activity: (input: I) => Promise<O>, input: I): Promise<O> => env.run(activity, input);
  const verify = async (options: { pageSize?: number; linksPerRead?: number } = {}) =>
    verifyTenant(fixture.database.db, await createQboClientForTenant(fixture.deps, tenantId), tenantId, options);
  const small = { pageSize: 25, linksPerRead: 7 };

  beforeAll(async () => {
    fixture = await startQboFixture({ customers: 60, transactions: 160, items: 12, seed: 23 });
    await connectedTenant(fixture, tenantId);
    const activities = createSyncActivities({
      db: fixture.database.db,
      now: () => new Date(),
      qboClientFor: (id) => createQboClientForTenant(fixture.deps, id),
    });
    const pass = await run(activities.beginSyncPass, { tenantId, kind: 'backfill' });
    for (const entity of syncedEntities) {
      for (;;) {
        const result = await run(activities.syncEntityPage, {
          tenantId,
          entity,
          until: pass.until,
          overlap: false,
        });
        if (result.done) break;
      }
    }
  });
  afterAll(async () => fixture?.stop());

  it('finds nothing after a backfill, and counts what one read of whole pages counts', async () => {
    const whole = await verify();
    const paged = await verify(small);
    expect(paged.records).toEqual([]);
    expect(paged.counts).toEqual(whole.counts);
    for (const entity of syncedEntities) expect(paged.counts[entity].qbo).toBeGreaterThan(0);
    // More records of several entities than a small page holds, and more links than a small read.
    expect(paged.counts.Customer.crm).toBeGreaterThan(small.pageSize);
    expect(paged.counts.Invoice.crm + paged.counts.Estimate.crm).toBeGreaterThan(small.pageSize);
  });

  it('finds a difference on a late page, a CRM row whose QBO record is gone and a record the CRM lacks', async () => {
    const { db } = fixture.database;
    const links = (entity: 'Customer' | 'Invoice') =>
      db
        .selectFrom('qbo_links')
        .select(['qbo_id', 'account_id', 'opportunity_id'])
        .where('tenant_id', '=', tenantId)
        .where('entity_type', '=', entity)
        .where('parent_qbo_id', 'is', null)
        .orderBy(sql`qbo_id::int`, 'desc')
        .execute();
    const [lastInvoice, secondInvoice] = await links('Invoice');
    const [lastCustomer] = await links('Customer');
    await asSync(db, async (trx) => {
      await trx
        .updateTable('opportunities')
        .set({ title: 'changed behind the sync' })
        .where('id', '=', lastInvoice!.opportunity_id!)
        .execute();
      await trx
        .updateTable('accounts')
        .set({ company_name: 'changed behind the sync' })
        .where('id', '=', lastCustomer!.account_id!)
        .execute();
      // Its link now names a QBO id no invoice has: that row is extra, and the invoice is missing.
      await trx
        .updateTable('qbo_links')
        .set({ qbo_id: 'gone-9999' })
        .where('tenant_id', '=', tenantId)
        .where('entity_type', '=', 'Invoice')
        .where('qbo_id', '=', secondInvoice!.qbo_id)
        .execute();
    });

    const whole = await verify();
    const paged = await verify(small);
    const byKind = (report: typeof paged) =>
      report.records.map(({ entity, qboId, kind, fields }) => ({ entity, qboId, kind, fields }));
    expect(byKind(paged)).toEqual(
      expect.arrayContaining([
        { entity: 'Invoice', qboId: lastInvoice!.qbo_id, kind: 'different', fields: ['title'] },
        { entity: 'Customer', qboId: lastCustomer!.qbo_id, kind: 'different', fields: ['companyName'] },
        { entity: 'Invoice', qboId: 'gone-9999', kind: 'extra', fields: [] },
        { entity: 'Invoice', qboId: secondInvoice!.qbo_id, kind: 'missing', fields: [] },
      ]),
    );
    expect({ missing: paged.missing, extra: paged.extra, different: paged.different }).toEqual({
      missing: 1,
      extra: 1,
      different: 2,
    });
    expect(byKind(whole)).toEqual(byKind(paged));
  });
});
