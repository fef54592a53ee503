import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asSync } from './crm-rules.js';
import { createTestDatabase, type TestDatabase } from '../test/database.js';
import { isoDate } from './dates.js';
import { listLinkedDocuments } from './repositories/qbo-links.js';

// Issue 12, point 10: DATE columns are calendar dates. A process east of UTC (Auckland, +13 in
// January) once read 2000-01-01 as 1999-12-31, and one west of it (Los Angeles) must not read the
// next day either.

describe('calendar dates whatever the time zone of the process', () => {
  let testDb: TestDatabase;
  const zone = process.env['TZ'];

  beforeAll(async () => {
    testDb = await createTestDatabase();
    await testDb.db.insertInto('tenants').values({ id: 'dates', name: 'Dates', start_date: '2000-01-01' }).execute();
  });

  afterEach(() => {
    if (zone === undefined) delete process.env['TZ'];
    else process.env['TZ'] = zone;
  });

  afterAll(async () => {
    await testDb?.drop();
  });

  for (const tz of ['Pacific/Auckland', 'America/Los_Angeles', 'UTC']) {
    it(`reads a DATE column as the same YYYY-MM-DD under TZ=${tz}`, async () => {
      process.env['TZ'] = tz;
      const row = await testDb.db
        .selectFrom('tenants')
        .select('start_date')
        .where('id', '=', 'dates')
        .executeTakeFirstOrThrow();
      expect(row.start_date).toBe('2000-01-01');
      expect(isoDate(row.start_date)).toBe('2000-01-01');
    });
  }

  it('keeps a document date the same in the repositories under TZ=Pacific/Auckland', async () => {
    process.env['TZ'] = 'Pacific/Auckland';
    const { db } = testDb;
    const opportunity = await asSync(db, async (trx) => {
      const account = await trx
        .insertInto('accounts')
        .values({ tenant_id: 'dates', company_name: 'Dates Inc.', language: 'en' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const created = await trx
        .insertInto('opportunities')
        .values({
          tenant_id: 'dates',
          account_id: account.id,
          source_entity: 'Invoice',
          title: 'Invoice 1',
          txn_date: '2024-03-01',
          expected_close_date: '2024-03-31',
          stage: 'won',
          stage_label: 'Won',
          probability: '100',
          total_before_tax: '10.00',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('qbo_links')
        .values({
          tenant_id: 'dates',
          realm_id: '1',
          entity_type: 'Invoice',
          qbo_id: '7',
          account_id: null,
          opportunity_id: created.id,
          product_id: null,
          revenue_category_id: null,
          parent_qbo_id: null,
          sync_token: '0',
          qbo_last_updated_time: '2024-03-01T10:00:00-08:00',
          qbo_updated_at: '2024-03-01T18:00:00Z',
        })
        .execute();
      return created;
    });
    expect(await listLinkedDocuments(db, { tenantId: 'dates', realmId: '1' }, 'Invoice')).toEqual([
      { qboId: '7', txnDate: '2024-03-01' },
    ]);
    const row = await db
      .selectFrom('opportunities')
      .select(['txn_date', 'expected_close_date'])
      .where('id', '=', opportunity.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ txn_date: '2024-03-01', expected_close_date: '2024-03-31' });
  });
});
