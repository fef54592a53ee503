import { sql, type Kysely } from 'kysely';

/**
 * Sub-customers read in a backfill page before their parent (QBO often dates a parent after its
 * jobs): they wait here, as QBO sent them, until a later page brings the parent, instead of a read
 * of the parent per page. Written in the page's own transaction, so the cursor can move past them
 * and a worker that dies loses nothing; the tenant's rows go with the tenant.
 * `record` is json, not jsonb: jsonb refuses the \u0000 that QBO's stored text may hold.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE deferred_sub_customers (
      tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      realm_id text NOT NULL,
      qbo_id text NOT NULL,
      parent_qbo_id text NOT NULL,
      record json NOT NULL,
      deferred_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, realm_id, qbo_id)
    )`.execute(db);
  await sql`CREATE INDEX deferred_sub_customers_parent ON deferred_sub_customers (tenant_id, realm_id, parent_qbo_id)`.execute(
    db,
  );
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE deferred_sub_customers`.execute(db);
}
