import { sql, type Kysely } from 'kysely';

/**
 * R16: the primary contact's recompute finds the contacts to mark by their ids, whatever the
 * table's statistics say.
 *
 * Its second UPDATE joined contacts to the oldest contact of each account. Once ANALYZE had seen
 * the table at rest, where every contact but a few is primary, the planner expected about one
 * contact not primary, and for a page of new accounts it scanned the whole contacts table (every
 * tenant's) and re-ran the oldest-per-account subquery once for each row it kept: 130 ms for a page
 * of 900 contacts among 20,000, and growing with the table. The oldest contact of each account is
 * now found first, one probe of the (account_id, created_at, id) index per account, as the step
 * down already does, and the contacts to mark are reached through the primary key.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await recomputeWith(
    db,
    sql`UPDATE contacts c SET is_primary = true
        WHERE c.id = ANY(ARRAY(
          SELECT (SELECT o.id FROM contacts o WHERE o.account_id = account.id ORDER BY o.created_at, o.id LIMIT 1)
          FROM unnest(p_account_ids) AS account(id)))
          AND NOT c.is_primary;`,
  );
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await recomputeWith(
    db,
    sql`UPDATE contacts c SET is_primary = true
        FROM (SELECT DISTINCT ON (account_id) id FROM contacts
              WHERE account_id = ANY(p_account_ids) ORDER BY account_id, created_at, id) oldest
        WHERE c.id = oldest.id AND NOT c.is_primary;`,
  );
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function recomputeWith(db: Kysely<any>, markOldest: ReturnType<typeof sql>): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION qbsync_recompute_primary_contacts(p_account_ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      -- Locked in id order, so that two writers touching the same accounts queue instead of deadlocking.
      PERFORM 1 FROM accounts WHERE id = ANY(p_account_ids) ORDER BY id FOR UPDATE;
      -- The old primaries step down first: at most one contact of an account is primary at any time.
      UPDATE contacts c SET is_primary = false
        WHERE c.account_id = ANY(p_account_ids) AND c.is_primary
          AND c.id <> (SELECT o.id FROM contacts o WHERE o.account_id = c.account_id ORDER BY o.created_at, o.id LIMIT 1);
      ${markOldest}
    END $$`.execute(db);
}
