import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncedEntity } from '../../common/sync-types.js';
import { asSync } from '../../db/crm-rules.js';
import { countDeferredSubCustomers } from '../../db/repositories/deferred-sub-customers.js';
import { recordMerge } from '../../db/repositories/merges.js';
import { findLinks } from '../../db/repositories/qbo-links.js';
import type { QboEntityType } from '../../db/schema.js';
import { createTestDatabase, type TestDatabase } from '../../test/database.js';
import type { QboRecord } from '../qbo/qbo-client.js';
import type { PageCounts, ReferenceFetcher, TenantSettings, WaitingSubCustomers } from './crm-writer.js';
import { markDocumentsDeleted, writeRecords } from './crm-writer.js';

let database: TestDatabase | undefined;
beforeAll(async () => void (database = await createTestDatabase()));
afterAll(() => database?.drop());
const db = () => database!.db;

let tenants = 0;
const now = new Date('2026-03-02T12:00:00Z');

/** A tenant of its own per test, with the QuickBooks list the database gives it. */
async function newTenant(): Promise<TenantSettings> {
  const tenantId = `w${++tenants}`;
  await db().insertInto('tenants').values({ id: tenantId, name: tenantId, start_date: '2026-01-01' }).execute();
  const { rows } = await sql<{ id: number }>`
    SELECT id FROM lists WHERE tenant_id = ${tenantId} AND is_quickbooks`.execute(db());
  return {
    tenantId,
    realmId: 'realm-1',
    quickbooksListId: rows[0]!.id,
    startDate: '2026-01-01',
    syncLanguage: 'fr',
    defaultLanguage: 'en',
  };
}

/** What QBO answers when the writer asks for referenced records: these records, by id; the calls are kept. */
function qbo(records: readonly QboRecord[] = []) {
  const calls: Array<{ entity: string; ids: readonly string[] }> = [];
  const fetch: ReferenceFetcher = async (entity, ids) => {
    calls.push({ entity, ids: [...ids].sort() });
    return records.filter((record) => ids.includes(record.Id));
  };
  return { calls, fetch };
}

function write(
  settings: TenantSettings,
  entity: SyncedEntity,
  records: readonly QboRecord[],
  source: { readonly fetch: ReferenceFetcher } = qbo(),
  waiting?: WaitingSubCustomers,
): Promise<PageCounts> {
  return asSync(db(), (trx) =>
    writeRecords(trx, settings, entity, records, source.fetch, now, waiting ? { subCustomersWaiting: waiting } : {}),
  );
}

const version = (token: number, minute: number) => ({
  SyncToken: String(token),
  MetaData: { LastUpdatedTime: `2026-03-01T10:${String(minute).padStart(2, '0')}:00-05:00` },
});

const customer = (id: string, token: number, minute: number, fields: Record<string, unknown> = {}): QboRecord => ({
  Id: id,
  ...version(token, minute),
  DisplayName: `Customer ${id}`,
  ...fields,
});

const subCustomer = (id: string, parentId: string, token = 0, minute = 0): QboRecord =>
  customer(id, token, minute, { Job: true, ParentRef: { value: parentId } });

const category = (id: string, name: string, token = 0, minute = 0): QboRecord => ({
  Id: id,
  ...version(token, minute),
  Name: name,
  Type: 'Category',
});

const product = (id: string, name: string, token: number, minute: number, categoryId?: string): QboRecord => ({
  Id: id,
  ...version(token, minute),
  Name: name,
  Type: 'Service',
  ...(categoryId ? { SubItem: true, ParentRef: { value: categoryId } } : {}),
});

const invoice = (
  id: string,
  customerId: string,
  token: number,
  minute: number,
  fields: Record<string, unknown> = {},
): QboRecord => ({
  Id: id,
  ...version(token, minute),
  CustomerRef: { value: customerId },
  TxnDate: '2026-02-01',
  DocNumber: `INV-${id}`,
  Line: [
    {
      DetailType: 'SalesItemLineDetail',
      Amount: 100,
      SalesItemLineDetail: { ItemRef: { value: '20', name: 'Widget' }, Qty: 2, UnitPrice: 50 },
    },
  ],
  ...fields,
});

async function linkOf(settings: TenantSettings, entity: QboEntityType, qboId: string) {
  return (await findLinks(db(), settings, entity, [qboId])).get(qboId);
}

async function accountOf(settings: TenantSettings, qboId: string) {
  const link = await linkOf(settings, 'Customer', qboId);
  if (!link?.account_id) return undefined;
  const account = await db()
    .selectFrom('accounts')
    .select(['id', 'company_name', 'language'])
    .where('id', '=', link.account_id)
    .executeTakeFirstOrThrow();
  return { ...account, parent_qbo_id: link.parent_qbo_id };
}

async function opportunityOf(settings: TenantSettings, qboId: string) {
  const link = await linkOf(settings, 'Invoice', qboId);
  if (!link?.opportunity_id) return undefined;
  return db()
    .selectFrom('opportunities')
    .select(['id', 'title', 'account_id', 'deleted_at'])
    .where('id', '=', link.opportunity_id)
    .executeTakeFirstOrThrow();
}

function openErrors(settings: TenantSettings) {
  return db()
    .selectFrom('sync_errors')
    .select(['entity_type', 'qbo_id', 'error_type', 'field', 'message'])
    .where('tenant_id', '=', settings.tenantId)
    .where('resolved_at', 'is', null)
    .orderBy('qbo_id')
    .execute();
}

describe('a batch holding a record twice keeps its newest version', () => {
  it('for accounts, whichever comes first; an older version never overwrites a newer one', async () => {
    const settings = await newTenant();
    const counts = await write(settings, 'Customer', [
      customer('1', 2, 5, { CompanyName: 'One, newest' }),
      customer('1', 1, 1, { CompanyName: 'One, old' }),
      customer('2', 1, 1, { CompanyName: 'Two, old' }),
      customer('2', 3, 6, { CompanyName: 'Two, newest' }),
      // Same LastUpdatedTime: SyncToken decides, as a number (10 > 9).
      customer('3', 10, 7, { CompanyName: 'Three, token 10' }),
      customer('3', 9, 7, { CompanyName: 'Three, token 9' }),
    ]);
    expect(counts).toMatchObject({ written: 3, unchanged: 0, failed: 0 });
    expect((await accountOf(settings, '1'))?.company_name).toBe('One, newest');
    expect((await accountOf(settings, '2'))?.company_name).toBe('Two, newest');
    expect((await accountOf(settings, '3'))?.company_name).toBe('Three, token 10');

    const again = await write(settings, 'Customer', [customer('1', 1, 1, { CompanyName: 'One, old' })]);
    expect(again).toMatchObject({ written: 0, unchanged: 1 });
    expect((await accountOf(settings, '1'))?.company_name).toBe('One, newest');
  });

  it('for items: the newest product lands, in its category', async () => {
    const settings = await newTenant();
    const counts = await write(settings, 'Item', [
      product('21', 'Gadget v2', 2, 9, '30'),
      product('21', 'Gadget v1', 1, 3, '30'),
      category('30', 'Hardware'),
      category('31', 'Services, old', 0, 1),
      category('31', 'Services', 1, 2),
    ]);
    expect(counts).toMatchObject({ written: 3, failed: 0 });
    const hardware = await linkOf(settings, 'Item', '30');
    const rows = await db()
      .selectFrom('products')
      .select(['code', 'revenue_category_id'])
      .where('tenant_id', '=', settings.tenantId)
      .execute();
    expect(rows).toEqual([{ code: 'Gadget v2', revenue_category_id: hardware?.revenue_category_id }]);
    const names = await db()
      .selectFrom('revenue_categories')
      .select('name')
      .where('tenant_id', '=', settings.tenantId)
      .orderBy('name')
      .execute();
    expect(names.map((row) => row.name)).toEqual(['Hardware', 'Services']);
  });

  it('for documents, with their lines linked to their products; a document before the start date is skipped', async () => {
    const settings = await newTenant();
    await write(settings, 'Item', [product('20', 'Widget', 0, 0)]);
    await write(settings, 'Customer', [customer('1', 0, 0)]);
    const counts = await write(settings, 'Invoice', [
      invoice('100', '1', 4, 8, { DocNumber: 'newest' }),
      invoice('100', '1', 3, 2, { DocNumber: 'older' }),
      invoice('101', '1', 0, 0, { TxnDate: '2025-12-31' }),
    ]);
    expect(counts).toMatchObject({ written: 1, skipped: 1, failed: 0 });
    const opportunity = await opportunityOf(settings, '100');
    expect(opportunity?.title).toBe('newest');
    const lines = await db()
      .selectFrom('opportunity_lines')
      .innerJoin('products', 'products.id', 'opportunity_lines.product_id')
      .select(['products.code', 'opportunity_lines.amount'])
      .where('opportunity_id', '=', opportunity!.id)
      .execute();
    expect(lines).toEqual([{ code: 'Widget', amount: '100.00' }]);
    expect(await opportunityOf(settings, '101')).toBeUndefined();

    await write(settings, 'Invoice', [invoice('100', '1', 5, 9, { DocNumber: 'updated' })]);
    const lineCount = await db()
      .selectFrom('opportunity_lines')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('opportunity_id', '=', opportunity!.id)
      .executeTakeFirstOrThrow();
    expect(Number(lineCount.n)).toBe(1);
    expect((await opportunityOf(settings, '100'))?.title).toBe('updated');
  });
});

describe('a record with text PostgreSQL cannot store', () => {
  it('goes to the error table alone, with its QBO id and the field, and the rest of its batch lands', async () => {
    const settings = await newTenant();
    const batch = ['1', '2', '3', '4', '5'].map((id) =>
      customer(id, 0, 0, { CompanyName: id === '4' ? 'Nul\u0000 Inc.' : `Company ${id}` }),
    );
    const counts = await write(settings, 'Customer', batch);
    expect(counts).toMatchObject({ written: 4, failed: 1 });
    for (const id of ['1', '2', '3', '5']) expect(await accountOf(settings, id)).toBeDefined();
    expect(await accountOf(settings, '4')).toBeUndefined();
    expect(await openErrors(settings)).toEqual([
      {
        entity_type: 'Customer',
        qbo_id: '4',
        error_type: 'MappingError',
        field: 'CompanyName',
        message: expect.stringContaining('NUL') as string,
      },
    ]);

    await write(settings, 'Customer', [customer('4', 1, 1, { CompanyName: 'Four Inc.' })]);
    expect((await accountOf(settings, '4'))?.company_name).toBe('Four Inc.');
    expect(await openErrors(settings)).toEqual([]);
  });
});

describe('a record the database refuses', () => {
  it('in a document batch, leaves the other documents written', async () => {
    const settings = await newTenant();
    await write(settings, 'Customer', [customer('1', 0, 0)]);
    const counts = await write(settings, 'Invoice', [
      invoice('100', '1', 0, 0),
      // An amount within what the mapping accepts but beyond the column's numeric(14, 2).
      invoice('101', '1', 0, 0, {
        Line: [{ DetailType: 'SalesItemLineDetail', Amount: 1e12, SalesItemLineDetail: { ItemRef: { value: '20' } } }],
      }),
      invoice('102', '1', 0, 0),
    ]);
    expect(counts).toMatchObject({ written: 2, failed: 1 });
    expect(await opportunityOf(settings, '100')).toBeDefined();
    expect(await opportunityOf(settings, '102')).toBeDefined();
    expect((await openErrors(settings)).map((error) => [error.qbo_id, error.error_type])).toEqual([
      ['101', 'WriteError'],
    ]);
  });
});

describe('the primary contact', () => {
  async function contacts(accountId: number) {
    return db()
      .selectFrom('contacts')
      .leftJoin('list_members', 'list_members.contact_id', 'contacts.id')
      .select(['contacts.full_name', 'contacts.is_primary', 'contacts.language', 'list_members.list_id'])
      .where('contacts.account_id', '=', accountId)
      .orderBy('contacts.id')
      .execute();
  }

  it('is created when the account has none, in the QuickBooks list, in the default language', async () => {
    const settings = await newTenant();
    await write(settings, 'Customer', [customer('1', 0, 0)]);
    const account = await accountOf(settings, '1');
    expect(account?.language).toBe('en');
    expect(await contacts(account!.id)).toEqual([]);
    const member = await db()
      .selectFrom('list_members')
      .select('list_id')
      .where('account_id', '=', account!.id)
      .executeTakeFirst();
    expect(member?.list_id).toBe(settings.quickbooksListId);

    await write(settings, 'Customer', [customer('1', 1, 1, { GivenName: 'Ann', FamilyName: 'Roy' })]);
    expect(await contacts(account!.id)).toEqual([
      { full_name: 'Ann Roy', is_primary: true, language: 'en', list_id: settings.quickbooksListId },
    ]);
  });

  it('is the is_primary contact that QBO updates, not a later contact of the account', async () => {
    const settings = await newTenant();
    await write(settings, 'Customer', [customer('1', 0, 0, { GivenName: 'Ann' })]);
    const account = await accountOf(settings, '1');
    await asSync(db(), (trx) =>
      trx
        .insertInto('contacts')
        .values({ tenant_id: settings.tenantId, account_id: account!.id, full_name: 'Bob', language: 'fr' })
        .execute(),
    );
    await write(settings, 'Customer', [customer('1', 1, 1, { GivenName: 'Anna' })]);
    const rows = await contacts(account!.id);
    expect(rows.map((row) => [row.full_name, row.is_primary])).toEqual([
      ['Anna', true],
      ['Bob', false],
    ]);
  });
});

describe('references are kept whole', () => {
  it('sub-customers, written in bulk, link to their parent account; a missing parent is fetched', async () => {
    const settings = await newTenant();
    const source = qbo([customer('9', 0, 0, { CompanyName: 'Fetched parent' })]);
    const batch = [subCustomer('11', '1'), customer('1', 0, 0), subCustomer('12', '1'), subCustomer('13', '9')];
    const counts = await write(settings, 'Customer', batch, source);
    expect(counts).toMatchObject({ written: 4, failed: 0 });
    expect(source.calls).toEqual([{ entity: 'Customer', ids: ['9'] }]);
    const parent = await accountOf(settings, '1');
    expect(await accountOf(settings, '11')).toEqual({ ...parent, parent_qbo_id: '1' });
    expect(await accountOf(settings, '12')).toEqual({ ...parent, parent_qbo_id: '1' });
    expect((await accountOf(settings, '13'))?.company_name).toBe('Fetched parent');

    await write(settings, 'Customer', [subCustomer('14', '404')]);
    expect((await openErrors(settings)).map((error) => [error.qbo_id, error.error_type, error.field])).toEqual([
      ['14', 'MissingReference', 'ParentRef'],
    ]);
  });

  it('a document whose customer the CRM lacks fetches it first; one QBO does not give fails', async () => {
    const settings = await newTenant();
    const source = qbo([customer('7', 0, 0, { CompanyName: 'Fetched Inc.' })]);
    const counts = await write(settings, 'Invoice', [invoice('100', '7', 0, 0), invoice('101', '8', 0, 0)], source);
    expect(counts).toMatchObject({ written: 1, failed: 1 });
    expect(source.calls).toEqual([{ entity: 'Customer', ids: ['7', '8'] }]);
    const opportunity = await opportunityOf(settings, '100');
    expect(opportunity?.account_id).toBe((await accountOf(settings, '7'))?.id);
    expect((await openErrors(settings)).map((error) => [error.qbo_id, error.error_type, error.field])).toEqual([
      ['101', 'MissingReference', 'CustomerRef'],
    ]);
  });
});

describe('issue 16: pages of two entities written at once', () => {
  it('fetching the same missing customer makes one account of it, not two (documents are read side by side)', async () => {
    const settings = await newTenant();
    let asked = 0;
    let release: () => void = () => undefined;
    const bothAsked = new Promise<void>((resolve) => (release = resolve));
    // Each fetch waits until both pages asked for the customer, or for 500 ms: without the lock both
    // pages would be inside the fetch at once; with it, the second waits for the first to commit.
    const fetch: ReferenceFetcher = async () => {
      asked += 1;
      if (asked === 2) release();
      await Promise.race([bothAsked, new Promise((resolve) => setTimeout(resolve, 500))]);
      return [customer('7', 0, 0, { CompanyName: 'Fetched twice Inc.' })];
    };
    const [invoices, estimates] = await Promise.all([
      asSync(db(), (trx) => writeRecords(trx, settings, 'Invoice', [invoice('100', '7', 0, 0)], fetch, now)),
      asSync(db(), (trx) => writeRecords(trx, settings, 'Estimate', [invoice('300', '7', 0, 0)], fetch, now)),
    ]);
    expect([invoices.written, estimates.written]).toEqual([1, 1]);
    expect(asked).toBe(1);
    const accounts = await db()
      .selectFrom('accounts')
      .select('id')
      .where('tenant_id', '=', settings.tenantId)
      .where('company_name', '=', 'Fetched twice Inc.')
      .execute();
    expect(accounts).toHaveLength(1);
    expect((await opportunityOf(settings, '100'))?.account_id).toBe(accounts[0]!.id);
    const estimate = await linkOf(settings, 'Estimate', '300');
    expect(estimate?.opportunity_id).not.toBeNull();
  });
});

describe('issue 16: sub-customers read before their parent wait for a later page', () => {
  it('issue 16: a sub-customer whose parent comes in a later page costs no request', async () => {
    const settings = await newTenant();
    const source = qbo([customer('1', 0, 0)]);
    const first = await write(settings, 'Customer', [subCustomer('11', '1'), customer('2', 0, 0)], source, 'defer');
    expect(first).toMatchObject({ written: 1, failed: 0 });
    expect(await accountOf(settings, '11')).toBeUndefined();
    expect(await countDeferredSubCustomers(db(), settings)).toBe(1);

    const second = await write(settings, 'Customer', [customer('1', 0, 3, { CompanyName: 'Parent' })], source, 'defer');
    expect(second).toMatchObject({ written: 2, failed: 0 });
    expect(source.calls).toEqual([]);
    const parent = await accountOf(settings, '1');
    expect(await accountOf(settings, '11')).toEqual({ ...parent, parent_qbo_id: '1' });
    expect(await countDeferredSubCustomers(db(), settings)).toBe(0);
    expect(await openErrors(settings)).toEqual([]);
  });

  it('issue 16: a job of a job waits with it, and both land when the top parent comes; in one batch no parent is read', async () => {
    const settings = await newTenant();
    const source = qbo();
    await write(settings, 'Customer', [subCustomer('12', '11', 0, 1), subCustomer('11', '1')], source, 'defer');
    expect(await countDeferredSubCustomers(db(), settings)).toBe(2);
    await write(settings, 'Customer', [customer('1', 0, 5)], source, 'defer');
    const parent = await accountOf(settings, '1');
    expect(await accountOf(settings, '11')).toEqual({ ...parent, parent_qbo_id: '1' });
    expect(await accountOf(settings, '12')).toEqual({ ...parent, parent_qbo_id: '11' });

    // Without deferral too: the job of a job in the same batch follows its parent, unread.
    const plain = await newTenant();
    const counts = await write(
      plain,
      'Customer',
      [subCustomer('22', '21'), subCustomer('21', '2'), customer('2', 0, 0)],
      source,
    );
    expect(counts).toMatchObject({ written: 3, failed: 0 });
    expect((await accountOf(plain, '22'))?.id).toBe((await accountOf(plain, '2'))?.id);
    expect(source.calls).toEqual([]);
  });

  it('issue 16: a page takes only the waiting children of its own customers; one whose parent another write linked lands at the read’s end', async () => {
    const settings = await newTenant();
    const source = qbo();
    await write(settings, 'Customer', [subCustomer('11', '1'), subCustomer('21', '2')], source, 'defer');
    // Outside a paged read (the push, a repair), the parent is written and the child waits on.
    await write(settings, 'Customer', [customer('1', 0, 1)], source);
    expect(await countDeferredSubCustomers(db(), settings)).toBe(2);
    await write(settings, 'Customer', [customer('2', 0, 1), customer('3', 0, 1)], source, 'defer');
    expect(await accountOf(settings, '21')).toEqual({ ...(await accountOf(settings, '2')), parent_qbo_id: '2' });
    expect(await accountOf(settings, '11')).toBeUndefined();
    expect(await countDeferredSubCustomers(db(), settings)).toBe(1);
    // The read's last page writes every waiting row; a parent already linked costs no request.
    await write(settings, 'Customer', [], source, 'settle');
    expect(await accountOf(settings, '11')).toEqual({ ...(await accountOf(settings, '1')), parent_qbo_id: '1' });
    expect(source.calls).toEqual([]);
    expect(await countDeferredSubCustomers(db(), settings)).toBe(0);
  });

  it('issue 16: a newer version of a waiting sub-customer replaces it; one made a customer of its own stops waiting', async () => {
    const settings = await newTenant();
    await write(settings, 'Customer', [subCustomer('11', '1', 1, 1), subCustomer('12', '1', 1, 1)], qbo(), 'defer');
    await write(
      settings,
      'Customer',
      [subCustomer('11', '2', 2, 4), customer('12', 2, 4, { CompanyName: 'Own account' })],
      qbo(),
      'defer',
    );
    expect(await countDeferredSubCustomers(db(), settings)).toBe(1);
    expect((await accountOf(settings, '12'))?.company_name).toBe('Own account');
    // An older version met later (a replayed page) does not bring the old parent back.
    await write(settings, 'Customer', [subCustomer('11', '1', 1, 1)], qbo(), 'defer');
    await write(settings, 'Customer', [customer('1', 0, 6), customer('2', 0, 6)], qbo(), 'defer');
    expect((await accountOf(settings, '11'))?.parent_qbo_id).toBe('2');
    expect((await linkOf(settings, 'Customer', '11'))?.sync_token).toBe('2');
    expect(await countDeferredSubCustomers(db(), settings)).toBe(0);
  });

  it('issue 16: the last page reads every parent still missing in one request, and one QBO does not give fails', async () => {
    const settings = await newTenant();
    const parents = ['1', '2', '3'].map((id) => customer(id, 0, 0, { CompanyName: `Parent ${id}` }));
    const source = qbo(parents);
    const jobs = [subCustomer('11', '1'), subCustomer('12', '2'), subCustomer('13', '3'), subCustomer('14', '404')];
    await write(settings, 'Customer', jobs, source, 'defer');
    expect(source.calls).toEqual([]);
    const last = await write(settings, 'Customer', [], source, 'settle');
    expect(source.calls).toEqual([{ entity: 'Customer', ids: ['1', '2', '3', '404'] }]);
    // The parents read count as references, not as records of the page.
    expect(last).toMatchObject({ written: 3, failed: 1 });
    for (const id of ['1', '2', '3']) {
      expect((await accountOf(settings, `1${id}`))?.company_name).toBe(`Parent ${id}`);
    }
    expect((await openErrors(settings)).map((error) => [error.qbo_id, error.error_type, error.field])).toEqual([
      ['14', 'MissingReference', 'ParentRef'],
    ]);
    expect(await countDeferredSubCustomers(db(), settings)).toBe(0);
  });

  it('issue 16: a waiting sub-customer keeps text jsonb refuses, and goes with its tenant', async () => {
    const settings = await newTenant();
    await write(
      settings,
      'Customer',
      [subCustomer('11', '1', 0, 0)].map((job) => ({ ...job, Notes: 'Nul\u0000 note' })),
      qbo(),
      'defer',
    );
    expect(await countDeferredSubCustomers(db(), settings)).toBe(1);
    await write(settings, 'Customer', [customer('1', 0, 1)], qbo(), 'defer');
    expect(await accountOf(settings, '11')).toBeDefined();

    await write(settings, 'Customer', [subCustomer('12', '9')], qbo(), 'defer');
    expect(await countDeferredSubCustomers(db(), settings)).toBe(1);
    await asSync(db(), (trx) => trx.deleteFrom('tenants').where('id', '=', settings.tenantId).execute());
    expect(await countDeferredSubCustomers(db(), settings)).toBe(0);
  });
});

describe('deleted documents and mapping errors', () => {
  it('a deleted stub marks its opportunity deleted, unless a newer version of it is in the batch', async () => {
    const settings = await newTenant();
    await write(settings, 'Customer', [customer('1', 0, 0)]);
    await write(settings, 'Invoice', [invoice('100', '1', 0, 0), invoice('101', '1', 0, 0)]);
    const counts = await write(settings, 'Invoice', [
      { Id: '100', status: 'Deleted', ...version(1, 5) },
      { Id: '101', status: 'Deleted', ...version(1, 5) },
      invoice('101', '1', 2, 6),
    ]);
    expect(counts).toMatchObject({ deleted: 1, written: 1 });
    expect((await opportunityOf(settings, '100'))?.deleted_at).toBeInstanceOf(Date);
    expect((await opportunityOf(settings, '101'))?.deleted_at).toBeNull();
    expect(await asSync(db(), (trx) => markDocumentsDeleted(trx, settings, 'Invoice', ['100', '101'], now))).toBe(1);
    expect(await asSync(db(), (trx) => markDocumentsDeleted(trx, settings, 'Invoice', ['100', '101'], now))).toBe(0);
  });

  it('a record that fails to map is recorded with its field', async () => {
    const settings = await newTenant();
    await write(settings, 'Customer', [customer('1', 0, 0)]);
    const customers = await write(settings, 'Customer', [customer('2', 0, 0, { DisplayName: null })]);
    const invoices = await write(settings, 'Invoice', [invoice('100', '1', 0, 0, { TxnDate: '2026-02-30' })]);
    expect(customers).toMatchObject({ failed: 1, written: 0 });
    expect(invoices).toMatchObject({ failed: 1, written: 0 });
    expect((await openErrors(settings)).map((error) => [error.entity_type, error.qbo_id, error.field])).toEqual([
      ['Invoice', '100', 'TxnDate'],
      ['Customer', '2', 'DisplayName'],
    ]);
  });

  it('R21: a merged-away customer resolves to the survivor through a chain of merges; its later edits touch its link only', async () => {
    const settings = await newTenant();
    await write(settings, 'Customer', [customer('1', 0, 0), customer('2', 0, 0), customer('3', 0, 0)]);
    const accountOf = async (id: string) => (await findLinks(db(), settings, 'Customer', [id])).get(id)?.account_id;
    const [a, b, c] = [await accountOf('1'), await accountOf('2'), await accountOf('3')];
    expect(await asSync(db(), (trx) => recordMerge(trx, settings, { mergedQboId: '1', survivorQboId: '2' }))).toBe(
      'recorded',
    );
    expect(await asSync(db(), (trx) => recordMerge(trx, settings, { mergedQboId: '2', survivorQboId: '3' }))).toBe(
      'recorded',
    );
    expect(await asSync(db(), (trx) => recordMerge(trx, settings, { mergedQboId: '2', survivorQboId: '3' }))).toBe(
      'already recorded',
    );
    expect([await accountOf('1'), await accountOf('2'), await accountOf('3')]).toEqual([c, c, c]);
    // QBO still names the merged-away customer on an old document: it lands on the last survivor's account.
    await write(settings, 'Invoice', [invoice('100', '1', 0, 0)]);
    const opportunity = await db()
      .selectFrom('opportunities')
      .select('account_id')
      .where('tenant_id', '=', settings.tenantId)
      .executeTakeFirstOrThrow();
    expect(opportunity.account_id).toBe(c);
    // A later edit of a merged-away customer changes no account, only the version its link applied.
    const names = async () =>
      (
        await db()
          .selectFrom('accounts')
          .select(['id', 'company_name'])
          .where('tenant_id', '=', settings.tenantId)
          .orderBy('id')
          .execute()
      ).map((row) => row.company_name);
    const before = await names();
    expect(
      await write(settings, 'Customer', [customer('1', 1, 5, { DisplayName: 'Renamed after the merge' })]),
    ).toMatchObject({ written: 1 });
    expect(await names()).toEqual(before);
    const link = await db()
      .selectFrom('qbo_links')
      .select(['sync_token', 'account_id'])
      .where('tenant_id', '=', settings.tenantId)
      .where('qbo_id', '=', '1')
      .executeTakeFirstOrThrow();
    expect(link).toEqual({ sync_token: '1', account_id: a });
    expect(b).not.toBe(c);
  });
});
