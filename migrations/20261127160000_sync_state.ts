import { sql, type Kysely } from 'kysely';

/**
 * What the tenant sync needs beyond the CRM model: transactions hard-deleted in QBO mark their
 * opportunity deleted (kept, not removed, so reports and history stay explainable), and lookups
 * by QBO id per tenant are indexed for the page writer.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE opportunities ADD COLUMN deleted_at timestamptz`.execute(db);
  await sql`CREATE INDEX opportunities_open ON opportunities (tenant_id, source_entity) WHERE deleted_at IS NULL`.execute(
    db,
  );
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX opportunities_open`.execute(db);
  await sql`ALTER TABLE opportunities DROP COLUMN deleted_at`.execute(db);
}
