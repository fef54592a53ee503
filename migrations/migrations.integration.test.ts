import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapQboResponse } from '../activities/mapping/response.js';
import { samplesDir } from '../activities/mapping/samples.js';
import { asSync } from '../db/crm-rules.js';
import { listMigrations, migrateDownAll, migrateDownOne, migrateToLatest } from '../db/migrate.js';
import type { Database } from '../db/schema.js';
import { createTestDatabase, type TestDatabase } from '../test/database.js';

let testDb: TestDatabase;
let db: Kysely<Database>;

beforeAll(async () => {
  testDb = await createTestDatabase({ migrate: false });
  db = testDb.db;
});
afterAll(async () => {
  await testDb?.drop();
});

/** Our objects in the public schema, besides Kysely's own bookkeeping tables. */
async function schemaObjects(): Promise<string[]> {
  const result = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'S') AND c.relname NOT LIKE 'kysely_%'
    UNION ALL
    SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
    ORDER BY 1`.execute(db);
  return result.rows.map((row) => row.name);
}

/** Loads the recorded samples through the mappers into tenant `full`, as the sync would. */
async function fillWithSamples(): Promise<number> {
  const read = (name: string) => JSON.parse(readFileSync(path.join(samplesDir, name), 'utf8')) as unknown;
  const customers = mapQboResponse(read('customer-query.source-nango.json'), { language: 'fr' }).output;
  const invoices = mapQboResponse(read('invoice-query-with-discount.source-nango.json'), { language: 'fr' }).output;
  return asSync(db, async (trx) => {
    await trx.insertInto('tenants').values({ id: 'full', name: 'Full', start_date: '2024-01-01' }).execute();
    const list = await trx.selectFrom('lists').select('id').where('tenant_id', '=', 'full').executeTakeFirstOrThrow();
    const accountByQboId = new Map<string, number>();
    for (const a of customers.accounts) {
      const row = await trx
        .insertInto('accounts')
        .values({
          tenant_id: 'full',
          company_name: a.companyName,
          website: a.website,
          address_lines: a.address.lines,
          city: a.address.city,
          language: 'fr',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      accountByQboId.set(a.qboId, row.id);
      await trx
        .insertInto('list_members')
        .values({ tenant_id: 'full', list_id: list.id, account_id: row.id })
        .execute();
      if (a.primaryContact) {
        await trx
          .insertInto('contacts')
          .values({
            tenant_id: 'full',
            account_id: row.id,
            full_name: a.primaryContact.fullName,
            email: a.primaryContact.email,
            language: 'fr',
          })
          .execute();
      }
    }
    let count = 0;
    for (const o of invoices.opportunities) {
      const accountId = accountByQboId.get(o.customerQboId) ?? accountByQboId.get('7'); // sub-customers roll up (8, 9 → 7)
      if (accountId === undefined) continue;
      const row = await trx
        .insertInto('opportunities')
        .values({
          tenant_id: 'full',
          account_id: accountId,
          source_entity: 'Invoice',
          title: o.title,
          txn_date: o.txnDate,
          stage: o.stage,
          stage_label: o.stageLabel,
          probability: o.probability,
          shipping: o.shipping,
          discount: o.discount,
          total_before_tax: o.totalBeforeTax,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      count++;
      for (const [i, line] of o.lines.entries()) {
        await trx
          .insertInto('opportunity_lines')
          .values({
            tenant_id: 'full',
            opportunity_id: row.id,
            line_number: i + 1,
            product_code: line.productCode,
            item_qbo_id: line.itemQboId,
            quantity: line.quantity,
            unit_price: line.unitPrice,
            amount: line.amount,
          })
          .execute();
      }
    }
    return count;
  });
}

describe('migrations', () => {
  it('run up, down and up again on an empty database, leaving nothing behind when down', async () => {
    await migrateToLatest(db as Kysely<unknown>);
    const created = await schemaObjects();
    expect(created).toEqual(
      expect.arrayContaining([
        'accounts',
        'contacts',
        'opportunities',
        'qbo_links',
        'report_pipeline',
        'qbsync_guard_quickbooks_record',
      ]),
    );
    await migrateDownAll(db as Kysely<unknown>);
    expect(await schemaObjects()).toEqual([]);
    await migrateToLatest(db as Kysely<unknown>);
    expect(await schemaObjects()).toEqual(created);
  });

  it('run down one step at a time and up again on a database full of data', async () => {
    const opportunities = await fillWithSamples();
    expect(opportunities).toBeGreaterThan(30);
    const total = await sql<{ total: string }>`SELECT sum(total_before_tax)::text AS total FROM opportunities`.execute(
      db,
    );
    expect(Number(total.rows[0]?.total)).toBeGreaterThan(0);

    const applied = (await listMigrations(db as Kysely<unknown>)).filter((m) => m.executedAt !== undefined).length;
    for (let step = 0; step < applied; step++) await migrateDownOne(db as Kysely<unknown>);
    expect(await schemaObjects()).toEqual([]);

    await migrateToLatest(db as Kysely<unknown>);
    // The rebuilt schema works: a new tenant gets its QuickBooks list, reports answer.
    await db.insertInto('tenants').values({ id: 'again', name: 'Again', start_date: '2026-01-01' }).execute();
    const lists = await db
      .selectFrom('lists')
      .select(['name', 'is_quickbooks'])
      .where('tenant_id', '=', 'again')
      .execute();
    expect(lists).toEqual([{ name: 'QuickBooks', is_quickbooks: true }]);
    expect(await fillWithSamples()).toBe(opportunities);
  });
});
