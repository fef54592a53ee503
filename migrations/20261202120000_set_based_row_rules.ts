import { sql, type Kysely } from 'kysely';

/**
 * Makes the rules that run on every row the sync inserts cost what a set-based write costs. Each
 * of these ran once per row of a page; measured over a 100k-record backfill they were a large part
 * of PostgreSQL's CPU (EXPLAIN ANALYZE on a page of 920 contacts: 95 ms of 120 in the primary-contact
 * trigger).
 *
 * - R16, contacts: the primary contact of the accounts an INSERT touched is recomputed once per
 *   statement, over its transition table, rather than once per inserted row. Updates that move a
 *   contact and deletions keep their row trigger (a trigger on a column list cannot have a
 *   transition table), and both paths share one set-based function.
 * - opportunity_lines: the tenant key only repeated what the opportunity's key (tenant_id,
 *   opportunity_id) already fixes. It was there so that deleting a tenant did not trip on a line's
 *   product key when the tenant's products went before its lines; that product key is now checked
 *   at commit, when the lines are gone with their opportunities.
 * - list_members: the guard is skipped for the sync's own writes by its WHEN clause, as the guards
 *   of opportunities and lines already are, instead of by a plpgsql call that returns at once.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION qbsync_recompute_primary_contacts(p_account_ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      -- Locked in id order, so that two writers touching the same accounts queue instead of deadlocking.
      PERFORM 1 FROM accounts WHERE id = ANY(p_account_ids) ORDER BY id FOR UPDATE;
      -- The old primaries step down first: at most one contact of an account is primary at any time.
      UPDATE contacts c SET is_primary = false
        WHERE c.account_id = ANY(p_account_ids) AND c.is_primary
          AND c.id <> (SELECT o.id FROM contacts o WHERE o.account_id = c.account_id ORDER BY o.created_at, o.id LIMIT 1);
      UPDATE contacts c SET is_primary = true
        FROM (SELECT DISTINCT ON (account_id) id FROM contacts
              WHERE account_id = ANY(p_account_ids) ORDER BY account_id, created_at, id) oldest
        WHERE c.id = oldest.id AND NOT c.is_primary;
    END $$`.execute(db);
  await sql`
    CREATE OR REPLACE FUNCTION qbsync_recompute_primary_contact(p_account_id bigint) RETURNS void LANGUAGE sql AS $$
      SELECT qbsync_recompute_primary_contacts(ARRAY[p_account_id])
    $$`.execute(db);
  await sql`
    CREATE FUNCTION qbsync_contacts_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM qbsync_recompute_primary_contacts(
        ARRAY(SELECT DISTINCT account_id FROM inserted_contacts WHERE account_id IS NOT NULL));
      RETURN NULL;
    END $$`.execute(db);
  await sql`DROP TRIGGER contacts_primary_after ON contacts`.execute(db);
  await sql`
    CREATE TRIGGER contacts_primary_after AFTER DELETE OR UPDATE OF account_id, created_at ON contacts
      FOR EACH ROW EXECUTE FUNCTION qbsync_contacts_after()`.execute(db);
  await sql`
    CREATE TRIGGER contacts_primary_after_insert AFTER INSERT ON contacts
      REFERENCING NEW TABLE AS inserted_contacts
      FOR EACH STATEMENT EXECUTE FUNCTION qbsync_contacts_after_insert()`.execute(db);

  await sql`
    ALTER TABLE opportunity_lines
      DROP CONSTRAINT opportunity_lines_tenant_id_fkey,
      DROP CONSTRAINT opportunity_lines_tenant_id_product_id_fkey,
      ADD CONSTRAINT opportunity_lines_tenant_id_product_id_fkey
        FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id) DEFERRABLE INITIALLY DEFERRED`.execute(
    db,
  );

  await sql`DROP TRIGGER list_members_guard ON list_members`.execute(db);
  await sql`
    CREATE TRIGGER list_members_guard BEFORE INSERT OR UPDATE OR DELETE ON list_members
      FOR EACH ROW WHEN (NOT qbsync_is_sync()) EXECUTE FUNCTION qbsync_guard_list_members()`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER list_members_guard ON list_members`.execute(db);
  await sql`
    CREATE TRIGGER list_members_guard BEFORE INSERT OR UPDATE OR DELETE ON list_members
      FOR EACH ROW EXECUTE FUNCTION qbsync_guard_list_members()`.execute(db);

  await sql`
    ALTER TABLE opportunity_lines
      DROP CONSTRAINT opportunity_lines_tenant_id_product_id_fkey,
      ADD CONSTRAINT opportunity_lines_tenant_id_product_id_fkey
        FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
      ADD CONSTRAINT opportunity_lines_tenant_id_fkey
        FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE`.execute(db);

  await sql`DROP TRIGGER contacts_primary_after_insert ON contacts`.execute(db);
  await sql`DROP TRIGGER contacts_primary_after ON contacts`.execute(db);
  await sql`
    CREATE TRIGGER contacts_primary_after AFTER INSERT OR DELETE OR UPDATE OF account_id, created_at ON contacts
      FOR EACH ROW EXECUTE FUNCTION qbsync_contacts_after()`.execute(db);
  await sql`DROP FUNCTION qbsync_contacts_after_insert()`.execute(db);
  await sql`
    CREATE OR REPLACE FUNCTION qbsync_recompute_primary_contact(p_account_id bigint) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      oldest bigint;
    BEGIN
      PERFORM 1 FROM accounts WHERE id = p_account_id FOR UPDATE;
      SELECT id INTO oldest FROM contacts WHERE account_id = p_account_id ORDER BY created_at, id LIMIT 1;
      UPDATE contacts SET is_primary = false
        WHERE account_id = p_account_id AND is_primary AND id IS DISTINCT FROM oldest;
      IF oldest IS NOT NULL THEN
        UPDATE contacts SET is_primary = true WHERE id = oldest AND NOT is_primary;
      END IF;
    END $$`.execute(db);
  await sql`DROP FUNCTION qbsync_recompute_primary_contacts(bigint[])`.execute(db);
}
