import { sql, type Kysely } from 'kysely';

/**
 * Shared state of the per-realm request limiter (activities/qbo/realm-limiter.ts), so that every
 * worker together stays under QBO's limits: a token bucket per realm for the request rate, and
 * leased slots per realm for concurrency. Leases expire, so a worker that dies frees its slots.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE qbo_rate_buckets (
      realm_id text PRIMARY KEY,
      tokens double precision NOT NULL,
      refilled_at timestamptz NOT NULL
    )`.execute(db);
  await sql`
    CREATE TABLE qbo_request_slots (
      realm_id text NOT NULL,
      slot integer NOT NULL CHECK (slot >= 0),
      holder text,
      leased_until timestamptz NOT NULL DEFAULT '-infinity',
      PRIMARY KEY (realm_id, slot)
    )`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE qbo_request_slots`.execute(db);
  await sql`DROP TABLE qbo_rate_buckets`.execute(db);
}
