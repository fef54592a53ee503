import { setTimeout as delay } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createDb } from '../../db/connection.js';
import { createTestDatabase, type TestDatabase } from '../../test/database.js';
import { createRealmLimiter, type RealmLimiterOptions } from './realm-limiter.js';

let database: TestDatabase | undefined;
const workerPools: Array<Kysely<unknown>> = [];
afterEach(async () => {
  await Promise.all(workerPools.splice(0).map((pool) => pool.destroy()));
  await database?.drop();
  database = undefined;
});

/** A limiter on its own connection pool, as each worker process has. */
async function worker(options: RealmLimiterOptions) {
  database ??= await createTestDatabase();
  const pool = createDb({ url: database.url, maxConnections: 4 }) as Kysely<unknown>;
  workerPools.push(pool);
  const sleeps: number[] = [];
  const limiter = createRealmLimiter(pool, {
    ...options,
    sleep: (ms) => {
      sleeps.push(ms);
      return delay(ms);
    },
  });
  return { limiter, sleeps };
}

// One batch request a second with a burst of one: batch requests start at least a second apart.
const smallBatchBudget = { batchRequestsPerMinute: 60, batchBurst: 1 } as const;

describe('R23 / issue 16: batch requests stay under QBO 40 batch requests a minute across workers', () => {
  it('two workers sharing a realm space their batch requests to the batch budget; plain requests in between are not held back by it', async () => {
    // Three slots only: a batch request that held its slot while waiting for a batch token would
    // soon hold them all, and the plain requests would wait with it. The request budget is ample,
    // so that what holds requests back here is the batch budget alone.
    const limits = { ...smallBatchBudget, requestsPerMinute: 6000, burst: 10, maxConcurrent: 3 };
    const workers = [await worker(limits), await worker(limits)];
    const batchesPerWorker = 2;
    const batchStarts: number[] = [];
    const plainWaits: number[] = [];
    let batchesDone = 0;

    const batches = workers.flatMap(({ limiter }) =>
      Array.from({ length: batchesPerWorker }, () =>
        limiter.run(
          'realm-1',
          async () => {
            batchStarts.push(Date.now());
            await delay(10);
          },
          'batch',
        ),
      ),
    );
    const plain = workers.map(async ({ limiter }) => {
      while (batchesDone < batches.length) {
        const asked = Date.now();
        await limiter.run('realm-1', async () => {
          plainWaits.push(Date.now() - asked);
          await delay(10);
        });
        await delay(100);
      }
    });
    await Promise.all(batches.map((batch) => batch.then(() => batchesDone++)));
    await Promise.all(plain);

    batchStarts.sort((a, b) => a - b);
    const gaps = batchStarts.slice(1).map((start, index) => start - batchStarts[index]!);
    console.log(
      `batch requests ${gaps.map((gap) => `+${gap}`).join(' ')} ms apart; ${plainWaits.length} plain requests waited at most ${Math.max(...plainWaits)} ms`,
    );
    expect(batchStarts).toHaveLength(2 * batchesPerWorker);
    // The bucket refills one token a second in PostgreSQL's clock; what the test sees also holds
    // the statement's way back, so allow a little less.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(900);
    // Waiting is computed, not polled, and plain requests take no batch tokens: the batches come
    // about one a second, not later.
    expect(batchStarts.at(-1)! - batchStarts[0]!).toBeLessThan((batchStarts.length - 1) * 1000 + 1500);
    expect(plainWaits.length).toBeGreaterThanOrEqual(2 * 5);
    expect(Math.max(...plainWaits)).toBeLessThan(500);
    // Each waiting batch request sleeps until its token is due, a few times at most, never spins.
    const sleeps = workers.flatMap((w) => w.sleeps);
    expect(sleeps.length).toBeLessThanOrEqual(4 * batches.length);
  });

  it('a batch request that finds the batch bucket empty leases no slot and takes no request token, and sleeps until its batch token is due', async () => {
    const { limiter, sleeps } = await worker(smallBatchBudget);
    const bucket = async () =>
      (
        await sql<{ tokens: number; refilled_at: Date; leased: number }>`
          SELECT b.tokens, b.refilled_at,
                 (SELECT count(*)::int FROM qbo_request_slots s
                  WHERE s.realm_id = b.realm_id AND s.leased_until > clock_timestamp()) AS leased
          FROM qbo_rate_buckets b WHERE b.realm_id = 'realm-1'`.execute(database!.db)
      ).rows[0]!;

    await limiter.run('realm-1', async () => undefined, 'batch');
    await delay(50); // the slot is handed back after the call, without the call waiting for it
    const afterFirst = await bucket();
    expect(afterFirst.leased).toBe(0);

    let secondStarted = false;
    const second = limiter.run('realm-1', async () => (secondStarted = true), 'batch');
    while (sleeps.length === 0 && !secondStarted) await delay(5);
    expect(secondStarted).toBe(false);
    const duringWait = await bucket();
    await second;

    expect(duringWait).toEqual(afterFirst);
    // The first token went at most a few hundred milliseconds ago; the next is due a second after.
    expect(sleeps[0]).toBeGreaterThan(500);
    expect(sleeps[0]).toBeLessThanOrEqual(1000 + 10);
    expect(sleeps.length).toBeLessThanOrEqual(2);
  });

  it('a plain request does not wait for an empty batch bucket', async () => {
    const { limiter, sleeps } = await worker(smallBatchBudget);
    await limiter.run('realm-1', async () => undefined, 'batch');
    const asked = Date.now();
    await limiter.run('realm-1', async () => undefined);
    expect(Date.now() - asked).toBeLessThan(500);
    expect(sleeps).toEqual([]);
  });

  it('a batch budget whose bucket can never hold a whole token is refused when the limiter is made', async () => {
    database ??= await createTestDatabase();
    expect(() => createRealmLimiter(database!.db as Kysely<unknown>, { batchBurst: 0.5 })).toThrow(RangeError);
    expect(() => createRealmLimiter(database!.db as Kysely<unknown>, { batchRequestsPerMinute: 0 })).toThrow(
      RangeError,
    );
  });
});
