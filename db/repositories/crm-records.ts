import { sql, type Kysely } from 'kysely';
import type { Executor } from '../recordset.js';
import type { Database } from '../schema.js';

/**
 * Reads of the CRM's records: the set-based reads of `qbsync verify` (client/verify.ts), one query
 * per table for a page of records, so that a company of 100,000 records verifies in seconds and one
 * of millions in bounded memory; and the customers the two-way push merges. Read-only.
 */

/** Opportunities marked deleted (their QBO document was deleted or voided). */
export async function deletedOpportunityIds(db: Kysely<Database>, tenantId: string): Promise<Set<number>> {
  const rows = await db
    .selectFrom('opportunities')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('deleted_at', 'is not', null)
    .execute();
  return new Set(rows.map((row) => row.id));
}

/** The CRM rows a verify page compares, by the ids its records' links name: one query per table. */
export interface SyncedRowIds {
  readonly accountIds: readonly number[];
  readonly categoryIds: readonly number[];
  readonly productIds: readonly number[];
  readonly opportunityIds: readonly number[];
}

/** These synced CRM rows of a tenant, one query per table (none for a table with no id asked). */
export async function loadSyncedCrmRows(db: Kysely<Database>, tenantId: string, ids: SyncedRowIds) {
  const anyOf = (values: readonly number[]) => sql<boolean>`= ANY(${values}::int8[])`;
  const unlessNone = <T>(values: readonly number[], read: () => Promise<T[]>): Promise<T[]> =>
    values.length === 0 ? Promise.resolve([]) : read();
  const [accounts, primaryContacts, categories, products, opportunities, lines] = await Promise.all([
    unlessNone(ids.accountIds, () =>
      db
        .selectFrom('accounts')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where(sql<boolean>`id ${anyOf(ids.accountIds)}`)
        .execute(),
    ),
    unlessNone(ids.accountIds, () =>
      db
        .selectFrom('contacts')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('is_primary', '=', true)
        .where(sql<boolean>`account_id ${anyOf(ids.accountIds)}`)
        .execute(),
    ),
    unlessNone(ids.categoryIds, () =>
      db
        .selectFrom('revenue_categories')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where(sql<boolean>`id ${anyOf(ids.categoryIds)}`)
        .execute(),
    ),
    unlessNone(ids.productIds, () =>
      db
        .selectFrom('products')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where(sql<boolean>`id ${anyOf(ids.productIds)}`)
        .execute(),
    ),
    unlessNone(ids.opportunityIds, () =>
      db
        .selectFrom('opportunities')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where(sql<boolean>`id ${anyOf(ids.opportunityIds)}`)
        .execute(),
    ),
    unlessNone(ids.opportunityIds, () =>
      db
        .selectFrom('opportunity_lines')
        .select(['opportunity_id', 'line_number', 'product_code', 'amount'])
        .where('tenant_id', '=', tenantId)
        .where(sql<boolean>`opportunity_id ${anyOf(ids.opportunityIds)}`)
        .orderBy('opportunity_id')
        .orderBy('line_number')
        .execute(),
    ),
  ]);
  return { accounts, primaryContacts, categories, products, opportunities, lines };
}

/** An account row and its primary contact's row (R16): the CRM's side of a customer. */
export interface CrmCustomerRow {
  readonly account_id: number;
  readonly company_name: string;
  readonly language: 'fr' | 'en';
  readonly active: boolean;
  readonly website: string | null;
  readonly address_lines: readonly string[];
  readonly city: string | null;
  readonly province: string | null;
  readonly postal_code: string | null;
  readonly country: string | null;
  readonly title: string | null;
  readonly full_name: string | null;
  readonly phone1: string | null;
  readonly phone2: string | null;
  readonly fax: string | null;
  readonly mobile: string | null;
  readonly email: string | null;
}

/** These accounts of a tenant with their primary contacts, by account id. */
export async function readCrmCustomers(
  db: Executor,
  tenantId: string,
  accountIds: readonly number[],
): Promise<Map<number, CrmCustomerRow>> {
  if (accountIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('accounts as a')
    .leftJoin('contacts as c', (join) => join.onRef('c.account_id', '=', 'a.id').on('c.is_primary', '=', true))
    .select([
      'a.id as account_id',
      'a.company_name',
      'a.language',
      'a.active',
      'a.website',
      'a.address_lines',
      'a.city',
      'a.province',
      'a.postal_code',
      'a.country',
      'c.title',
      'c.full_name',
      'c.phone1',
      'c.phone2',
      'c.fax',
      'c.mobile',
      'c.email',
    ])
    .where('a.tenant_id', '=', tenantId)
    .where(sql<boolean>`a.id = ANY(${accountIds}::int8[])`)
    .execute();
  return new Map(rows.map((row) => [row.account_id, row]));
}

/**
 * Accounts of the QuickBooks list (R14, R15) that no QuickBooks customer holds yet: the CRM → QBO
 * side of verify. Each says whether an open conflict explains it (QuickBooks refused the push).
 */
export async function listAccountsNotInQuickbooks(
  db: Kysely<Database>,
  tenantId: string,
): Promise<Array<{ readonly id: number; readonly refused: boolean }>> {
  const rows = await db
    .selectFrom('accounts as a')
    .innerJoin('list_members as m', 'm.account_id', 'a.id')
    .innerJoin('lists as l', (join) => join.onRef('l.id', '=', 'm.list_id').on('l.is_quickbooks', '=', true))
    .select(['a.id'])
    .select((eb) =>
      eb
        .exists(
          eb
            .selectFrom('sync_conflicts as c')
            .select('c.id')
            .whereRef('c.account_id', '=', 'a.id')
            .where('c.resolution', 'is', null)
            .where('c.kind', 'in', ['duplicate_name', 'validation']),
        )
        .as('refused'),
    )
    .where('a.tenant_id', '=', tenantId)
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('qbo_links as k')
            .select('k.qbo_id')
            .whereRef('k.account_id', '=', 'a.id')
            .where('k.entity_type', '=', 'Customer')
            .where('k.parent_qbo_id', 'is', null),
        ),
      ),
    )
    .orderBy('a.id')
    .execute();
  return rows.map((row) => ({ id: row.id, refused: Boolean(row.refused) }));
}
