import { sql, type Transaction } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/database.js';
import { rowsReadInTransaction } from '../../test/table-reads.js';
import { asSync } from '../crm-rules.js';
import type { Database } from '../schema.js';
import { findLinks, findLinkTargets, type LinkTarget, type QboLink } from './qbo-links.js';

const realm = { tenantId: 'links', realmId: '9341' };
const linkCount = 5000;

/**
 * A backfill reads links while it fills their table, so the planner's statistics describe a table
 * far smaller than the one it reads. What a lookup reads must follow the ids it asks for, not the
 * size of the company.
 */
describe('link lookups read only the links asked for (R23: performance at any size)', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    const { db } = testDb;
    await db.insertInto('tenants').values({ id: realm.tenantId, name: 'Links', start_date: '2024-01-01' }).execute();
    const addCustomers = (from: number, to: number) =>
      asSync(db, async (trx) => {
        await sql`
          INSERT INTO accounts (tenant_id, company_name, language)
          SELECT ${realm.tenantId}, 'Customer ' || g, 'fr' FROM generate_series(${from}::int, ${to}::int) g`.execute(
          trx,
        );
        await sql`
          INSERT INTO qbo_links (tenant_id, realm_id, entity_type, qbo_id, account_id, sync_token, qbo_last_updated_time, qbo_updated_at)
          SELECT tenant_id, ${realm.realmId}, 'Customer', substring(company_name from 10), id, '0', '2026-01-01T00:00:00Z', now()
          FROM accounts WHERE tenant_id = ${realm.tenantId} AND substring(company_name from 10)::int BETWEEN ${from}::int AND ${to}::int`.execute(
          trx,
        );
      });
    // Statistics taken early in the backfill, when the table held the items only (the first
    // entity read), then thousands of customers: the planner believes there are none.
    await asSync(db, async (trx) => {
      await sql`
        INSERT INTO products (tenant_id, code) SELECT ${realm.tenantId}, 'P' || g FROM generate_series(1, 20) g`.execute(
        trx,
      );
      await sql`
        INSERT INTO qbo_links (tenant_id, realm_id, entity_type, qbo_id, product_id, sync_token, qbo_last_updated_time, qbo_updated_at)
        SELECT tenant_id, ${realm.realmId}, 'Item', code, id, '0', '2026-01-01T00:00:00Z', now()
        FROM products WHERE tenant_id = ${realm.tenantId}`.execute(trx);
    });
    await sql`ANALYZE qbo_links`.execute(db);
    await addCustomers(1, linkCount);
  });
  afterAll(async () => testDb?.drop());

  const rowsFetchedBy = (read: (trx: Transaction<Database>) => Promise<unknown>) =>
    rowsReadInTransaction(testDb.db, 'qbo_links', read);

  it('findLinkTargets and findLinks (locking or not) fetch one link per id, whatever the statistics say', async () => {
    const wanted = ['17', '4242', '3000', '17', 'no-such-id'];
    let targets = new Map<string, LinkTarget>();
    expect(
      await rowsFetchedBy(async (trx) => {
        targets = await findLinkTargets(trx, realm, 'Customer', wanted);
      }),
    ).toBeLessThanOrEqual(3);
    expect([...targets.keys()].sort()).toEqual(['17', '3000', '4242']);

    for (const lock of [false, true]) {
      let links = new Map<string, QboLink>();
      expect(
        await rowsFetchedBy(async (trx) => {
          links = await findLinks(trx, realm, 'Customer', wanted, { lock });
        }),
      ).toBeLessThanOrEqual(3);
      expect([...links.keys()].sort()).toEqual(['17', '3000', '4242']);
      expect(links.get('4242')?.account_id).toBe(targets.get('4242')?.account_id);
      expect(links.get('4242')?.account_id).toEqual(expect.any(Number));
    }
  });

  it('finds nothing for ids of another entity or realm', async () => {
    expect((await findLinkTargets(testDb.db, realm, 'Invoice', ['17'])).size).toBe(0);
    expect((await findLinks(testDb.db, { ...realm, realmId: 'other' }, 'Customer', ['17'])).size).toBe(0);
    expect((await findLinks(testDb.db, realm, 'Customer', [])).size).toBe(0);
  });
});
