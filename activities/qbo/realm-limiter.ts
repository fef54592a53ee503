import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { RequestClass, RequestLimiter } from './qbo-client.js';

/**
 * QBO allows 500 requests a minute and 10 at once per company, and of those requests at most 40
 * batch requests (POST /batch) a minute; past any of these it answers 429. This limiter keeps all
 * workers together under all three, with its state in PostgreSQL:
 * - rate: a token bucket per realm, refilled at `requestsPerMinute` and holding at most `burst`.
 *   In any minute at most burst + requestsPerMinute requests start, so the defaults (10 + 480)
 *   stay under 500 whatever the alignment of QBO's window.
 * - batch rate: a second token bucket on the same row, refilled at `batchRequestsPerMinute` and
 *   holding at most `batchBurst`. A batch request takes a token from both buckets. By the same
 *   reckoning the defaults start at most 2 + 36 = 38 batch requests in any minute, under QBO's 40
 *   with room for QBO's window and PostgreSQL's clock not agreeing to the second. The burst is
 *   small because the budget is: 2 lets two passes that start together send their counts at once,
 *   while a larger one would be paid for by a lower steady rate under the same 40.
 * - concurrency: `maxConcurrent` leased slots per realm; a lease outlives the longest request and
 *   then expires, so a worker killed mid-request frees its slot.
 * A request waits for one statement that takes a free slot and its tokens together, or none of
 * them; the slot is handed back after the request without the request waiting for it.
 */
export interface RealmLimiterOptions {
  readonly requestsPerMinute?: number;
  readonly burst?: number;
  /** Batch requests (POST /batch) a minute; each of them is counted in `requestsPerMinute` as well. */
  readonly batchRequestsPerMinute?: number;
  readonly batchBurst?: number;
  readonly maxConcurrent?: number;
  /** How long a slot stays leased if its holder never releases it. */
  readonly leaseMs?: number;
  /** Longest wait for a slot or a token before giving up with an error. */
  readonly maxWaitMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export class RateLimitWaitExceeded extends Error {
  override readonly name = 'RateLimitWaitExceeded';
}

export const qboLimits = {
  requestsPerMinute: 480,
  burst: 10,
  batchRequestsPerMinute: 36,
  batchBurst: 2,
  maxConcurrent: 10,
} as const;

export function createRealmLimiter(db: Kysely<unknown>, options: RealmLimiterOptions = {}): RequestLimiter {
  const perMinute = options.requestsPerMinute ?? qboLimits.requestsPerMinute;
  const burst = options.burst ?? qboLimits.burst;
  const batchPerMinute = options.batchRequestsPerMinute ?? qboLimits.batchRequestsPerMinute;
  const batchBurst = options.batchBurst ?? qboLimits.batchBurst;
  const maxConcurrent = options.maxConcurrent ?? qboLimits.maxConcurrent;
  // A bucket that can never hold a whole token, or never refills, would make every request wait
  // out maxWaitMs: refuse such settings at once.
  for (const [name, value, least] of [
    ['requestsPerMinute', perMinute, Number.MIN_VALUE],
    ['burst', burst, 1],
    ['batchRequestsPerMinute', batchPerMinute, Number.MIN_VALUE],
    ['batchBurst', batchBurst, 1],
    ['maxConcurrent', maxConcurrent, 1],
  ] as const) {
    if (!Number.isFinite(value) || value < least)
      throw new RangeError(`the realm limiter's ${name} must be at least ${least}, got ${value}`);
  }
  const leaseSeconds = (options.leaseMs ?? 130_000) / 1000;
  const maxWaitMs = options.maxWaitMs ?? 10 * 60_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const perSecond = perMinute / 60;
  const batchPerSecond = batchPerMinute / 60;
  const holder = randomUUID();
  const preparedRealms = new Set<string>();

  async function prepare(realmId: string): Promise<void> {
    if (preparedRealms.has(realmId)) return;
    await sql`
      INSERT INTO qbo_request_slots (realm_id, slot)
      SELECT ${realmId}, generate_series(0, ${maxConcurrent - 1})
      ON CONFLICT DO NOTHING`.execute(db);
    preparedRealms.add(realmId);
  }

  /**
   * In one statement: a free slot, and the request's tokens once a slot is free (a batch request
   * takes one from each bucket, a plain request only a request token); the slot is leased only with
   * the tokens. Says which slot, or that every slot is busy, or when the tokens are due.
   */
  async function acquire(
    realmId: string,
    requestClass: RequestClass,
  ): Promise<{ slot: number } | { slotBusy: true } | { tokenDueMs: number }> {
    const batch = requestClass === 'batch';
    const refilled = sql`LEAST(${burst}::float8, b.tokens + EXTRACT(EPOCH FROM clock_timestamp() - b.refilled_at) * ${perSecond}::float8)`;
    const batchRefilled = sql`LEAST(${batchBurst}::float8, b.batch_tokens + EXTRACT(EPOCH FROM clock_timestamp() - b.batch_refilled_at) * ${batchPerSecond}::float8)`;
    const takeTokens = batch
      ? sql`
        INSERT INTO qbo_rate_buckets AS b (realm_id, tokens, refilled_at, batch_tokens, batch_refilled_at)
        SELECT ${realmId}, ${burst - 1}, clock_timestamp(), ${batchBurst - 1}, clock_timestamp() FROM free
        ON CONFLICT (realm_id) DO UPDATE
          SET tokens = ${refilled} - 1, refilled_at = clock_timestamp(),
              batch_tokens = ${batchRefilled} - 1, batch_refilled_at = clock_timestamp()
          WHERE ${refilled} >= 1 AND ${batchRefilled} >= 1
        RETURNING tokens`
      : sql`
        INSERT INTO qbo_rate_buckets AS b (realm_id, tokens, refilled_at)
        SELECT ${realmId}, ${burst - 1}, clock_timestamp() FROM free
        ON CONFLICT (realm_id) DO UPDATE
          SET tokens = ${refilled} - 1, refilled_at = clock_timestamp()
          WHERE ${refilled} >= 1
        RETURNING tokens`;
    const batchTokensNow = batch
      ? sql`(SELECT ${batchRefilled} FROM qbo_rate_buckets b WHERE b.realm_id = ${realmId})`
      : sql`NULL::float8`;
    const result = await sql<{
      slot: number | null;
      free: boolean;
      tokens: number | null;
      batch_tokens: number | null;
    }>`
      WITH free AS (
        SELECT realm_id, slot FROM qbo_request_slots
        WHERE realm_id = ${realmId} AND slot < ${maxConcurrent} AND leased_until < clock_timestamp()
        ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED
      ), token AS (${takeTokens}
      ), leased AS (
        UPDATE qbo_request_slots s
        SET holder = ${holder}, leased_until = clock_timestamp() + make_interval(secs => ${leaseSeconds})
        FROM free
        WHERE s.realm_id = free.realm_id AND s.slot = free.slot AND EXISTS (SELECT 1 FROM token)
        RETURNING s.slot
      )
      SELECT (SELECT slot FROM leased) AS slot,
             EXISTS (SELECT 1 FROM free) AS free,
             (SELECT ${refilled} FROM qbo_rate_buckets b WHERE b.realm_id = ${realmId}) AS tokens,
             ${batchTokensNow} AS batch_tokens`.execute(db);
    const row = result.rows[0];
    if (row?.slot !== null && row?.slot !== undefined) return { slot: row.slot };
    if (!row?.free) return { slotBusy: true };
    // Both buckets refill while waiting, so the request is due when the later of its tokens is.
    const dueMs = (tokens: number | null, ratePerSecond: number) => ((1 - (tokens ?? 0)) / ratePerSecond) * 1000;
    const tokenDueMs = Math.max(dueMs(row.tokens, perSecond), batch ? dueMs(row.batch_tokens, batchPerSecond) : 0);
    return { tokenDueMs: Math.max(5, Math.ceil(tokenDueMs)) };
  }

  function release(realmId: string, slot: number): void {
    void sql`
      UPDATE qbo_request_slots SET holder = NULL, leased_until = '-infinity'
      WHERE realm_id = ${realmId} AND slot = ${slot} AND holder = ${holder}`
      .execute(db)
      .catch(() => undefined);
  }

  return {
    async run<T>(realmId: string, call: () => Promise<T>, requestClass: RequestClass = 'single'): Promise<T> {
      await prepare(realmId);
      const deadline = Date.now() + maxWaitMs;
      let slotWait = 10;
      for (;;) {
        const taken = await acquire(realmId, requestClass);
        if ('slot' in taken) {
          try {
            return await call();
          } finally {
            release(realmId, taken.slot);
          }
        }
        if (Date.now() > deadline) {
          throw new RateLimitWaitExceeded(
            `waited over ${maxWaitMs} ms for a QBO ${requestClass === 'batch' ? 'batch ' : ''}request slot for realm ${realmId}`,
          );
        }
        if ('slotBusy' in taken) {
          await sleep(slotWait + Math.random() * slotWait);
          slotWait = Math.min(slotWait * 2, 200);
        } else {
          await sleep(taken.tokenDueMs + Math.random() * 10);
        }
      }
    },
  };
}
