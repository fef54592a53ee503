import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { RequestLimiter } from './qbo-client.js';

/**
 * QBO allows 500 requests a minute and 10 at once per company; past that it answers 429. This
 * limiter keeps all workers together under both, with its state in PostgreSQL:
 * - rate: a token bucket per realm, refilled at `requestsPerMinute` and holding at most `burst`.
 *   In any minute at most burst + requestsPerMinute requests start, so the defaults (10 + 480)
 *   stay under 500 whatever the alignment of QBO's window.
 * - concurrency: `maxConcurrent` leased slots per realm; a lease outlives the longest request and
 *   then expires, so a worker killed mid-request frees its slot.
 * A request waits for one statement that takes a free slot and a token together, or neither; the
 * slot is handed back after the request without the request waiting for it.
 */
export interface RealmLimiterOptions {
  readonly requestsPerMinute?: number;
  readonly burst?: number;
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

export const qboLimits = { requestsPerMinute: 480, burst: 10, maxConcurrent: 10 } as const;

export function createRealmLimiter(db: Kysely<unknown>, options: RealmLimiterOptions = {}): RequestLimiter {
  const perMinute = options.requestsPerMinute ?? qboLimits.requestsPerMinute;
  const burst = options.burst ?? qboLimits.burst;
  const maxConcurrent = options.maxConcurrent ?? qboLimits.maxConcurrent;
  const leaseSeconds = (options.leaseMs ?? 130_000) / 1000;
  const maxWaitMs = options.maxWaitMs ?? 10 * 60_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const perSecond = perMinute / 60;
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
   * In one statement: a free slot, and a token once a slot is free; the slot is leased only with
   * the token. Says which slot, or that every slot is busy, or when the next token is due.
   */
  async function acquire(realmId: string): Promise<{ slot: number } | { slotBusy: true } | { tokenDueMs: number }> {
    const refilled = sql`LEAST(${burst}::float8, b.tokens + EXTRACT(EPOCH FROM clock_timestamp() - b.refilled_at) * ${perSecond}::float8)`;
    const result = await sql<{ slot: number | null; free: boolean; tokens: number | null }>`
      WITH free AS (
        SELECT realm_id, slot FROM qbo_request_slots
        WHERE realm_id = ${realmId} AND slot < ${maxConcurrent} AND leased_until < clock_timestamp()
        ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED
      ), token AS (
        INSERT INTO qbo_rate_buckets AS b (realm_id, tokens, refilled_at)
        SELECT ${realmId}, ${burst - 1}, clock_timestamp() FROM free
        ON CONFLICT (realm_id) DO UPDATE
          SET tokens = ${refilled} - 1, refilled_at = clock_timestamp()
          WHERE ${refilled} >= 1
        RETURNING tokens
      ), leased AS (
        UPDATE qbo_request_slots s
        SET holder = ${holder}, leased_until = clock_timestamp() + make_interval(secs => ${leaseSeconds})
        FROM free
        WHERE s.realm_id = free.realm_id AND s.slot = free.slot AND EXISTS (SELECT 1 FROM token)
        RETURNING s.slot
      )
      SELECT (SELECT slot FROM leased) AS slot,
             EXISTS (SELECT 1 FROM free) AS free,
             (SELECT ${refilled} FROM qbo_rate_buckets b WHERE b.realm_id = ${realmId}) AS tokens`.execute(db);
    const row = result.rows[0];
    if (row?.slot !== null && row?.slot !== undefined) return { slot: row.slot };
    if (!row?.free) return { slotBusy: true };
    return { tokenDueMs: Math.max(5, Math.ceil(((1 - (row.tokens ?? 0)) / perSecond) * 1000)) };
  }

  function release(realmId: string, slot: number): void {
    void sql`
      UPDATE qbo_request_slots SET holder = NULL, leased_until = '-infinity'
      WHERE realm_id = ${realmId} AND slot = ${slot} AND holder = ${holder}`
      .execute(db)
      .catch(() => undefined);
  }

  return {
    async run<T>(realmId: string, call: () => Promise<T>): Promise<T> {
      await prepare(realmId);
      const deadline = Date.now() + maxWaitMs;
      let slotWait = 10;
      for (;;) {
        const taken = await acquire(realmId);
        if ('slot' in taken) {
          try {
            return await call();
          } finally {
            release(realmId, taken.slot);
          }
        }
        if (Date.now() > deadline) {
          throw new RateLimitWaitExceeded(`waited over ${maxWaitMs} ms for a QBO request slot for realm ${realmId}`);
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
