import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createRealmLimiter } from '../activities/qbo/realm-limiter.js';
import { startSimulator, type RunningSimulator, type StartOptions } from '../sandbox/index.js';
import { authorizeUrl, connectTenant, oauthSettings, type QboAuthDeps } from '../activities/qbo/qbo-auth.js';
import { createTestDatabase, type TestDatabase } from './database.js';

/** A simulator, a migrated throw-away database and the token-handling deps pointing at both. */
export interface QboFixture {
  readonly sim: RunningSimulator;
  readonly database: TestDatabase;
  readonly deps: QboAuthDeps;
  stop(): Promise<void>;
}

export async function startQboFixture(
  options: StartOptions = {},
  deps: Partial<QboAuthDeps> = {},
  /** Requests go through the per-realm limiter in PostgreSQL, as the worker's do in production. */
  { limited = false }: { limited?: boolean } = {},
): Promise<QboFixture> {
  const sim = await startSimulator({
    port: 0,
    autoConsent: true,
    customers: 30,
    transactions: 60,
    items: 10,
    ...options,
  });
  const database = await createTestDatabase();
  const fixtureDeps: QboAuthDeps = {
    db: database.db,
    oauth: oauthSettings({
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      environment: 'sandbox',
      redirectUri: 'http://127.0.0.1:9/oauth/callback',
      oauthBaseUrl: sim.baseUrl,
    }),
    tokenKey: randomBytes(32),
    apiBaseUrl: sim.baseUrl,
    now: () => new Date(),
    ...(limited ? { limiter: createRealmLimiter(database.db as Kysely<unknown>) } : {}),
    ...deps,
  };
  return {
    sim,
    database,
    deps: fixtureDeps,
    async stop() {
      await sim.stop();
      await database.drop();
    },
  };
}

export async function createTenant(fixture: QboFixture, tenantId: string, startDate = '2024-01-01'): Promise<void> {
  await fixture.database.db
    .insertInto('tenants')
    .values({ id: tenantId, name: `Tenant ${tenantId}`, start_date: startDate })
    .execute();
}

/** Goes through the simulator's consent (auto-consent) and returns the callback URL it redirects to. */
export async function consent(fixture: QboFixture, state = 'test-state'): Promise<string> {
  const response = await fetch(authorizeUrl(fixture.deps.oauth, state), { redirect: 'manual' });
  const location = response.headers.get('location');
  if (response.status !== 302 || !location) throw new Error(`consent did not redirect (HTTP ${response.status})`);
  return location;
}

/** A tenant row plus a connection made through the whole code flow. */
export async function connectedTenant(fixture: QboFixture, tenantId: string): Promise<{ realmId: string }> {
  await createTenant(fixture, tenantId);
  return connectTenant(fixture.deps, tenantId, await consent(fixture));
}
