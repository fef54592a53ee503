import { sql, type Kysely } from 'kysely';

/**
 * R9: estimates, invoices, credit notes and sales receipts (opportunities and their lines, with
 * their sales stages) and revenue categories come from QuickBooks, one way, by law. Only the sync
 * writes them; a CRM user's insert, update or delete is refused with SQLSTATE QB009. Deleting the
 * tenant still takes them with it.
 *
 * The WHEN clause keeps the sync's own bulk writes from calling the function at all.
 */
const guardedTables = ['opportunities', 'opportunity_lines', 'revenue_categories'] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION qbsync_guard_one_way_record() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      what text := CASE TG_TABLE_NAME
                     WHEN 'opportunities' THEN 'opportunity'
                     WHEN 'opportunity_lines' THEN 'opportunity line'
                     ELSE 'revenue category' END;
      plural text := replace(TG_TABLE_NAME, '_', ' ');
    BEGIN
      IF TG_OP = 'INSERT' THEN
        RAISE EXCEPTION USING ERRCODE = 'QB009',
          MESSAGE = format('R9: %s come from QuickBooks and sync one way (QuickBooks to CRM): a CRM user cannot create one; create it in QuickBooks', plural);
      END IF;
      IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id) THEN
        RETURN OLD; -- the tenant itself is being deleted
      END IF;
      RAISE EXCEPTION USING ERRCODE = 'QB009',
        MESSAGE = format('R9: %s %s comes from QuickBooks and syncs one way (QuickBooks to CRM): a CRM user cannot %s it; change it in QuickBooks',
                         what, OLD.id, lower(TG_OP));
    END $$`.execute(db);
  for (const table of guardedTables) {
    await sql`
      CREATE TRIGGER ${sql.id(`${table}_one_way`)} BEFORE INSERT OR UPDATE OR DELETE ON ${sql.table(table)}
        FOR EACH ROW WHEN (NOT qbsync_is_sync()) EXECUTE FUNCTION qbsync_guard_one_way_record()`.execute(db);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of guardedTables) {
    await sql`DROP TRIGGER ${sql.id(`${table}_one_way`)} ON ${sql.table(table)}`.execute(db);
  }
  await sql`DROP FUNCTION qbsync_guard_one_way_record()`.execute(db);
}
