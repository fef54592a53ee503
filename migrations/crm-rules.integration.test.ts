import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSync, crmRuleViolated } from '../db/crm-rules.js';
import type { Database } from '../db/schema.js';
import { createTestDatabase, type TestDatabase } from '../test/database.js';
import { rowsReadFrom } from '../test/table-reads.js';

let testDb: TestDatabase;
let db: Kysely<Database>;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = testDb.db;
});
afterAll(async () => {
  await testDb?.drop();
});

let counter = 0;

/** A tenant with one account and its contact, both put in the QuickBooks list by the sync. */
async function seed(settings: { mode?: 'two_way' | 'one_way'; allowEdits?: boolean } = {}) {
  const tenantId = `t${++counter}`;
  return asSync(db, async (trx) => {
    await trx
      .insertInto('tenants')
      .values({
        id: tenantId,
        name: `Tenant ${counter}`,
        start_date: '2026-01-01',
        sync_mode: settings.mode ?? 'two_way',
        allow_crm_edits: settings.allowEdits ?? false,
      })
      .execute();
    const list = await trx
      .selectFrom('lists')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('is_quickbooks', '=', true)
      .executeTakeFirstOrThrow();
    const account = await trx
      .insertInto('accounts')
      .values({ tenant_id: tenantId, company_name: 'Synced Inc.', language: 'fr' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const contact = await trx
      .insertInto('contacts')
      .values({ tenant_id: tenantId, account_id: account.id, full_name: 'Ann Synced', language: 'fr' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('list_members')
      .values([
        { tenant_id: tenantId, list_id: list.id, account_id: account.id },
        { tenant_id: tenantId, list_id: list.id, contact_id: contact.id },
      ])
      .execute();
    const local = await trx
      .insertInto('accounts')
      .values({ tenant_id: tenantId, company_name: 'CRM only', language: 'en' })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { tenantId, listId: list.id, accountId: account.id, contactId: contact.id, localAccountId: local.id };
  });
}

/** Runs a CRM user's write and returns the rule it broke (null when it went through). */
async function userWrite(write: Promise<unknown>): Promise<{ rule: string | null; message: string }> {
  try {
    await write;
    return { rule: null, message: '' };
  } catch (error) {
    const rule = crmRuleViolated(error);
    if (rule === null) throw error;
    return { rule, message: (error as Error).message };
  }
}

describe('R14: the QuickBooks list', () => {
  it('R14: is created with each tenant, and a CRM user cannot rename or delete it; other lists can be', async () => {
    const { tenantId, listId } = await seed();
    const renamed = await userWrite(
      db.updateTable('lists').set({ name: 'Clients' }).where('id', '=', listId).execute(),
    );
    expect(renamed).toMatchObject({ rule: 'R14' });
    expect(renamed.message).toMatch(/^R14: the QuickBooks list .* cannot be renamed/);
    expect((await userWrite(db.deleteFrom('lists').where('id', '=', listId).execute())).rule).toBe('R14');
    const other = await db
      .insertInto('lists')
      .values({ tenant_id: tenantId, name: 'VIP' })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(
      (await userWrite(db.updateTable('lists').set({ name: 'VIP 2' }).where('id', '=', other.id).execute())).rule,
    ).toBeNull();
    expect((await userWrite(db.deleteFrom('lists').where('id', '=', other.id).execute())).rule).toBeNull();
    expect(
      (
        await userWrite(
          db.insertInto('lists').values({ tenant_id: tenantId, name: 'Fake', is_quickbooks: true }).execute(),
        )
      ).rule,
    ).toBe('R14');
  });

  it('R14: holds even for the sync, whose writes to the list (its members) go through', async () => {
    const { tenantId, listId } = await seed();
    await expect(
      asSync(db, (trx) => trx.updateTable('lists').set({ name: 'X' }).where('id', '=', listId).execute()),
    ).rejects.toThrow(/R14/);
    const added = await asSync(db, async (trx) => {
      const account = await trx
        .insertInto('accounts')
        .values({ tenant_id: tenantId, company_name: 'New', language: 'fr' })
        .returning('id')
        .executeTakeFirstOrThrow();
      return trx
        .insertInto('list_members')
        .values({ tenant_id: tenantId, list_id: listId, account_id: account.id })
        .returning('id')
        .executeTakeFirst();
    });
    expect(added).toBeDefined();
  });

  it('R14: deleting the tenant takes its QuickBooks list and records with it', async () => {
    const { tenantId } = await seed();
    await db.deleteFrom('tenants').where('id', '=', tenantId).execute();
    expect(await db.selectFrom('lists').select('id').where('tenant_id', '=', tenantId).execute()).toEqual([]);
  });
});

describe('R19: no deletion of QuickBooks-list records', () => {
  it('R19: a CRM user cannot delete an account or contact of the QuickBooks list, nor take it out of the list; the sync can', async () => {
    const { accountId, contactId, localAccountId } = await seed({ allowEdits: true });
    const account = await userWrite(db.deleteFrom('accounts').where('id', '=', accountId).execute());
    expect(account).toMatchObject({ rule: 'R19' });
    expect(account.message).toMatch(/^R19: account \d+ is in the QuickBooks list and cannot be deleted/);
    expect((await userWrite(db.deleteFrom('contacts').where('id', '=', contactId).execute())).rule).toBe('R19');
    expect((await userWrite(db.deleteFrom('list_members').where('account_id', '=', accountId).execute())).rule).toBe(
      'R19',
    );
    expect((await userWrite(db.deleteFrom('accounts').where('id', '=', localAccountId).execute())).rule).toBeNull();

    await asSync(db, (trx) => trx.deleteFrom('contacts').where('id', '=', contactId).execute());
    await asSync(db, (trx) => trx.deleteFrom('accounts').where('id', '=', accountId).execute());
    expect(await db.selectFrom('accounts').select('id').where('id', '=', accountId).execute()).toEqual([]);
  });
});

describe('R17 and R8: edits of QuickBooks-list records', () => {
  it('R17: by default a CRM user cannot edit an account or contact of the QuickBooks list; the sync can', async () => {
    const { accountId, contactId, localAccountId } = await seed();
    const refused = await userWrite(
      db.updateTable('accounts').set({ website: 'https://x.ca' }).where('id', '=', accountId).execute(),
    );
    expect(refused).toMatchObject({ rule: 'R17' });
    expect(refused.message).toMatch(/^R17: account \d+ is in the QuickBooks list and this tenant does not allow/);
    expect(
      (await userWrite(db.updateTable('contacts').set({ email: 'x@y.ca' }).where('id', '=', contactId).execute())).rule,
    ).toBe('R17');
    expect(
      (
        await userWrite(
          db.updateTable('accounts').set({ website: 'https://ok.ca' }).where('id', '=', localAccountId).execute(),
        )
      ).rule,
    ).toBeNull();
    await asSync(db, (trx) =>
      trx.updateTable('accounts').set({ website: 'https://sync.ca' }).where('id', '=', accountId).execute(),
    );
    const row = await db.selectFrom('accounts').select('website').where('id', '=', accountId).executeTakeFirstOrThrow();
    expect(row.website).toBe('https://sync.ca');
  });

  it('R17: a tenant that allows editing lets CRM users edit them', async () => {
    const { accountId } = await seed({ allowEdits: true });
    expect(
      (
        await userWrite(
          db.updateTable('accounts').set({ website: 'https://y.ca' }).where('id', '=', accountId).execute(),
        )
      ).rule,
    ).toBeNull();
  });

  it('R8: in one-way mode no CRM user can edit them, even when the tenant allows editing; the sync can', async () => {
    const { accountId, contactId } = await seed({ mode: 'one_way', allowEdits: true });
    const refused = await userWrite(
      db.updateTable('accounts').set({ company_name: 'Renamed' }).where('id', '=', accountId).execute(),
    );
    expect(refused.rule).toBe('R8');
    expect(refused.message).toMatch(/^R8: account \d+ .* one way/);
    expect(
      (await userWrite(db.updateTable('contacts').set({ phone1: '1' }).where('id', '=', contactId).execute())).rule,
    ).toBe('R8');
    await asSync(db, (trx) => trx.updateTable('contacts').set({ phone1: '2' }).where('id', '=', contactId).execute());
  });

  it('R8: in one-way mode CRM users cannot add records to the QuickBooks list (R15 works in two-way mode)', async () => {
    const oneWay = await seed({ mode: 'one_way' });
    const add = (s: typeof oneWay) =>
      db
        .insertInto('list_members')
        .values({ tenant_id: s.tenantId, list_id: s.listId, account_id: s.localAccountId })
        .execute();
    expect((await userWrite(add(oneWay))).rule).toBe('R8');
    const twoWay = await seed();
    expect((await userWrite(add(twoWay))).rule).toBeNull();
  });

  it('R8: in one-way mode automations on QuickBooks-list records cannot be created, changed or deleted by CRM users; the sync can', async () => {
    const { tenantId, accountId, localAccountId } = await seed({ mode: 'one_way' });
    expect(
      (
        await userWrite(
          db
            .insertInto('automations')
            .values({ tenant_id: tenantId, name: 'Relance', account_id: accountId })
            .execute(),
        )
      ).rule,
    ).toBe('R8');
    const automation = await asSync(db, (trx) =>
      trx
        .insertInto('automations')
        .values({ tenant_id: tenantId, name: 'Relance', account_id: accountId })
        .returning('id')
        .executeTakeFirstOrThrow(),
    );
    expect(
      (await userWrite(db.updateTable('automations').set({ enabled: false }).where('id', '=', automation.id).execute()))
        .rule,
    ).toBe('R8');
    expect((await userWrite(db.deleteFrom('automations').where('id', '=', automation.id).execute())).rule).toBe('R8');
    // Retargeting an automation onto a QuickBooks record is a change too.
    const local = await db
      .insertInto('automations')
      .values({ tenant_id: tenantId, name: 'Local', account_id: localAccountId })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(
      (
        await userWrite(
          db.updateTable('automations').set({ account_id: accountId }).where('id', '=', local.id).execute(),
        )
      ).rule,
    ).toBe('R8');
    expect(
      (await userWrite(db.updateTable('automations').set({ name: 'Local 2' }).where('id', '=', local.id).execute()))
        .rule,
    ).toBeNull();

    await db.updateTable('tenants').set({ sync_mode: 'two_way' }).where('id', '=', tenantId).execute();
    expect(
      (await userWrite(db.updateTable('automations').set({ enabled: false }).where('id', '=', automation.id).execute()))
        .rule,
    ).toBeNull();
  });
});

describe('R16: one primary contact per account, the oldest', () => {
  const primaries = (accountId: number) =>
    db
      .selectFrom('contacts')
      .select(['full_name', 'is_primary'])
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();

  it('R16: the oldest contact is primary; when it leaves, the next oldest takes its place', async () => {
    const { tenantId, localAccountId } = await seed();
    const add = (name: string, createdAt: string) =>
      db
        .insertInto('contacts')
        .values({
          tenant_id: tenantId,
          account_id: localAccountId,
          full_name: name,
          language: 'fr',
          created_at: createdAt,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
    const second = await add('Second', '2026-02-01T00:00:00Z');
    const first = await add('First', '2026-01-01T00:00:00Z'); // inserted later, but older
    await add('Third', '2026-03-01T00:00:00Z');
    expect(await primaries(localAccountId)).toEqual([
      { full_name: 'First', is_primary: true },
      { full_name: 'Second', is_primary: false },
      { full_name: 'Third', is_primary: false },
    ]);
    await db.deleteFrom('contacts').where('id', '=', first.id).execute();
    expect((await primaries(localAccountId)).map((c) => c.is_primary)).toEqual([true, false]);
    // Moving the primary to another account hands the role on, and it joins the other account as non-primary.
    const other = await db
      .insertInto('accounts')
      .values({ tenant_id: tenantId, company_name: 'Other', language: 'fr' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('contacts')
      .values({
        tenant_id: tenantId,
        account_id: other.id,
        full_name: 'Old timer',
        language: 'fr',
        created_at: '2020-01-01T00:00:00Z',
      })
      .execute();
    await db.updateTable('contacts').set({ account_id: other.id }).where('id', '=', second.id).execute();
    expect(await primaries(localAccountId)).toEqual([{ full_name: 'Third', is_primary: true }]);
    expect(await primaries(other.id)).toEqual([
      { full_name: 'Old timer', is_primary: true },
      { full_name: 'Second', is_primary: false },
    ]);
  });

  it('R16: contacts inserted together, on several accounts, leave the oldest of each account primary', async () => {
    const { tenantId, localAccountId } = await seed();
    const other = await db
      .insertInto('accounts')
      .values({ tenant_id: tenantId, company_name: 'Other', language: 'fr' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const contact = (accountId: number, name: string, createdAt: string) => ({
      tenant_id: tenantId,
      account_id: accountId,
      full_name: name,
      language: 'fr' as const,
      created_at: createdAt,
    });
    await db
      .insertInto('contacts')
      .values(contact(localAccountId, 'Existing', '2026-02-01T00:00:00Z'))
      .execute();
    // One statement, as the sync writes a page: an older contact than the account's primary, a
    // newer one, and an account whose contacts arrive youngest first.
    await db
      .insertInto('contacts')
      .values([
        contact(localAccountId, 'Newer', '2026-03-01T00:00:00Z'),
        contact(other.id, 'Second', '2026-05-01T00:00:00Z'),
        contact(localAccountId, 'Older', '2026-01-01T00:00:00Z'),
        contact(other.id, 'First', '2026-04-01T00:00:00Z'),
      ])
      .execute();
    expect(await primaries(localAccountId)).toEqual([
      { full_name: 'Older', is_primary: true },
      { full_name: 'Existing', is_primary: false },
      { full_name: 'Newer', is_primary: false },
    ]);
    expect(await primaries(other.id)).toEqual([
      { full_name: 'First', is_primary: true },
      { full_name: 'Second', is_primary: false },
    ]);
  });

  it('R16: a page of new accounts’ contacts reads only their contacts, whatever the table’s size and statistics', async () => {
    const { tenantId } = await seed();
    const accountsOf = (prefix: string, count: number) => sql`
      INSERT INTO accounts (tenant_id, company_name, language)
      SELECT ${tenantId}, ${prefix} || g, 'fr' FROM generate_series(1, ${count}::int) g RETURNING id`;
    const contactsOf = (accountIds: readonly number[]) => sql`
      INSERT INTO contacts (tenant_id, account_id, full_name, language)
      SELECT ${tenantId}, id, 'Contact ' || id, 'fr' FROM unnest(${accountIds}::int8[]) id`;
    const settled = await asSync(db, async (trx) => {
      const { rows } = await accountsOf('Settled ', 10_000).execute(trx);
      return rows as { id: number }[];
    });
    await asSync(db, (trx) => contactsOf(settled.map(({ id }) => id)).execute(trx));
    // The statistics of a table at rest: all but a handful of its contacts primary.
    await sql`ANALYZE contacts`.execute(db);

    const { read, primary } = await asSync(db, async (trx) => {
      const { rows } = await accountsOf('New ', 1_000).execute(trx);
      const ids = (rows as { id: number }[]).map(({ id }) => id);
      const read = await rowsReadFrom(trx, 'contacts', () => contactsOf(ids).execute(trx));
      const primary = await trx
        .selectFrom('contacts')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('account_id', 'in', ids)
        .where('is_primary', '=', true)
        .executeTakeFirstOrThrow();
      return { read, primary: Number(primary.n) };
    });
    expect(primary).toBe(1_000);
    // A few reads per new contact (the oldest of its account, then the row to mark), none of the 10,000 others.
    expect(read).toBeLessThanOrEqual(4_000);
  });

  it('R16: nobody sets the primary mark by hand, not even the sync', async () => {
    const { tenantId, localAccountId } = await seed();
    await db
      .insertInto('contacts')
      .values({ tenant_id: tenantId, account_id: localAccountId, full_name: 'A', language: 'fr' })
      .execute();
    const b = await db
      .insertInto('contacts')
      .values({ tenant_id: tenantId, account_id: localAccountId, full_name: 'B', language: 'fr' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const refused = await userWrite(sql`UPDATE contacts SET is_primary = true WHERE id = ${b.id}`.execute(db));
    expect(refused.rule).toBe('R16');
    await expect(
      asSync(db, (trx) => sql`UPDATE contacts SET is_primary = true WHERE id = ${b.id}`.execute(trx)),
    ).rejects.toThrow(/^R16/);
  });

  it('R16: succession works on a locked QuickBooks account when the sync removes its primary contact', async () => {
    const { tenantId, accountId, contactId, listId } = await seed();
    const next = await asSync(db, async (trx) => {
      const c = await trx
        .insertInto('contacts')
        .values({ tenant_id: tenantId, account_id: accountId, full_name: 'Bob Next', language: 'fr' })
        .returning('id')
        .executeTakeFirstOrThrow();
      await trx.insertInto('list_members').values({ tenant_id: tenantId, list_id: listId, contact_id: c.id }).execute();
      return c;
    });
    await asSync(db, (trx) => trx.deleteFrom('contacts').where('id', '=', contactId).execute());
    const row = await db
      .selectFrom('contacts')
      .select('is_primary')
      .where('id', '=', next.id)
      .executeTakeFirstOrThrow();
    expect(row.is_primary).toBe(true);
  });
});

describe('R9: documents and revenue categories sync one way, QuickBooks to CRM', () => {
  /** A revenue category and an opportunity with one line, written by the sync. */
  async function seedDocuments() {
    const seeded = await seed();
    return asSync(db, async (trx) => {
      const category = await trx
        .insertInto('revenue_categories')
        .values({ tenant_id: seeded.tenantId, name: 'Services' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const opportunity = await trx
        .insertInto('opportunities')
        .values({
          tenant_id: seeded.tenantId,
          account_id: seeded.accountId,
          source_entity: 'Invoice',
          title: '1001',
          txn_date: '2026-02-01',
          stage: 'won',
          stage_label: 'Gagnée',
          probability: 100,
          total_before_tax: '100.00',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      // A line of a synced product: deleting the tenant must not trip on the line's product key.
      const product = await trx
        .insertInto('products')
        .values({ tenant_id: seeded.tenantId, code: 'SVC' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const line = await trx
        .insertInto('opportunity_lines')
        .values({
          tenant_id: seeded.tenantId,
          opportunity_id: opportunity.id,
          line_number: 1,
          product_code: 'SVC',
          product_id: product.id,
          quantity: 1,
          unit_price: 100,
          amount: '100.00',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return {
        ...seeded,
        categoryId: category.id,
        opportunityId: opportunity.id,
        productId: product.id,
        lineId: line.id,
      };
    });
  }

  it('R9: a CRM user cannot create, change or delete an opportunity, its lines, its sales stage or a revenue category; the sync can', async () => {
    const s = await seedDocuments();
    const refused = [
      await userWrite(
        db.updateTable('opportunities').set({ stage: 'lost' }).where('id', '=', s.opportunityId).execute(),
      ),
      await userWrite(db.deleteFrom('opportunities').where('id', '=', s.opportunityId).execute()),
      await userWrite(
        db
          .insertInto('opportunities')
          .values({
            tenant_id: s.tenantId,
            account_id: s.localAccountId,
            source_entity: 'Estimate',
            title: 'CRM-made',
            txn_date: '2026-02-02',
            stage: 'qualified',
            stage_label: 'Qualifiée',
            probability: 40,
            total_before_tax: 5,
          })
          .execute(),
      ),
      await userWrite(db.updateTable('opportunity_lines').set({ amount: 1 }).where('id', '=', s.lineId).execute()),
      await userWrite(db.deleteFrom('opportunity_lines').where('id', '=', s.lineId).execute()),
      await userWrite(
        db
          .insertInto('opportunity_lines')
          .values({ tenant_id: s.tenantId, opportunity_id: s.opportunityId, line_number: 2, amount: 1 })
          .execute(),
      ),
      await userWrite(
        db.updateTable('revenue_categories').set({ name: 'Renamed' }).where('id', '=', s.categoryId).execute(),
      ),
      await userWrite(db.deleteFrom('revenue_categories').where('id', '=', s.categoryId).execute()),
      await userWrite(
        db.insertInto('revenue_categories').values({ tenant_id: s.tenantId, name: 'CRM-made' }).execute(),
      ),
    ];
    expect(refused.map((r) => r.rule)).toEqual(Array(9).fill('R9'));
    expect(refused[0]!.message).toMatch(
      /^R9: opportunity \d+ comes from QuickBooks and syncs one way \(QuickBooks to CRM\): a CRM user cannot update it/,
    );
    expect(refused[2]!.message).toMatch(/^R9: opportunities come from QuickBooks .* cannot create one/);
    expect(refused[7]!.message).toMatch(/^R9: revenue category \d+ comes from QuickBooks .* cannot delete it/);
    const unchanged = await db
      .selectFrom('opportunities')
      .innerJoin('opportunity_lines', 'opportunity_lines.opportunity_id', 'opportunities.id')
      .select(['stage', 'amount'])
      .where('opportunities.tenant_id', '=', s.tenantId)
      .execute();
    expect(unchanged).toEqual([{ stage: 'won', amount: '100.00' }]);

    await asSync(db, async (trx) => {
      await trx.updateTable('opportunities').set({ stage: 'lost' }).where('id', '=', s.opportunityId).execute();
      await trx.updateTable('revenue_categories').set({ active: false }).where('id', '=', s.categoryId).execute();
      await trx.deleteFrom('opportunity_lines').where('id', '=', s.lineId).execute();
    });
    const after = await db
      .selectFrom('opportunities')
      .select('stage')
      .where('id', '=', s.opportunityId)
      .executeTakeFirstOrThrow();
    expect(after.stage).toBe('lost');
  });

  it('R9: deleting the tenant takes its opportunities, lines and revenue categories with it', async () => {
    const s = await seedDocuments();
    await db.deleteFrom('tenants').where('id', '=', s.tenantId).execute();
    for (const table of ['opportunities', 'opportunity_lines', 'revenue_categories'] as const) {
      expect(await db.selectFrom(table).select('id').where('tenant_id', '=', s.tenantId).execute()).toEqual([]);
    }
  });

  it('R9: a line is on its opportunity’s tenant and names that tenant’s products only; the product is checked by commit', async () => {
    const s = await seedDocuments();
    const other = await seedDocuments();
    const addLine = (tenantId: string, productId: number | null, lineNumber: number) =>
      asSync(db, (trx) =>
        trx
          .insertInto('opportunity_lines')
          .values({
            tenant_id: tenantId,
            opportunity_id: s.opportunityId,
            line_number: lineNumber,
            product_id: productId,
            amount: '1.00',
          })
          .execute(),
      );
    await expect(addLine(other.tenantId, null, 2)).rejects.toThrow(/foreign key/);
    await expect(addLine(s.tenantId, other.productId, 3)).rejects.toThrow(
      /opportunity_lines_tenant_id_product_id_fkey/,
    );
    await addLine(s.tenantId, s.productId, 4);
    const lines = await db
      .selectFrom('opportunity_lines')
      .select('line_number')
      .where('opportunity_id', '=', s.opportunityId)
      .orderBy('line_number')
      .execute();
    expect(lines.map((line) => line.line_number)).toEqual([1, 4]);
  });
});

describe('asSync', () => {
  it('marks only its own transaction: a write after it, on the same pool, is a CRM user’s again', async () => {
    const { accountId } = await seed();
    await asSync(db, (trx) => trx.updateTable('accounts').set({ city: 'Laval' }).where('id', '=', accountId).execute());
    for (let i = 0; i < 6; i++) {
      expect(
        (
          await userWrite(
            db
              .updateTable('accounts')
              .set({ city: `X${i}` })
              .where('id', '=', accountId)
              .execute(),
          )
        ).rule,
      ).toBe('R17');
    }
  });

  it('rolls back with the transaction when fn fails', async () => {
    const { accountId } = await seed();
    await expect(
      asSync(db, async (trx) => {
        await trx.updateTable('accounts').set({ city: 'Gatineau' }).where('id', '=', accountId).execute();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const row = await db.selectFrom('accounts').select('city').where('id', '=', accountId).executeTakeFirstOrThrow();
    expect(row.city).toBeNull();
  });
});

describe('tenancy and tokens', () => {
  it('a contact cannot point to another tenant’s account, and tokens in clear are refused', async () => {
    const a = await seed();
    const b = await seed();
    await expect(
      db
        .insertInto('contacts')
        .values({ tenant_id: b.tenantId, account_id: a.localAccountId, language: 'fr' })
        .execute(),
    ).rejects.toThrow(/foreign key/);
    await expect(
      db
        .insertInto('qbo_connections')
        .values({
          tenant_id: a.tenantId,
          realm_id: '9341',
          environment: 'sandbox',
          access_token_encrypted: 'eyJhbGciOi-plain',
          refresh_token_encrypted: 'v1:a:b:c',
          access_token_expires_at: new Date(),
        })
        .execute(),
    ).rejects.toThrow(/check constraint/);
  });

  it('a line, link or list member takes its tenant from its parent row: another tenant is refused, and deleting the tenant takes them', async () => {
    const a = await seed();
    const b = await seed();
    const refused = (write: Promise<unknown>) => expect(write).rejects.toThrow(/foreign key/);
    await refused(
      asSync(db, (trx) =>
        trx
          .insertInto('qbo_links')
          .values({
            tenant_id: b.tenantId,
            realm_id: 'r',
            entity_type: 'Customer',
            qbo_id: '1',
            account_id: a.accountId,
            sync_token: '0',
            qbo_last_updated_time: '2026-01-01T00:00:00Z',
            qbo_updated_at: new Date(),
          })
          .execute(),
      ),
    );
    const bList = await db
      .selectFrom('lists')
      .select('id')
      .where('tenant_id', '=', b.tenantId)
      .executeTakeFirstOrThrow();
    await refused(
      asSync(db, (trx) =>
        trx
          .insertInto('list_members')
          .values({ tenant_id: a.tenantId, list_id: bList.id, account_id: a.localAccountId })
          .execute(),
      ),
    );
    await asSync(db, (trx) =>
      trx
        .insertInto('qbo_links')
        .values({
          tenant_id: a.tenantId,
          realm_id: 'r',
          entity_type: 'Customer',
          qbo_id: '1',
          account_id: a.accountId,
          sync_token: '0',
          qbo_last_updated_time: '2026-01-01T00:00:00Z',
          qbo_updated_at: new Date(),
        })
        .execute(),
    );
    await db.deleteFrom('tenants').where('id', '=', a.tenantId).execute();
    for (const table of ['qbo_links', 'list_members'] as const) {
      expect(await db.selectFrom(table).selectAll().where('tenant_id', '=', a.tenantId).execute()).toEqual([]);
    }
  });
});
