import OAuthClient from 'intuit-oauth';
import { afterEach, describe, expect, it } from 'vitest';
import { FailureType } from '../../common/failure-types.js';
import { decryptToken } from '../../db/token-crypto.js';
import {
  connectedTenant,
  consent,
  createTenant,
  startQboFixture,
  type QboFixture,
} from '../../test/onboarding-helpers.js';
import {
  connectTenant,
  createQboClientForTenant,
  createTenantTokenSource,
  disconnectTenant,
  readConnection,
} from './qbo-auth.js';
import { createQboClient } from './qbo-client.js';
import { QboError, toApplicationFailure } from './qbo-errors.js';

let fixture: QboFixture | undefined;
afterEach(async () => {
  await fixture?.stop();
  fixture = undefined;
});

async function storedTokens(f: QboFixture, tenantId: string) {
  const row = await f.database.db
    .selectFrom('qbo_connections')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
  return {
    row,
    access: decryptToken(f.deps.tokenKey, row.access_token_encrypted, tenantId),
    refresh: decryptToken(f.deps.tokenKey, row.refresh_token_encrypted, tenantId),
  };
}

async function customerCount(f: QboFixture, tenantId: string): Promise<number> {
  const client = await createQboClientForTenant(f.deps, tenantId);
  return client.count({ entity: 'Customer' });
}

describe('OAuth through intuit-oauth against the simulator', () => {
  it('R1: the code flow stores the realm and both tokens encrypted, and the API answers with them', async () => {
    fixture = await startQboFixture();
    const { realmId } = await connectedTenant(fixture, 'acme');
    expect(realmId).toBe(fixture.sim.realmIds[0]);
    const { row, access, refresh } = await storedTokens(fixture, 'acme');
    expect(row).toMatchObject({ realm_id: realmId, environment: 'sandbox', needs_reauth: false });
    expect(row.access_token_encrypted).toMatch(/^v1:/);
    expect(row.access_token_encrypted).not.toContain(access);
    expect(row.refresh_token_encrypted).not.toContain(refresh);
    expect(refresh).toMatch(/^RT1-/);
    expect(row.access_token_expires_at.getTime()).toBeGreaterThan(Date.now() + 3500_000);
    expect(row.refresh_token_expires_at!.getTime()).toBeGreaterThan(Date.now() + 90 * 86_400_000);
    expect(OAuthClient.retryConfig.maxRetries).toBe(0);
    expect(await customerCount(fixture, 'acme')).toBeGreaterThan(0);
  });

  it('R1: an authorization code works once; a second exchange is refused and leaves the stored tokens alone', async () => {
    fixture = await startQboFixture();
    await createTenant(fixture, 'acme');
    const callback = await consent(fixture);
    await connectTenant(fixture.deps, 'acme', callback);
    const before = await storedTokens(fixture, 'acme');
    await expect(connectTenant(fixture.deps, 'acme', callback)).rejects.toMatchObject({ type: 'QboAuthRevoked' });
    expect((await storedTokens(fixture, 'acme')).refresh).toBe(before.refresh);
  });

  it('R1: a refresh rotates the refresh token and stores both tokens before the retried call uses them', async () => {
    let refreshes = 0;
    fixture = await startQboFixture({}, { onRefresh: () => refreshes++ });
    await connectedTenant(fixture, 'acme');
    const before = await storedTokens(fixture, 'acme');
    fixture.sim.sim.oauth.expireAccessTokens();
    expect(await customerCount(fixture, 'acme')).toBeGreaterThan(0); // 401 3200, refresh, retry once
    const after = await storedTokens(fixture, 'acme');
    expect(refreshes).toBe(1);
    expect(after.refresh).not.toBe(before.refresh);
    expect(after.access).not.toBe(before.access);
    expect(after.row.needs_reauth).toBe(false);
  });

  it('R1: a refused refresh token (invalid_grant) marks the tenant needs_reauth and raises a non-retryable QboAuthRevoked', async () => {
    fixture = await startQboFixture();
    await connectedTenant(fixture, 'acme');
    const { refresh } = await storedTokens(fixture, 'acme');
    fixture.sim.sim.oauth.revoke(refresh); // the user disconnected the app in QuickBooks
    fixture.sim.sim.oauth.expireAccessTokens();
    const error = await customerCount(fixture, 'acme').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QboError);
    expect(error).toMatchObject({ type: FailureType.QboAuthRevoked, retryable: false });
    expect((error as Error).message).toMatch(/needs to reconnect.*invalid_grant/);
    expect((error as Error).message).not.toContain(refresh);
    expect(toApplicationFailure(error)).toMatchObject({ type: 'QboAuthRevoked', nonRetryable: true });
    expect((await readConnection(fixture.database.db, 'acme'))?.needsReauth).toBe(true);
    // From then on no call reaches QBO: the factory refuses at once.
    await expect(createQboClientForTenant(fixture.deps, 'acme')).rejects.toMatchObject({ type: 'QboAuthRevoked' });
  });

  it('R1: a refresh token past its stored expiry marks needs_reauth without calling the token endpoint', async () => {
    let refreshes = 0;
    fixture = await startQboFixture({}, { onRefresh: () => refreshes++ });
    await connectedTenant(fixture, 'acme');
    await fixture.database.db
      .updateTable('qbo_connections')
      .set({
        refresh_token_expires_at: new Date(Date.now() - 1000),
        access_token_expires_at: new Date(Date.now() - 1000),
      })
      .execute();
    const tokens = createTenantTokenSource(fixture.deps, 'acme');
    await expect(tokens.current()).rejects.toMatchObject({ type: 'QboAuthRevoked' });
    expect(refreshes).toBe(0);
    expect((await readConnection(fixture.database.db, 'acme'))?.needsReauth).toBe(true);
  });

  it('R1: a tenant without a connection gets TenantNotConnected, non-retryable', async () => {
    fixture = await startQboFixture();
    await createTenant(fixture, 'nobody');
    const error = await createQboClientForTenant(fixture.deps, 'nobody').catch((e: unknown) => e);
    expect(error).toMatchObject({ type: FailureType.TenantNotConnected, retryable: false });
  });

  it('R1: disconnect revokes the grant at Intuit and deletes the stored connection', async () => {
    fixture = await startQboFixture();
    const { realmId } = await connectedTenant(fixture, 'acme');
    const { access } = await storedTokens(fixture, 'acme');
    expect(await disconnectTenant(fixture.deps, 'acme')).toEqual({ realmId, revoked: true });
    expect(await readConnection(fixture.database.db, 'acme')).toBeUndefined();
    const stale = createQboClient({
      baseUrl: fixture.sim.baseUrl,
      realmId,
      tokens: { current: async () => access, refreshAfterRejection: async () => access },
    });
    await expect(stale.count({ entity: 'Customer' })).rejects.toMatchObject({ type: 'QboAuthExpired' });
    expect(await disconnectTenant(fixture.deps, 'acme')).toBeUndefined();
  });
});
