import { sql } from 'kysely';
import type { Executor } from '../recordset.js';
import type { RealmKey } from './qbo-links.js';

/**
 * Sub-customers that a paged read met before their parent, kept as QBO sent them until the parent
 * is linked (issue 16, activities/sync/crm-writer.ts). One row per sub-customer: the writer takes a
 * waiting version out before it decides on a newer one, so what waits is always the newest seen.
 */
export interface DeferredSubCustomer {
  readonly qboId: string;
  readonly parentQboId: string;
  /** The record as QBO sent it. */
  readonly record: Readonly<Record<string, unknown>>;
}

/** Which waiting sub-customers to take: these ids, the children of these parents, or all. */
export type DeferredSelection =
  | { readonly kind: 'ids'; readonly qboIds: readonly string[] }
  | { readonly kind: 'children'; readonly parentQboIds: readonly string[] }
  | { readonly kind: 'all' };

/** Keeps sub-customers waiting for their parent, each replacing its own waiting version if any. */
export async function deferSubCustomers(
  db: Executor,
  realm: RealmKey,
  subCustomers: readonly DeferredSubCustomer[],
  now: Date,
): Promise<void> {
  if (subCustomers.length === 0) return;
  // Arrays rather than a jsonb recordset: jsonb refuses the \u0000 a record's text may hold.
  const ids = subCustomers.map((sub) => sub.qboId);
  const parents = subCustomers.map((sub) => sub.parentQboId);
  const records = subCustomers.map((sub) => JSON.stringify(sub.record));
  await sql`
    INSERT INTO deferred_sub_customers (tenant_id, realm_id, qbo_id, parent_qbo_id, record, deferred_at)
    SELECT ${realm.tenantId}, ${realm.realmId}, d.qbo_id, d.parent_qbo_id, d.record, ${now}
    FROM unnest(${ids}::text[], ${parents}::text[], ${records}::json[]) AS d(qbo_id, parent_qbo_id, record)
    ON CONFLICT (tenant_id, realm_id, qbo_id) DO UPDATE
      SET parent_qbo_id = EXCLUDED.parent_qbo_id, record = EXCLUDED.record, deferred_at = EXCLUDED.deferred_at`.execute(
    db,
  );
}

/**
 * Removes the selected waiting sub-customers and returns them, for the caller to write (or defer
 * again) in the same transaction: if it rolls back, they wait on.
 */
export async function takeDeferredSubCustomers(
  db: Executor,
  realm: RealmKey,
  selection: DeferredSelection,
): Promise<DeferredSubCustomer[]> {
  if (selection.kind === 'ids' && selection.qboIds.length === 0) return [];
  if (selection.kind === 'children' && selection.parentQboIds.length === 0) return [];
  let query = db
    .deleteFrom('deferred_sub_customers')
    .where('tenant_id', '=', realm.tenantId)
    .where('realm_id', '=', realm.realmId);
  if (selection.kind === 'ids') query = query.where(sql<boolean>`qbo_id = ANY(${[...selection.qboIds]}::text[])`);
  if (selection.kind === 'children') {
    query = query.where(sql<boolean>`parent_qbo_id = ANY(${[...selection.parentQboIds]}::text[])`);
  }
  const rows = await query.returning(['qbo_id', 'parent_qbo_id', 'record']).execute();
  return rows.map((row) => ({ qboId: row.qbo_id, parentQboId: row.parent_qbo_id, record: row.record }));
}

/** How many sub-customers of the tenant's company wait for their parent. */
export async function countDeferredSubCustomers(db: Executor, realm: RealmKey): Promise<number> {
  const row = await db
    .selectFrom('deferred_sub_customers')
    .select((eb) => eb.fn.countAll<string>().as('waiting'))
    .where('tenant_id', '=', realm.tenantId)
    .where('realm_id', '=', realm.realmId)
    .executeTakeFirstOrThrow();
  return Number(row.waiting);
}
