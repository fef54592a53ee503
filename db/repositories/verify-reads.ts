import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * The set-based reads of `qbsync verify` (client/verify.ts): one query per table for a tenant, so
 * that a company of 100,000 records verifies in seconds. Read-only.
 */

/** The tenant's start date, sync language and the QuickBooks company it is connected to. */
export async function findVerifyScope(db: Kysely<Database>, tenantId: string) {
  return db
    .selectFrom('tenants')
    .innerJoin('qbo_connections', 'qbo_connections.tenant_id', 'tenants.id')
    .select(['tenants.id', 'tenants.start_date', 'tenants.sync_language', 'qbo_connections.realm_id'])
    .where('tenants.id', '=', tenantId)
    .executeTakeFirstOrThrow();
}

/** Every link between the tenant's QBO records (in that company) and its CRM rows. */
export async function listTenantLinks(db: Kysely<Database>, tenantId: string, realmId: string) {
  return db
    .selectFrom('qbo_links')
    .select([
      'entity_type',
      'qbo_id',
      'account_id',
      'opportunity_id',
      'product_id',
      'revenue_category_id',
      'parent_qbo_id',
      'sync_token',
    ])
    .where('tenant_id', '=', tenantId)
    .where('realm_id', '=', realmId)
    .execute();
}

/** The records with an open entry in the error table, as `Entity:qboId` keys. */
export async function openErrorKeys(db: Kysely<Database>, tenantId: string): Promise<Set<string>> {
  const rows = await db
    .selectFrom('sync_errors')
    .select(['entity_type', 'qbo_id'])
    .where('tenant_id', '=', tenantId)
    .where('resolved_at', 'is', null)
    .execute();
  return new Set(rows.map((row) => `${row.entity_type}:${row.qbo_id}`));
}

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
