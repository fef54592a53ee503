import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { FailureType } from '../../common/failure-types.js';
import type { SyncedEntity } from '../../common/sync-types.js';
import { createDb } from '../../db/connection.js';
import { connectedTenant, startQboFixture, type QboFixture } from '../../test/onboarding-helpers.js';
import type { TenantSettings } from '../sync/crm-writer.js';
import { countsFrom } from '../sync/qbo-requests.js';
import { createQboClientForTenant, createTenantTokenSource } from './qbo-auth.js';
import { createQboClient, type AccessTokenSource } from './qbo-client.js';
import { QboError, toApplicationFailure } from './qbo-errors.js';
import { createRealmLimiter, type RealmLimiterOptions } from './realm-limiter.js';

let fixture: QboFixture | undefined;
afterEach(async () => {
  await fixture?.stop();
  fixture = undefined;
});

async function failure(promise: Promise<unknown>): Promise<QboError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(QboError);
  return error as QboError;
}

async function connected() {
  fixture = await startQboFixture({ rateLimits: { enabled: false } });
  const { realmId } = await connectedTenant(fixture, 'acme');
  return { f: fixture, realmId, client: await createQboClientForTenant(fixture.deps, 'acme') };
}

describe('every QBO failure is classified once, driven by the simulator (no retries inside the client)', () => {
  it('R23: 429 throttling, JSON and XML bodies, is QboThrottled with the 60 s wait, retryable', async () => {
    const { f, client } = await connected();
    for (const xml of [false, true]) {
      f.sim.sim.forceFaults([{ kind: '429', xml }]);
      const error = await failure(client.count({ entity: 'Customer' }));
      expect(error).toMatchObject({ type: FailureType.QboThrottled, retryable: true });
      expect(error.details).toMatchObject({ status: 429, code: '3001', retryAfterMs: 60_000 });
      expect(toApplicationFailure(error)).toMatchObject({ nonRetryable: false, nextRetryDelay: 60_000 });
    }
    expect(await client.count({ entity: 'Customer' })).toBeGreaterThan(0); // one fault each, no hidden retry
  });

  it('R23: 5xx is QboServerFault and a dropped connection QboNetwork, both retryable', async () => {
    const { f, client } = await connected();
    f.sim.sim.forceFaults([{ kind: '5xx', status: 503 }]);
    expect(await failure(client.count({ entity: 'Customer' }))).toMatchObject({
      type: FailureType.QboServerFault,
      retryable: true,
      details: { status: 503 },
    });
    f.sim.sim.forceFaults([{ kind: 'drop' }]);
    expect(await failure(client.count({ entity: 'Customer' }))).toMatchObject({
      type: FailureType.QboNetwork,
      retryable: true,
    });
  });

  it('R1: 3200 (expired access token) refreshes then retries once; a second 401 is QboAuthExpired', async () => {
    const { f, realmId } = await connected();
    let refreshes = 0;
    const tokens = createTenantTokenSource({ ...f.deps, onRefresh: () => refreshes++ }, 'acme');
    let attempts = 0;
    const counting: typeof fetch = (input, init) => {
      attempts++;
      return fetch(input, init);
    };
    const client = createQboClient({ baseUrl: f.sim.baseUrl, realmId, tokens, fetch: counting });
    f.sim.sim.oauth.expireAccessTokens();
    expect(await client.count({ entity: 'Customer' })).toBeGreaterThan(0);
    expect({ attempts, refreshes }).toEqual({ attempts: 2, refreshes: 1 });

    attempts = 0;
    const stuck: AccessTokenSource = { current: async () => 'bogus', refreshAfterRejection: async () => 'still-bogus' };
    const broken = createQboClient({ baseUrl: f.sim.baseUrl, realmId, tokens: stuck, fetch: counting });
    const error = await failure(broken.count({ entity: 'Customer' }));
    expect(error).toMatchObject({ type: FailureType.QboAuthExpired, details: { status: 401, code: '3200' } });
    expect(attempts).toBe(2);
  });

  it('R7: a stale SyncToken is QboStaleObject (5010), non-retryable', async () => {
    const { f, realmId, client } = await connected();
    const [customer] = (await client.query({ entity: 'Customer', maxResults: 1 })).records;
    f.sim.sim.adminEditCustomer(realmId, customer!.Id, { Notes: 'edited in QuickBooks meanwhile' });
    const error = await failure(
      client.updateCustomer(
        { Id: customer!.Id, SyncToken: String(customer!['SyncToken']), Notes: 'from the CRM' },
        'r-5010',
      ),
    );
    expect(error).toMatchObject({ type: FailureType.QboStaleObject, retryable: false, details: { code: '5010' } });
  });

  it('R7: a DisplayName already taken is QboDuplicateName (6240), non-retryable', async () => {
    const { client } = await connected();
    const [customer] = (await client.query({ entity: 'Customer', maxResults: 1 })).records;
    const error = await failure(client.createCustomer({ DisplayName: customer!['DisplayName'] }, 'r-6240'));
    expect(error).toMatchObject({ type: FailureType.QboDuplicateName, retryable: false, details: { code: '6240' } });
  });

  it('R20: an object that does not exist is QboNotFound (610), non-retryable', async () => {
    const { client } = await connected();
    const error = await failure(client.read('Customer', '987654321'));
    expect(error).toMatchObject({ type: FailureType.QboNotFound, retryable: false, details: { code: '610' } });
  });

  it('R7: a request QBO refuses as invalid is QboValidation, non-retryable', async () => {
    const { client } = await connected();
    const error = await failure(client.createCustomer({ Notes: 'no name at all' }, 'r-validation'));
    expect(error).toMatchObject({ type: FailureType.QboValidation, retryable: false, details: { status: 400 } });
    expect(toApplicationFailure(error)).toMatchObject({ type: 'QboValidation', nonRetryable: true });
  });
});

describe('the shared per-realm limiter against the simulator enforcing QBO limits', () => {
  // QBO's limits are 500 requests a minute and 10 at once. The simulator's clock runs 10 times
  // faster here, so its minute lasts 6 real seconds; it allows 100 requests in that minute. Each
  // worker's limiter allows 900 a real minute with a burst of 5: at most 5 + 90 = 95 in any 6 s.
  const speed = 10;
  const simPerMinute = 100;

  async function limitedRun(useLimiter: boolean, requestsPerWorker: number, callersPerWorker: number) {
    const t0 = Date.now();
    fixture = await startQboFixture({
      now: () => t0 + (Date.now() - t0) * speed,
      rateLimits: { enabled: true, perMinute: simPerMinute, concurrent: 10 },
    });
    const { realmId } = await connectedTenant(fixture, 'acme');
    fixture.sim.sim.setFaults(realmId, { rateSlow: 1, slowMs: 700 }); // every request takes 0.7 s: 15 callers want 15 at once
    let inFlight = 0;
    let maxInFlight = 0;
    const statuses = new Map<number, number>();
    const observed: typeof fetch = async (input, init) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const response = await fetch(input, init);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        return response;
      } finally {
        inFlight--;
      }
    };
    const pools = [0, 1].map(() => createDb({ url: fixture!.database.url, maxConnections: 4 }));
    const started = Date.now();
    try {
      await Promise.all(
        pools.map(async (db) => {
          const limiter = useLimiter
            ? createRealmLimiter(db as Kysely<unknown>, { requestsPerMinute: 900, burst: 5, maxConcurrent: 10 })
            : undefined;
          const client = createQboClient({
            baseUrl: fixture!.sim.baseUrl,
            realmId,
            tokens: createTenantTokenSource({ ...fixture!.deps, db }, 'acme'),
            fetch: observed,
            ...(limiter ? { limiter } : {}),
          });
          let left = requestsPerWorker;
          await Promise.all(
            Array.from({ length: callersPerWorker }, async () => {
              while (left-- > 0) await client.count({ entity: 'Customer' }).catch(() => undefined);
            }),
          );
        }),
      );
    } finally {
      await Promise.all(pools.map((db) => db.destroy()));
    }
    return { maxInFlight, statuses, seconds: (Date.now() - started) / 1000 };
  }

  it('R23: two workers, 15 callers each, never exceed 10 concurrent requests nor the per-minute limit: 0 responses with 429', async () => {
    const run = await limitedRun(true, 75, 15);
    const ok = run.statuses.get(200) ?? 0;
    console.log(
      `limiter: 2 workers, ${ok} requests in ${run.seconds.toFixed(1)} s (${((ok / run.seconds) * 6).toFixed(0)} per simulated minute, limit ${simPerMinute}), max ${run.maxInFlight} in flight, ${run.statuses.get(429) ?? 0} responses with 429`,
    );
    expect(run.statuses.get(429) ?? 0).toBe(0);
    expect(ok).toBe(150);
    expect(run.maxInFlight).toBeLessThanOrEqual(10);
    expect(run.maxInFlight).toBeGreaterThanOrEqual(8); // the concurrency limit was in play
    // The load did reach past one simulated minute, so the per-minute limit was in play.
    expect(run.seconds).toBeGreaterThan(60 / speed);
  });

  it('R23: control: the same load without the limiter meets 429s', async () => {
    const run = await limitedRun(false, 20, 15);
    expect(run.statuses.get(429) ?? 0).toBeGreaterThan(0);
  });
});

describe('R23 / issue 16: pass starts from two workers keep within QBO 40 batch requests a minute', () => {
  // The simulator's clock runs 20 times faster, so its minute lasts 3 real seconds, and it allows
  // 10 batch requests in that minute (QBO's 40 scaled down). Each worker's limiter allows 2 batch
  // requests a real second with a burst of 2: at most 2 + 6 = 8 in any 3 s, as 36 + 2 under 40.
  const speed = 20;
  const simBatchPerMinute = 10;
  const batchBudget = { batchRequestsPerMinute: 120, batchBurst: 2 } as const;
  const passStartEntities: SyncedEntity[] = ['Item', 'Customer', 'Invoice'];

  /** Each worker starts `passesPerWorker` passes at once: a batch of counts, then a plain count. */
  async function passStartBurst(limits: RealmLimiterOptions, passesPerWorker: number) {
    const t0 = Date.now();
    fixture = await startQboFixture({
      now: () => t0 + (Date.now() - t0) * speed,
      rateLimits: { enabled: true, batchPerMinute: simBatchPerMinute },
    });
    const { realmId } = await connectedTenant(fixture, 'acme');
    const settings: TenantSettings = {
      tenantId: 'acme',
      realmId,
      quickbooksListId: 1,
      startDate: '2024-01-01',
      syncLanguage: 'en',
      defaultLanguage: 'en',
    };
    const statuses = new Map<string, number>();
    const observed: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const kind = `${String(input).includes('/batch') ? 'batch' : 'plain'} ${response.status}`;
      statuses.set(kind, (statuses.get(kind) ?? 0) + 1);
      return response;
    };
    const pools = [0, 1].map(() => createDb({ url: fixture!.database.url, maxConnections: 4 }));
    const started = Date.now();
    try {
      await Promise.all(
        pools.map(async (db) => {
          const client = createQboClient({
            baseUrl: fixture!.sim.baseUrl,
            realmId,
            tokens: createTenantTokenSource({ ...fixture!.deps, db }, 'acme'),
            fetch: observed,
            limiter: createRealmLimiter(db as Kysely<unknown>, limits),
          });
          await Promise.all(
            Array.from({ length: passesPerWorker }, async () => {
              await countsFrom(
                client,
                settings,
                passStartEntities.map((entity) => ({ entity, from: Date.parse('2024-01-01') })),
              ).catch(() => undefined);
              await client.count({ entity: 'Customer' }).catch(() => undefined);
            }),
          );
        }),
      );
    } finally {
      await Promise.all(pools.map((db) => db.destroy()));
    }
    return { statuses, seconds: (Date.now() - started) / 1000 };
  }

  it('R23 / issue 16: 12 pass starts at once across two workers get 0 answers 429, and take more than one batch minute', async () => {
    const run = await passStartBurst(batchBudget, 6);
    console.log(
      `batch budget: 2 workers, 12 pass starts in ${run.seconds.toFixed(1)} s (simulated minute ${60 / speed} s, ${simBatchPerMinute} batch requests in it): ${JSON.stringify(Object.fromEntries(run.statuses))}`,
    );
    expect(Object.fromEntries(run.statuses)).toEqual({ 'batch 200': 12, 'plain 200': 12 });
    // 12 batch requests are more than one simulated minute allows, so the batch limit was in play.
    expect(run.seconds).toBeGreaterThan(60 / speed);
  });

  it('R23 / issue 16: control: the same pass starts budgeted for the 500 a minute only meet 429s on their batches', async () => {
    const run = await passStartBurst({ batchRequestsPerMinute: 1_000_000, batchBurst: 1_000 }, 6);
    expect(run.statuses.get('batch 429') ?? 0).toBeGreaterThan(0);
    expect(run.statuses.get('plain 429') ?? 0).toBe(0);
  });
});
