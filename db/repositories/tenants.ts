import type { Kysely, Selectable } from 'kysely';
import type { Database, TenantsTable } from '../schema.js';

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
 * When the tenant's first backfill pass started, or undefined before it has one. Reads sync_passes:
 * `qbsync watch` measures its rate from there.
 */
export async function backfillStartedAt(db: Kysely<Database>, tenantId: string): Promise<Date | undefined> {
  const row = await db
    .selectFrom('sync_passes')
    .select((eb) => eb.fn.min('started_at').as('started'))
    .where('tenant_id', '=', tenantId)
    .where('kind', '=', 'backfill')
    .executeTakeFirst();
  const started = row?.started as Date | string | null | undefined;
  return started ? new Date(started) : undefined;
}
