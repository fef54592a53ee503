import { sql, type Kysely } from 'kysely';

/**
 * The per-realm limiter's second token bucket, for QBO's 40 batch requests (POST /batch) a minute
 * per realm (activities/qbo/realm-limiter.ts). It sits on the realm's row beside the request bucket
 * so that one locked row takes a batch request's two tokens together. A bucket last refilled at
 * the epoch is full the first time it is read, so existing realms and realms whose row a plain
 * request created start with their whole batch burst.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE qbo_rate_buckets
      ADD COLUMN batch_tokens double precision NOT NULL DEFAULT 0,
      ADD COLUMN batch_refilled_at timestamptz NOT NULL DEFAULT 'epoch'`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE qbo_rate_buckets
      DROP COLUMN batch_refilled_at,
      DROP COLUMN batch_tokens`.execute(db);
}
