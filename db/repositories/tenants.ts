import type { Kysely, Selectable } from 'kysely';
import type { Executor } from '../recordset.js';
import { isoDate } from '../dates.js';
import type { Database, QboConnectionsTable, TenantsTable } from '../schema.js';

/**
 * The tenants table: the row a tenant's settings live in. Plain functions over `db | trx`; a
 * transaction is a Kysely too.
 */
export type TenantRow = Selectable<TenantsTable>;

export async function findTenantById(db: Kysely<Database>, tenantId: string): Promise<TenantRow | undefined> {
  return db.selectFrom('tenants').selectAll().where('id', '=', tenantId).executeTakeFirst();
}

export async function listTenantIds(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('tenants').select('id').orderBy('id').execute();
  return rows.map((row) => row.id);
}

/** Creates the tenant unless it exists; an existing tenant keeps its name and settings. */
export async function insertTenantIfAbsent(
  db: Kysely<Database>,
  tenant: { readonly id: string; readonly name: string; readonly startDate: string },
): Promise<void> {
  await db
    .insertInto('tenants')
    .values({ id: tenant.id, name: tenant.name, start_date: tenant.startDate })
    .onConflict((conflict) => conflict.column('id').doNothing())
    .execute();
}

export interface TenantSettingsUpdate {
  readonly startDate: string;
  readonly syncLanguage: TenantRow['sync_language'];
  readonly defaultCustomerLanguage: TenantRow['default_customer_language'];
  readonly mode?: TenantRow['sync_mode'];
}

/** Stores the tenant's choices; false when there is no such tenant. */
export async function updateTenantSettings(
  db: Kysely<Database>,
  tenantId: string,
  settings: TenantSettingsUpdate,
): Promise<boolean> {
  const result = await db
    .updateTable('tenants')
    .set({
      start_date: settings.startDate,
      sync_language: settings.syncLanguage,
      default_customer_language: settings.defaultCustomerLanguage,
      ...(settings.mode ? { sync_mode: settings.mode } : {}),
    })
    .where('id', '=', tenantId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Deletes the tenant and, by cascade, everything synced for it. The CRM's rules refuse this outside
 * a sync transaction (see db/crm-rules.ts asSync), so callers pass one.
 */
export async function deleteTenant(db: Kysely<Database>, tenantId: string): Promise<void> {
  await db.deleteFrom('tenants').where('id', '=', tenantId).execute();
}

/**
 * The qbo_connections table as the commands need it: which QuickBooks company a tenant is
 * connected to. Tokens are read and written by activities/qbo/qbo-auth.ts only.
 */
export async function findConnectedRealm(db: Kysely<Database>, tenantId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('qbo_connections')
    .select('realm_id')
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return row?.realm_id;
}

/** The tenant connected to a QuickBooks company (a webhook names only the realm); undefined when none. */
export async function findTenantByRealm(
  db: Executor,
  realmId: string,
  environment: Selectable<QboConnectionsTable>['environment'],
): Promise<string | undefined> {
  const row = await db
    .selectFrom('qbo_connections')
    .select('tenant_id')
    .where('realm_id', '=', realmId)
    .where('environment', '=', environment)
    .executeTakeFirst();
  return row?.tenant_id;
}

/** What the sync of one tenant needs to know about it; shaped like the writer's TenantSettings. */
export interface SyncSettings {
  readonly tenantId: string;
  readonly realmId: string;
  /** The tenant's protected QuickBooks list (R14). */
  readonly quickbooksListId: number;
  /** R2, as YYYY-MM-DD. */
  readonly startDate: string;
  readonly syncLanguage: Selectable<TenantsTable>['sync_language'];
  readonly defaultLanguage: Selectable<TenantsTable>['default_customer_language'];
  readonly mode: Selectable<TenantsTable>['sync_mode'];
  readonly conflictPolicy: Selectable<TenantsTable>['conflict_policy'];
}

/** The tenant's sync settings; undefined when it has no QuickBooks connection (or no QuickBooks list). */
export async function readSyncSettings(db: Executor, tenantId: string): Promise<SyncSettings | undefined> {
  const row = await db
    .selectFrom('tenants')
    .innerJoin('qbo_connections', 'qbo_connections.tenant_id', 'tenants.id')
    .innerJoin('lists', (join) => join.onRef('lists.tenant_id', '=', 'tenants.id').on('lists.is_quickbooks', '=', true))
    .select([
      'tenants.start_date',
      'tenants.sync_language',
      'tenants.default_customer_language',
      'tenants.sync_mode',
      'tenants.conflict_policy',
      'qbo_connections.realm_id',
      'lists.id as list_id',
    ])
    .where('tenants.id', '=', tenantId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    tenantId,
    realmId: row.realm_id,
    quickbooksListId: row.list_id,
    startDate: isoDate(row.start_date),
    syncLanguage: row.sync_language,
    defaultLanguage: row.default_customer_language,
    mode: row.sync_mode,
    conflictPolicy: row.conflict_policy,
  };
}

/** Days between the tenant's scheduled full reconciles (R21); 0 when it has none. */
export async function readFullReconcileDays(db: Executor, tenantId: string): Promise<number> {
  const row = await db
    .selectFrom('tenants')
    .select('full_reconcile_days')
    .where('id', '=', tenantId)
    .executeTakeFirst();
  return row?.full_reconcile_days ?? 0;
}

/** Sets the days between the tenant's scheduled full reconciles; false when there is no such tenant. */
export async function saveFullReconcileDays(db: Executor, tenantId: string, days: number): Promise<boolean> {
  const result = await db
    .updateTable('tenants')
    .set({ full_reconcile_days: days })
    .where('id', '=', tenantId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Applies a mode change; the one-way lock is a trigger on sync_mode (R8). */
export async function saveSyncMode(
  db: Executor,
  tenantId: string,
  mode: Selectable<TenantsTable>['sync_mode'],
): Promise<void> {
  await db.updateTable('tenants').set({ sync_mode: mode }).where('id', '=', tenantId).execute();
}

/** The tenant's start date, sync language and the QuickBooks company it is connected to. */
export async function findVerifyScope(db: Kysely<Database>, tenantId: string) {
  return db
    .selectFrom('tenants')
    .innerJoin('qbo_connections', 'qbo_connections.tenant_id', 'tenants.id')
    .select([
      'tenants.id',
      'tenants.start_date',
      'tenants.sync_language',
      'tenants.sync_mode',
      'qbo_connections.realm_id',
    ])
    .where('tenants.id', '=', tenantId)
    .executeTakeFirstOrThrow();
}

/**
 * The QuickBooks company a tenant is pinned to: its connection's, or, while it has none (after
 * `qbsync disconnect`), the companies its synced data came from. Reconnecting may only return there.
 */
export async function findPinnedRealms(db: Executor, tenantId: string): Promise<string[]> {
  const connected = await findConnectedRealm(db, tenantId);
  if (connected !== undefined) return [connected];
  const rows = await db
    .selectFrom('qbo_links')
    .select('realm_id')
    .where('tenant_id', '=', tenantId)
    .union(db.selectFrom('sync_cursors').select('realm_id').where('tenant_id', '=', tenantId))
    .union(db.selectFrom('sync_errors').select('realm_id').where('tenant_id', '=', tenantId))
    .execute();
  return rows.map((row) => row.realm_id).sort();
}

/** What removeSyncedData deleted, per kind of row. */
export interface RemovedSyncedData {
  readonly opportunities: number;
  readonly accounts: number;
  readonly products: number;
  readonly revenueCategories: number;
  readonly links: number;
  readonly cursors: number;
  readonly errors: number;
  readonly passes: number;
  /** Sub-customers a read had kept waiting for their parent (deferred-sub-customers.ts). */
  readonly deferredSubCustomers: number;
}

/**
 * Deletes everything the sync brought in for the tenant, from whichever company: the CRM rows its
 * links point at (their contacts, lines and list memberships go by cascade), the links, cursors,
 * errors, passes and sub-customers waiting for their parent. The tenant, its settings, its own lists and CRM-only rows stay. The CRM's rules
 * let only the sync delete synced rows, so callers pass a sync transaction (db/crm-rules.ts asSync).
 */
export async function removeSyncedData(trx: Executor, tenantId: string): Promise<RemovedSyncedData> {
  const linked = (column: 'opportunity_id' | 'account_id' | 'product_id' | 'revenue_category_id') =>
    trx.selectFrom('qbo_links').select(column).where('tenant_id', '=', tenantId).where(column, 'is not', null);
  const count = (result: { numDeletedRows: bigint }) => Number(result.numDeletedRows);
  // Opportunities reference accounts and (through their lines) products, so they go first.
  const opportunities = count(
    await trx
      .deleteFrom('opportunities')
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', linked('opportunity_id'))
      .executeTakeFirst(),
  );
  const accounts = count(
    await trx
      .deleteFrom('accounts')
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', linked('account_id'))
      .executeTakeFirst(),
  );
  await trx
    .updateTable('opportunity_lines')
    .set({ product_id: null })
    .where('tenant_id', '=', tenantId)
    .where('product_id', 'in', linked('product_id'))
    .execute();
  const products = count(
    await trx
      .deleteFrom('products')
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', linked('product_id'))
      .executeTakeFirst(),
  );
  // A CRM-made product may still name a synced revenue category: it keeps the product, not the category.
  await trx
    .updateTable('products')
    .set({ revenue_category_id: null })
    .where('tenant_id', '=', tenantId)
    .where('revenue_category_id', 'in', linked('revenue_category_id'))
    .execute();
  const revenueCategories = count(
    await trx
      .deleteFrom('revenue_categories')
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', linked('revenue_category_id'))
      .executeTakeFirst(),
  );
  const links = count(await trx.deleteFrom('qbo_links').where('tenant_id', '=', tenantId).executeTakeFirst());
  const cursors = count(await trx.deleteFrom('sync_cursors').where('tenant_id', '=', tenantId).executeTakeFirst());
  const errors = count(await trx.deleteFrom('sync_errors').where('tenant_id', '=', tenantId).executeTakeFirst());
  const passes = count(await trx.deleteFrom('sync_passes').where('tenant_id', '=', tenantId).executeTakeFirst());
  const deferredSubCustomers = count(
    await trx.deleteFrom('deferred_sub_customers').where('tenant_id', '=', tenantId).executeTakeFirst(),
  );
  return { opportunities, accounts, products, revenueCategories, links, cursors, errors, passes, deferredSubCustomers };
}

/** R17 and the two-way conflict policy: changes only what is given. */
export async function saveTwoWaySettings(
  db: Executor,
  tenantId: string,
  change: { readonly allowCrmEdits?: boolean; readonly conflictPolicy?: TenantRow['conflict_policy'] },
): Promise<void> {
  if (change.allowCrmEdits === undefined && change.conflictPolicy === undefined) return;
  await db
    .updateTable('tenants')
    .set({
      ...(change.allowCrmEdits !== undefined ? { allow_crm_edits: change.allowCrmEdits } : {}),
      ...(change.conflictPolicy !== undefined ? { conflict_policy: change.conflictPolicy } : {}),
    })
    .where('id', '=', tenantId)
    .execute();
}
