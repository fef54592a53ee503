import { sql, type Kysely } from 'kysely';

/**
 * R21, the repair after a QuickBooks customer merge. A merged-away customer's link keeps a pointer
 * to the customer that survived it (`merged_into_qbo_id`), so that later references to the merged-away
 * id resolve to the survivor's account; once repaired, its `account_id` is the survivor's account, so
 * the one-customer-per-account rule leaves merged links out. Each tenant's full reconcile runs every
 * `full_reconcile_days` days (0: never on its own).
 *
 * Frozen in time: plain SQL and Kysely<any>, no application imports.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE qbo_links ADD COLUMN merged_into_qbo_id text
              CHECK (merged_into_qbo_id IS NULL OR (entity_type = 'Customer' AND parent_qbo_id IS NULL
                                                    AND merged_into_qbo_id <> qbo_id))`.execute(db);
  await sql`DROP INDEX qbo_links_one_customer_per_account`.execute(db);
  await sql`CREATE UNIQUE INDEX qbo_links_one_customer_per_account ON qbo_links (account_id)
              WHERE account_id IS NOT NULL AND parent_qbo_id IS NULL AND merged_into_qbo_id IS NULL`.execute(db);
  await sql`CREATE INDEX qbo_links_merged ON qbo_links (tenant_id, realm_id) WHERE merged_into_qbo_id IS NOT NULL`.execute(
    db,
  );
  await sql`ALTER TABLE tenants ADD COLUMN full_reconcile_days integer NOT NULL DEFAULT 7
              CHECK (full_reconcile_days BETWEEN 0 AND 365)`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE tenants DROP COLUMN full_reconcile_days`.execute(db);
  await sql`DROP INDEX qbo_links_merged`.execute(db);
  await sql`DROP INDEX qbo_links_one_customer_per_account`.execute(db);
  await sql`DELETE FROM qbo_links WHERE merged_into_qbo_id IS NOT NULL`.execute(db);
  await sql`ALTER TABLE qbo_links DROP COLUMN merged_into_qbo_id`.execute(db);
  await sql`CREATE UNIQUE INDEX qbo_links_one_customer_per_account ON qbo_links (account_id)
              WHERE account_id IS NOT NULL AND parent_qbo_id IS NULL`.execute(db);
}
