import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { RequestLimiter } from './qbo-client.js';

/**
 * QBO allows 500 requests a minute and 10 at once per company; past that it answers 429. This
 * limiter keeps all workers together under both, with its state in PostgreSQL:
 * - rate: a token bucket per realm, refilled at `requestsPerMinute` and holding at most `burst`,
 *   taken with one atomic statement. In any minute at most burst + requestsPerMinute requests
 *   start, so the defaults (10 + 480) stay under 500 whatever the alignment of QBO's window.
 * - concurrency: `maxConcurrent` leased slots per realm; a lease outlives the longest request and
 *   then expires, so a worker killed mid-request frees its slot.
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

  /** Takes one token, or says how long until one is due. */
  async function takeToken(realmId: string): Promise<number> {
    const result = await sql<{ tokens: number }>`
      INSERT INTO qbo_rate_buckets AS b (realm_id, tokens, refilled_at)
      VALUES (${realmId}, ${burst - 1}, clock_timestamp())
      ON CONFLICT (realm_id) DO UPDATE
        SET tokens = LEAST(${burst}::float8, b.tokens + EXTRACT(EPOCH FROM clock_timestamp() - b.refilled_at) * ${perSecond}::float8) - 1,
            refilled_at = clock_timestamp()
        WHERE LEAST(${burst}::float8, b.tokens + EXTRACT(EPOCH FROM clock_timestamp() - b.refilled_at) * ${perSecond}::float8) >= 1
      RETURNING tokens`.execute(db);
    if (result.rows.length > 0) return 0;
    const state = await sql<{ tokens: number }>`
      SELECT LEAST(${burst}::float8, tokens + EXTRACT(EPOCH FROM clock_timestamp() - refilled_at) * ${perSecond}::float8) AS tokens
      FROM qbo_rate_buckets WHERE realm_id = ${realmId}`.execute(db);
    const tokens = state.rows[0]?.tokens ?? 0;
    return Math.max(5, Math.ceil(((1 - tokens) / perSecond) * 1000));
  }

  async function leaseSlot(realmId: string): Promise<number | undefined> {
    const result = await sql<{ slot: number }>`
      UPDATE qbo_request_slots s
      SET holder = ${holder}, leased_until = clock_timestamp() + make_interval(secs => ${leaseSeconds})
      WHERE (s.realm_id, s.slot) = (
        SELECT realm_id, slot FROM qbo_request_slots
        WHERE realm_id = ${realmId} AND slot < ${maxConcurrent} AND leased_until < clock_timestamp()
        ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING s.slot`.execute(db);
    return result.rows[0]?.slot;
  }

  async function releaseSlot(realmId: string, slot: number): Promise<void> {
    await sql`
      UPDATE qbo_request_slots SET holder = NULL, leased_until = '-infinity'
      WHERE realm_id = ${realmId} AND slot = ${slot} AND holder = ${holder}`.execute(db);
  }

  return {
    async run<T>(realmId: string, call: () => Promise<T>): Promise<T> {
      await prepare(realmId);
      const deadline = Date.now() + maxWaitMs;
      const tooLong = () => {
        if (Date.now() > deadline) {
          throw new RateLimitWaitExceeded(`waited over ${maxWaitMs} ms for a QBO request slot for realm ${realmId}`);
        }
      };
      let slot: number | undefined;
      let wait = 10;
      while ((slot = await leaseSlot(realmId)) === undefined) {
        tooLong();
        await sleep(wait + Math.random() * wait);
        wait = Math.min(wait * 2, 200);
      }
      try {
        for (let due = await takeToken(realmId); due > 0; due = await takeToken(realmId)) {
          tooLong();
          await sleep(due + Math.random() * 10);
        }
        return await call();
      } finally {
        await releaseSlot(realmId, slot).catch(() => undefined);
      }
    },
  };
}
