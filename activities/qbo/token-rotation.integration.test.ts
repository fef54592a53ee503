import OAuthClient from 'intuit-oauth';
import { afterEach, describe, expect, it } from 'vitest';
import { createDb } from '../../db/connection.js';
import { decryptToken } from '../../db/token-crypto.js';
import { connectedTenant, startQboFixture, type QboFixture } from '../../test/onboarding-helpers.js';
import { createQboClientForTenant, createTenantTokenSource, readConnection } from './qbo-auth.js';

let fixture: QboFixture | undefined;
afterEach(async () => {
  await fixture?.stop();
  fixture = undefined;
});

const workers = 4;
const cycles = 1000;

describe('token rotation under concurrency', () => {
  it(`R1: ${workers} workers force ${cycles} refreshes with a 0 s rotation grace period and meet 0 invalid_grant`, async () => {
    // Grace 0: a superseded refresh token fails at once, so any refresh made with a token that is
    // not the latest stored one (two workers refreshing together, a rotated token not stored) is
    // an invalid_grant. Rate limits are off: this test is about tokens, not throughput.
    fixture = await startQboFixture({ refreshGraceSeconds: 0, rateLimits: { enabled: false } });
    await connectedTenant(fixture, 'acme');
    let refreshes = 0;
    let pickedUp = 0;
    const failures: string[] = [];
    const started = Date.now();
    const pools = Array.from({ length: workers }, () => createDb({ url: fixture!.database.url, maxConnections: 2 }));
    try {
      await Promise.all(
        pools.map(async (db) => {
          // Each worker has its own pool and token source, as separate processes would.
          const tokens = createTenantTokenSource({ ...fixture!.deps, db, onRefresh: () => refreshes++ }, 'acme');
          while (refreshes < cycles && failures.length === 0) {
            try {
              const token = await tokens.current();
              const before = refreshes;
              const next = await tokens.refreshAfterRejection(token);
              expect(next).not.toBe(token);
              if (refreshes === before) pickedUp++;
            } catch (error) {
              failures.push(error instanceof Error ? error.message : String(error));
            }
          }
        }),
      );
    } finally {
      await Promise.all(pools.map((db) => db.destroy()));
    }
    const seconds = (Date.now() - started) / 1000;
    const invalidGrants = failures.filter((message) => /invalid_grant/.test(message)).length;
    console.log(
      `token rotation: ${workers} workers, ${refreshes} refreshes (${pickedUp} waits that reused another worker's token) in ${seconds.toFixed(1)} s, ${invalidGrants} invalid_grant, ${failures.length} failures`,
    );
    expect(failures).toEqual([]);
    expect(invalidGrants).toBe(0);
    expect(refreshes).toBeGreaterThanOrEqual(cycles);
    expect((await readConnection(fixture.database.db, 'acme'))?.needsReauth).toBe(false);
    // The stored refresh token is the simulator's latest, and the stored access token works.
    const row = await fixture.database.db
      .selectFrom('qbo_connections')
      .select('refresh_token_encrypted')
      .executeTakeFirstOrThrow();
    const latest = decryptToken(fixture.deps.tokenKey, row.refresh_token_encrypted, 'acme');
    const reply = fixture.sim.sim.oauth.token(
      new URLSearchParams({ grant_type: 'refresh_token', refresh_token: latest }),
      false,
    );
    expect(reply.status).toBe(200);
  });

  it('R1: control: with that grace period, refreshing twice with the same refresh token is an invalid_grant', async () => {
    // Shows the test above can fail: the unlocked pattern (two workers presenting one token) breaks.
    fixture = await startQboFixture({ refreshGraceSeconds: 0, rateLimits: { enabled: false } });
    await connectedTenant(fixture, 'acme');
    const row = await fixture.database.db
      .selectFrom('qbo_connections')
      .select('refresh_token_encrypted')
      .executeTakeFirstOrThrow();
    const refresh = decryptToken(fixture.deps.tokenKey, row.refresh_token_encrypted, 'acme');
    const naive = () => {
      const client = new OAuthClient({ ...fixture!.deps.oauth, logging: false });
      client.setAuthorizeURLs({ ...fixture!.deps.oauth.endpoints, userInfoEndpoint: fixture!.sim.baseUrl });
      return client.refreshUsingToken(refresh);
    };
    await naive();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await expect(naive()).rejects.toMatchObject({ error: 'invalid_grant' });
    // And qbsync's own client for this tenant, still holding a stored token that was superseded, is told so.
    await fixture.database.db
      .updateTable('qbo_connections')
      .set({ access_token_expires_at: new Date(0) })
      .execute();
    const client = await createQboClientForTenant(fixture.deps, 'acme');
    await expect(client.count({ entity: 'Customer' })).rejects.toMatchObject({ type: 'QboAuthRevoked' });
  });
});
