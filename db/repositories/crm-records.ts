import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * The set-based reads of `qbsync verify` (client/verify.ts): one query per table for a tenant, so
 * that a company of 100,000 records verifies in seconds. Read-only.
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

/** The tenant's synced CRM rows, one query per table. */
export async function loadSyncedCrmRows(db: Kysely<Database>, tenantId: string) {
  const [accounts, primaryContacts, categories, products, opportunities, lines] = await Promise.all([
    db.selectFrom('accounts').selectAll().where('tenant_id', '=', tenantId).execute(),
    db
      .selectFrom('contacts')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('is_primary', '=', true)
      .where('account_id', 'is not', null)
      .execute(),
    db.selectFrom('revenue_categories').selectAll().where('tenant_id', '=', tenantId).execute(),
    db.selectFrom('products').selectAll().where('tenant_id', '=', tenantId).execute(),
    db.selectFrom('opportunities').selectAll().where('tenant_id', '=', tenantId).execute(),
    db
      .selectFrom('opportunity_lines')
      .select(['opportunity_id', 'line_number', 'product_code', 'amount'])
      .where('tenant_id', '=', tenantId)
      .orderBy('opportunity_id')
      .orderBy('line_number')
      .execute(),
  ]);
  return { accounts, primaryContacts, categories, products, opportunities, lines };
}
