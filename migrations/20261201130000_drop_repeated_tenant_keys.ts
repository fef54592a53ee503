import { sql, type Kysely } from 'kysely';

/**
 * Drops the foreign keys to tenants that only repeat what another key of the same row already
 * fixes, each a check on every row the sync inserts:
 * - qbo_links: exactly one target column is set (a CHECK), and that target's key (tenant_id, …)
 *   names the tenant;
 * - list_members: its list's key (tenant_id, list_id) names the tenant.
 * Each of those keys cascades, so deleting a tenant still deletes these rows through their parent.
 * opportunity_lines keeps its tenant key: its product key does not cascade (the sync never deletes a
 * product, R22), so without it a tenant's products could go before its lines, and the tenant's
 * deletion would be refused.
 */
const repeated = ['qbo_links', 'list_members'] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  for (const table of repeated) {
    await sql`ALTER TABLE ${sql.table(table)} DROP CONSTRAINT ${sql.id(`${table}_tenant_id_fkey`)}`.execute(db);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of repeated) {
    await sql`
      ALTER TABLE ${sql.table(table)} ADD CONSTRAINT ${sql.id(`${table}_tenant_id_fkey`)}
        FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE`.execute(db);
  }
}
