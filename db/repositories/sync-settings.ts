import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, TenantsTable } from '../schema.js';

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
}

/** The tenant's sync settings; undefined when it has no QuickBooks connection (or no QuickBooks list). */
export async function readSyncSettings(
  db: Kysely<Database> | Transaction<Database>,
  tenantId: string,
): Promise<SyncSettings | undefined> {
  const row = await db
    .selectFrom('tenants')
    .innerJoin('qbo_connections', 'qbo_connections.tenant_id', 'tenants.id')
    .innerJoin('lists', (join) => join.onRef('lists.tenant_id', '=', 'tenants.id').on('lists.is_quickbooks', '=', true))
    .select([
      'tenants.start_date',
      'tenants.sync_language',
      'tenants.default_customer_language',
      'tenants.sync_mode',
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
  };
}

/** A date column as YYYY-MM-DD, whether the driver hands it over parsed or as text. */
export function isoDate(value: Date | string): string {
  return typeof value === 'string' ? value.slice(0, 10) : value.toISOString().slice(0, 10);
}

/** Applies a mode change; the one-way lock is a trigger on sync_mode (R8). */
export async function saveSyncMode(
  db: Kysely<Database> | Transaction<Database>,
  tenantId: string,
  mode: Selectable<TenantsTable>['sync_mode'],
): Promise<void> {
  await db.updateTable('tenants').set({ sync_mode: mode }).where('id', '=', tenantId).execute();
}
