import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startOnboardingServer, type OnboardingServer } from '../client/onboarding/server.js';
import { changeCompany, type OnboardingDeps } from '../client/onboarding/service.js';
import { asSync } from '../db/crm-rules.js';
import { ConfigError, loadConfig } from '../worker/config.js';
import { freePort } from './global-setup.js';
import { startQboFixture, type QboFixture } from './onboarding-helpers.js';

/**
 * The hostile-onboarding fault suite (issue 12, points 1 to 5): `qbsync serve` against the simulator,
 * driven by hand-made requests as an attacker would send them, not by the page's own forms alone.
 */

/** A browser reduced to what matters here: its session cookie, and requests that follow no redirect. */
class Browser {
  private cookie = '';

  constructor(private readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set('cookie', this.cookie);
    const response = await fetch(new URL(path, this.base), { ...init, headers, redirect: 'manual' });
    const set = response.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0]!;
    return response;
  }

  /** The synchronizer token of the tenant page's forms. */
  async csrf(tenantId: string): Promise<string> {
    const page = await (await this.request(`/onboarding/${tenantId}`)).text();
    // Empty when the page has none, so that the checks below say what is missing.
    return /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
  }

  post(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(path, {
      method: 'POST',
      body: new URLSearchParams(form),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: this.base, ...headers },
    });
  }

  /** POST connect, then Intuit's (the simulator's auto-)consent for `realmId`: the callback URL it sends back. */
  async consent(tenantId: string, realmId?: string): Promise<string> {
    const connect = await this.post(`/onboarding/${tenantId}/connect`, { csrf: await this.csrf(tenantId) });
    expect(connect.status).toBe(303);
    return consentAt(connect.headers.get('location')!, realmId);
  }
}

async function consentAt(authorize: string, realmId?: string): Promise<string> {
  const url = new URL(authorize);
  if (realmId) url.searchParams.set('realmId', realmId);
  const consent = await fetch(url, { redirect: 'manual' });
  expect(consent.status).toBe(302);
  return consent.headers.get('location')!;
}

/** An answer that repeats nothing long of what was sent. */
function expectShort(body: string): void {
  expect(body.length).toBeLessThan(4096);
  expect(body).not.toMatch(/x{100}/);
}

describe('hostile onboarding', () => {
  let fixture: QboFixture;
  let temporal: Client;
  let deps: OnboardingDeps;
  let server: OnboardingServer;
  let realmA: string;
  let realmB: string;
  const suffix = Date.now().toString(36);

  beforeAll(async () => {
    const port = await freePort();
    fixture = await startQboFixture({ autoConsent: true, companies: 5, customers: 5, transactions: 5, items: 3 });
    [realmA, realmB] = fixture.sim.realmIds as [string, string];
    temporal = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
    deps = {
      ...fixture.deps,
      oauth: { ...fixture.deps.oauth, redirectUri: `http://127.0.0.1:${port}/oauth/callback` },
      temporal,
      taskQueue: `hostile-onboarding-${suffix}`,
    };
    server = await startOnboardingServer(deps, { port });
  });

  afterAll(async () => {
    await server?.close();
    await temporal?.connection.close();
    await fixture?.stop();
  });

  const connection = (tenantId: string) =>
    fixture.database.db.selectFrom('qbo_connections').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();

  it('R1: a connected tenant cannot be re-pointed at another QuickBooks company by reconnecting; change-company removes the old company’s data first', async () => {
    const tenantId = `pin-${suffix}`;
    const browser = new Browser(server.url);
    const first = await browser.request(await browser.consent(tenantId, realmA));
    expect(first.status).toBe(303);
    const before = await connection(tenantId);
    expect(before?.realm_id).toBe(realmA);

    // A consent with the second company is refused, with a message that says why, and nothing changes.
    const other = await browser.request(await browser.consent(tenantId, realmB));
    expect(other.status).toBe(409);
    const message = await other.text();
    expect(message).toContain(`connected to QuickBooks company ${realmA}`);
    expect(message).toContain('nothing was stored');
    expect(message).toContain(`qbsync change-company ${tenantId} --confirm`);
    expect(await connection(tenantId)).toEqual(before);

    // Reconnecting to the same company is still fine.
    expect((await browser.request(await browser.consent(tenantId, realmA))).status).toBe(303);
    expect((await connection(tenantId))?.realm_id).toBe(realmA);

    // Synced data pins the tenant even with no connection (after qbsync disconnect).
    const accountId = await asSync(fixture.database.db, async (trx) => {
      const account = await trx
        .insertInto('accounts')
        .values({ tenant_id: tenantId, company_name: 'Synced from A', language: 'fr' })
        .returning('id')
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('qbo_links')
        .values({
          tenant_id: tenantId,
          realm_id: realmA,
          entity_type: 'Customer',
          qbo_id: '1',
          account_id: account.id,
          sync_token: '0',
          qbo_last_updated_time: '2024-01-01T00:00:00-08:00',
          qbo_updated_at: new Date('2024-01-01T08:00:00Z'),
        })
        .execute();
      await trx
        .insertInto('sync_cursors')
        .values({ tenant_id: tenantId, realm_id: realmA, entity_type: 'Customer', cursor: 'x', cursor_at: new Date() })
        .execute();
      return account.id;
    });
    await fixture.database.db.deleteFrom('qbo_connections').where('tenant_id', '=', tenantId).execute();
    expect((await browser.request(await browser.consent(tenantId, realmB))).status).toBe(409);
    expect(await connection(tenantId)).toBeUndefined();

    // The explicit change: the old company's synced rows go, then the new company may connect.
    const changed = await changeCompany(deps, tenantId, { force: true });
    expect(changed.removed).toMatchObject({ accounts: 1, cursors: 1 });
    expect(
      await fixture.database.db.selectFrom('qbo_links').select('qbo_id').where('tenant_id', '=', tenantId).execute(),
    ).toEqual([]);
    expect(await fixture.database.db.selectFrom('accounts').select('id').where('id', '=', accountId).execute()).toEqual(
      [],
    );
    expect((await browser.request(await browser.consent(tenantId, realmB))).status).toBe(303);
    expect((await connection(tenantId))?.realm_id).toBe(realmB);
  });

  it('R25: every POST needs the session’s CSRF token and the page’s own origin; a cross-site POST changes nothing', async () => {
    const tenantId = `csrf-${suffix}`;
    const browser = new Browser(server.url);
    expect((await browser.request(await browser.consent(tenantId, fixture.sim.realmIds[2]))).status).toBe(303);
    const settings = () =>
      fixture.database.db
        .selectFrom('tenants')
        .select(['start_date', 'sync_language'])
        .where('id', '=', tenantId)
        .executeTakeFirstOrThrow();
    const before = await settings();
    const change = { startDate: '2000-01-01', syncLanguage: 'en', defaultCustomerLanguage: 'en' };
    const token = await browser.csrf(tenantId);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // The attacker's page: the victim's cookie goes along, but the token is unknown and the Origin foreign.
    const noToken = await browser.post(`/onboarding/${tenantId}/settings`, change, {
      origin: 'https://attacker.example',
    });
    expect(noToken.status).toBe(403);
    const foreign = await browser.post(
      `/onboarding/${tenantId}/settings`,
      { ...change, csrf: token },
      { origin: 'https://attacker.example' },
    );
    expect(foreign.status).toBe(403);
    const foreignReferer = await browser.post(
      `/onboarding/${tenantId}/settings`,
      { ...change, csrf: token },
      { origin: '', referer: 'https://attacker.example/page' },
    );
    expect(foreignReferer.status).toBe(403);
    const otherSession = await new Browser(server.url).post(`/onboarding/${tenantId}/settings`, {
      ...change,
      csrf: token,
    });
    expect(otherSession.status).toBe(403);
    for (const action of ['connect', 'start']) {
      expect((await browser.post(`/onboarding/${tenantId}/${action}`, {})).status).toBe(403);
    }
    expect(await settings()).toEqual(before);

    // The page's own form, from its own origin, goes through.
    const own = await browser.post(`/onboarding/${tenantId}/settings`, { ...change, csrf: token });
    expect(own.status).toBe(303);
    expect((await settings()).sync_language).toBe('en');
  });

  it('R1: an OAuth state is single-use and good only in the browser session that asked for it', async () => {
    const tenantId = `state-${suffix}`;
    const browser = new Browser(server.url);
    const connect = await browser.post(`/onboarding/${tenantId}/connect`, { csrf: await browser.csrf(tenantId) });
    const authorize = connect.headers.get('location')!;
    const realmId = fixture.sim.realmIds[3];
    const callback = await consentAt(authorize, realmId);
    expect((await browser.request(callback)).status).toBe(303);
    // The same state with a fresh code from Intuit: refused.
    const replay = await browser.request(await consentAt(authorize, realmId));
    expect(replay.status).toBe(400);
    expect(await replay.text()).toMatch(/unknown or was already used/);

    // A state issued to one browser, brought back by another (login CSRF): refused, and then spent.
    const victim = new Browser(server.url);
    const attackerConnect = await browser.post(`/onboarding/${tenantId}/connect`, {
      csrf: await browser.csrf(tenantId),
    });
    const stolen = await consentAt(attackerConnect.headers.get('location')!, realmId);
    const elsewhere = await victim.request(stolen);
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.text()).toMatch(/another browser session/);
    expect((await browser.request(stolen)).status).toBe(400);
  });

  it('R25: QBSYNC_SERVE_AUTH: a shared secret or a trusted proxy header is required when set, and serve refuses a non-loopback address without it', async () => {
    const secret = 'a-long-shared-secret-value';
    const guarded = await startOnboardingServer(deps, { port: 0, auth: { kind: 'secret', secret } });
    const proxied = await startOnboardingServer(deps, {
      port: 0,
      auth: { kind: 'header', header: 'x-authenticated-user' },
    });
    try {
      const anonymous = await fetch(`${guarded.url}/onboarding/anyone`);
      expect(anonymous.status).toBe(401);
      expect((await fetch(`${guarded.url}/`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(`${guarded.url}/`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
      expect((await fetch(`${guarded.url}/health`)).status).toBe(200);
      expect((await fetch(`${proxied.url}/`)).status).toBe(401);
      expect((await fetch(`${proxied.url}/`, { headers: { 'x-authenticated-user': 'marie' } })).status).toBe(200);
    } finally {
      await guarded.close();
      await proxied.close();
    }
    await expect(startOnboardingServer(deps, { port: 0, host: '0.0.0.0' })).rejects.toThrow(
      /^refusing to listen on 0\.0\.0\.0 without QBSYNC_SERVE_AUTH/,
    );
    expect(loadConfig({ QBSYNC_SERVE_AUTH: 'header:X-Authenticated-User' }).serveAuth).toEqual({
      kind: 'header',
      header: 'x-authenticated-user',
    });
    expect(() => loadConfig({ QBSYNC_SERVE_AUTH: 'secret:short' })).toThrow(ConfigError);
    expect(() => loadConfig({ QBSYNC_SERVE_AUTH: 'secret:short' })).toThrow(
      /^invalid configuration: QBSYNC_SERVE_AUTH="<12 characters, hidden>" must be header:/,
    );
  });

  it('R25: long or malformed requests get a short 4xx and echo nothing long', async () => {
    const tenantId = `long-${suffix}`;
    const browser = new Browser(server.url);
    expect((await browser.request(await browser.consent(tenantId, fixture.sim.realmIds[4]))).status).toBe(303);
    const token = await browser.csrf(tenantId);

    const longPath = await browser.request(`/onboarding/${'x'.repeat(8 * 1024)}`);
    expect(longPath.status).toBe(414);
    expectShort(await longPath.text());

    const longField = await browser.post(`/onboarding/${tenantId}/settings`, {
      csrf: token,
      startDate: 'x'.repeat(60 * 1024),
      syncLanguage: 'fr',
      defaultCustomerLanguage: 'fr',
    });
    expect(longField.status).toBe(413);
    expectShort(await longField.text());
    const fieldUnderTheBodyLimit = await browser.post(`/onboarding/${tenantId}/settings`, {
      csrf: token,
      startDate: 'x'.repeat(8 * 1024),
      syncLanguage: 'fr',
      defaultCustomerLanguage: 'fr',
    });
    expect(fieldUnderTheBodyLimit.status).toBe(400);
    expectShort(await fieldUnderTheBodyLimit.text());
    const badValue = await browser.post(`/onboarding/${tenantId}/settings`, {
      csrf: token,
      startDate: 'x'.repeat(900),
      syncLanguage: 'fr',
      defaultCustomerLanguage: 'fr',
    });
    expect(badValue.status).toBe(400);
    expectShort(await badValue.text());

    const badEscape = await browser.request('/onboarding/%E0%A4%A');
    expect(badEscape.status).toBe(400);
    expectShort(await badEscape.text());

    const hugeBody = await browser.post(`/onboarding/${tenantId}/settings`, {
      csrf: token,
      filler: 'x'.repeat(100 * 1024),
    });
    expect(hugeBody.status).toBe(413);
    expectShort(await hugeBody.text());
  });
});
