import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OAuthClient from 'intuit-oauth';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from './index.js';
import { signWebhook } from './webhooks.js';

const REDIRECT = 'http://localhost:9/callback';

let sim: RunningSimulator;
let clock = Date.parse('2026-03-15T12:00:00Z');
const saved = {
  authorize: OAuthClient.authorizeEndpoint,
  token: OAuthClient.tokenEndpoint,
  revoke: OAuthClient.revokeEndpoint,
  sandbox: OAuthClient.environment.sandbox,
};

beforeAll(async () => {
  sim = await startSimulator({
    port: 0,
    seed: 11,
    customers: 80,
    transactions: 150,
    autoConsent: true,
    now: () => clock,
  });
  // intuit-oauth's endpoints are class-level statics: point them at the simulator, restore after.
  OAuthClient.authorizeEndpoint = sim.oauthUrls.authorizeEndpoint;
  OAuthClient.tokenEndpoint = sim.oauthUrls.tokenEndpoint;
  OAuthClient.revokeEndpoint = sim.oauthUrls.revokeEndpoint;
  OAuthClient.environment.sandbox = `${sim.baseUrl}/`;
});
afterAll(async () => {
  OAuthClient.authorizeEndpoint = saved.authorize;
  OAuthClient.tokenEndpoint = saved.token;
  OAuthClient.revokeEndpoint = saved.revoke;
  OAuthClient.environment.sandbox = saved.sandbox;
  await sim.stop();
});
afterEach(() => {
  sim.sim.clearFaults();
  sim.sim.rateLimitsEnabled = true;
});

/** Runs the authorization-code flow the way a browser would, returning the callback URL. */
async function authorize(client: OAuthClient): Promise<string> {
  const uri = client.authorizeUri({ scope: [OAuthClient.scopes.Accounting], state: 'st-1' });
  const res = await fetch(uri, { redirect: 'manual' });
  expect(res.status).toBe(302);
  return res.headers.get('location') as string;
}

async function connect(): Promise<{ token: string; realmId: string }> {
  const client = new OAuthClient({
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    environment: 'sandbox',
    redirectUri: REDIRECT,
  });
  const auth = await client.createToken(await authorize(client));
  return { token: auth.getJson().access_token as string, realmId: client.getToken().realmId as string };
}

function api(path: string, token: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${sim.baseUrl}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      ...(init.headers as Record<string, string>),
    },
  });
}

describe('intuit-oauth contract (package unchanged, only its URLs set)', () => {
  it('runs the code flow, calls the API, refreshes with rotation (old token dies after the grace period) and revokes', async () => {
    const client = new OAuthClient({
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      environment: 'sandbox',
      redirectUri: REDIRECT,
    });
    const callback = await authorize(client);
    const params = new URL(callback).searchParams;
    expect(params.get('state')).toBe('st-1');
    expect(params.get('realmId')).toBe(sim.realmIds[0]);
    const created = await client.createToken(callback);
    const first = created.getJson();
    expect(first).toMatchObject({ token_type: 'bearer', expires_in: 3600, x_refresh_token_expires_in: 8726400 });
    expect(client.getToken().realmId).toBe(sim.realmIds[0]);

    const query = await client.makeApiCall({
      url: `v3/company/${sim.realmIds[0]}/query?query=${encodeURIComponent('SELECT * FROM Customer MAXRESULTS 5')}&minorversion=75`,
    });
    expect((query.json as { QueryResponse: { Customer: unknown[] } }).QueryResponse.Customer).toHaveLength(5);

    await expect(client.createToken(callback)).rejects.toMatchObject({ error: 'invalid_grant' });

    const oldRefresh = first.refresh_token as string;
    const refreshed = (await client.refresh()).getJson();
    expect(refreshed.refresh_token).not.toBe(oldRefresh);
    expect(refreshed.access_token).not.toBe(first.access_token);
    // Within the 24 h grace period the superseded refresh token still works...
    clock += 60 * 60 * 1000;
    await expect(client.refreshUsingToken(oldRefresh)).resolves.toBeDefined();
    // ...and after it, it fails with invalid_grant.
    clock += 24 * 60 * 60 * 1000;
    await expect(client.refreshUsingToken(oldRefresh)).rejects.toMatchObject({ error: 'invalid_grant' });
    const latest = (await client.refreshUsingToken(refreshed.refresh_token as string)).getJson();

    await client.revoke({ refresh_token: latest.refresh_token as string });
    await expect(client.refreshUsingToken(latest.refresh_token as string)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    const after = await api(`/v3/company/${sim.realmIds[0]}/customer/1`, latest.access_token as string);
    expect(after.status).toBe(401);
  });

  it('shows a consent page with Connect and Cancel when auto-consent is off', async () => {
    const manual = await startSimulator({ port: 0, customers: 3, transactions: 3 });
    try {
      const url = `${manual.oauthUrls.authorizeEndpoint}?client_id=${manual.clientId}&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code&scope=com.intuit.quickbooks.accounting&state=s`;
      const page = await (await fetch(url)).text();
      expect(page).toContain('Connect');
      expect(page).toContain('Cancel');
      const cancel = await fetch(`${manual.baseUrl}/connect/oauth2/consent`, {
        method: 'POST',
        redirect: 'manual',
        body: new URLSearchParams({ client_id: manual.clientId, redirect_uri: REDIRECT, state: 's', action: 'cancel' }),
      });
      expect(new URL(cancel.headers.get('location') as string).searchParams.get('error')).toBe('access_denied');
    } finally {
      await manual.stop();
    }
  });
});

describe('API over HTTP', () => {
  it('answers an expired or unknown token with 401 AuthenticationFault 3200', async () => {
    const { token, realmId } = await connect();
    expect((await api(`/v3/company/${realmId}/customer/1`, token)).status).toBe(200);
    await fetch(`${sim.baseUrl}/__sim/tokens/expire`, { method: 'POST', body: JSON.stringify({ realmId }) });
    const expired = await api(`/v3/company/${realmId}/customer/1`, token);
    expect(expired.status).toBe(401);
    const body = (await expired.json()) as { fault: { type: string; error: { code: string }[] }; time: string };
    expect(body.fault.type).toBe('AUTHENTICATION');
    expect(body.fault.error[0]?.code).toBe('3200');
    expect((await api(`/v3/company/${realmId}/customer/1`, 'made-up')).status).toBe(401);
  });

  it('answers throttling with 429 ThrottleExceeded 3001, in JSON or in XML', async () => {
    const { token, realmId } = await connect();
    await fetch(`${sim.baseUrl}/__sim/faults/next`, {
      method: 'POST',
      body: JSON.stringify({
        faults: [
          { kind: '429', xml: true },
          { kind: '429', xml: false },
        ],
      }),
    });
    const xml = await api(`/v3/company/${realmId}/customer/1`, token);
    expect(xml.status).toBe(429);
    expect(xml.headers.get('content-type')).toContain('xml');
    expect(await xml.text()).toMatch(
      /<Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429<\/Message>/,
    );
    const jsonReply = await api(`/v3/company/${realmId}/customer/1`, token);
    expect(jsonReply.status).toBe(429);
    expect(((await jsonReply.json()) as { Fault: { Error: { code: string }[] } }).Fault.Error[0]?.code).toBe('3001');
    expect((await api(`/v3/company/${realmId}/customer/1`, token)).status).toBe(200);
  });

  it('enforces 500 requests per minute per realm over HTTP: the 501st gets one 429', async () => {
    const { token, realmId } = await connect();
    clock += 120_000;
    const statuses: number[] = [];
    for (let i = 0; i < 501; i++) statuses.push((await api(`/v3/company/${realmId}/customer/1`, token)).status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
    expect(statuses[500]).toBe(429);
    clock += 61_000;
    expect((await api(`/v3/company/${realmId}/customer/1`, token)).status).toBe(200);
  });

  it('issue 16: enforces 40 batch requests a minute per realm over HTTP: the 41st gets 429 3001, other requests pass', async () => {
    const { token, realmId } = await connect();
    clock += 120_000;
    const batch = () =>
      api(`/v3/company/${realmId}/batch`, token, {
        method: 'POST',
        body: JSON.stringify({ BatchItemRequest: [{ bId: 'q', Query: 'select count(*) from Customer' }] }),
        headers: { 'content-type': 'application/json' },
      });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await batch()).status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(40);
    const refused = await batch();
    expect(refused.status).toBe(429);
    expect(await refused.text()).toMatch(/3001/);
    expect((await api(`/v3/company/${realmId}/customer/1`, token)).status).toBe(200);
    clock += 61_000;
    expect((await batch()).status).toBe(200);
  });

  it('creates customers idempotently with requestid, and returns 5010 and 6240 faults with HTTP 400', async () => {
    const { token, realmId } = await connect();
    const post = (body: unknown, query = '') =>
      api(`/v3/company/${realmId}/customer${query}`, token, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
    const a = await (await post({ DisplayName: "Café L'Express" }, '?requestid=abc-1')).json();
    const b = await (await post({ DisplayName: "Café L'Express" }, '?requestid=abc-1')).json();
    expect(b).toEqual(a);
    const dup = await post({ DisplayName: "Café L'Express" });
    expect(dup.status).toBe(400);
    expect(((await dup.json()) as { Fault: { Error: { code: string }[] } }).Fault.Error[0]?.code).toBe('6240');
    const created = (a as { Customer: { Id: string } }).Customer;
    expect((await post({ Id: created.Id, SyncToken: '0', sparse: true, Notes: 'x' })).status).toBe(200);
    const stale = await post({ Id: created.Id, SyncToken: '0', sparse: true, Notes: 'y' });
    expect(stale.status).toBe(400);
    expect(((await stale.json()) as { Fault: { Error: { code: string }[] } }).Fault.Error[0]?.code).toBe('5010');
    const escaped = await api(`/v3/company/${realmId}/query`, token, {
      method: 'POST',
      body: "SELECT * FROM Customer WHERE DisplayName = 'Café L\\'Express'",
      headers: { 'content-type': 'text/plain' },
    });
    expect(
      ((await escaped.json()) as { QueryResponse: { Customer: { Id: string }[] } }).QueryResponse.Customer[0]?.Id,
    ).toBe(created.Id);
  });

  it('never crashes on malformed input: bad queries, bodies and admin calls get clear errors', async () => {
    const { token, realmId } = await connect();
    const badQuery = await api(
      `/v3/company/${realmId}/query?query=${encodeURIComponent('SELECT * FROM Customer WHERE')}`,
      token,
    );
    expect(badQuery.status).toBe(400);
    expect(((await badQuery.json()) as { Fault: { Error: { code: string }[] } }).Fault.Error[0]?.code).toBe('4000');
    const badJson = await api(`/v3/company/${realmId}/customer`, token, { method: 'POST', body: '{nope' });
    expect(badJson.status).toBe(400);
    for (const [method, path, body] of [
      ['POST', `/__sim/companies/${realmId}/merge`, '{"fromId": 1}'],
      ['POST', `/__sim/companies/${realmId}/bulk-edit`, 'not json'],
      ['PUT', '/__sim/faults', '{"rate429": "lots"}'],
      ['DELETE', `/__sim/companies/${realmId}/customers/1`, ''],
      ['GET', '/__sim/companies/nope/state', ''],
      ['GET', '/__sim/whatever', ''],
    ] as const) {
      const res = await fetch(`${sim.baseUrl}${path}`, { method, ...(body ? { body } : {}) });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(((await res.json()) as { error: string }).error.length).toBeGreaterThan(10);
    }
    expect((await api(`/v3/company/${realmId}/customer/1`, token)).status).toBe(200);
  });
});

describe('webhooks', () => {
  it('signs every delivery with intuit-signature over the raw body and retries until acknowledged', async () => {
    const received: { body: string; signature: string; status: number }[] = [];
    let failuresLeft = 2;
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = failuresLeft-- > 0 ? 500 : 200;
        received.push({
          body: Buffer.concat(chunks).toString('utf8'),
          signature: String(req.headers['intuit-signature']),
          status,
        });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    try {
      for (const format of ['legacy', 'cloudevents'] as const) {
        received.length = 0;
        failuresLeft = format === 'legacy' ? 2 : 0;
        const put = await fetch(`${sim.baseUrl}/__sim/webhooks`, {
          method: 'PUT',
          body: JSON.stringify({ url, format, retryDelaysMs: [20, 40], aggregationMs: 5 }),
        });
        expect(put.status).toBe(200);
        const realmId = sim.realmIds[0] as string;
        const edit = await fetch(`${sim.baseUrl}/__sim/companies/${realmId}/customers/2`, {
          method: 'PATCH',
          body: JSON.stringify({ Notes: `webhook ${format}` }),
        });
        expect(edit.status).toBe(200);
        await sim.sim.webhooks.idle();
        expect(received.length).toBe(format === 'legacy' ? 3 : 1);
        for (const r of received) expect(r.signature).toBe(signWebhook(r.body, sim.verifierToken));
        expect(new Set(received.map((r) => r.body)).size).toBe(1);
        const payload = JSON.parse(received[0]?.body ?? '') as unknown;
        if (format === 'legacy')
          expect(payload).toMatchObject({
            eventNotifications: [
              { realmId, dataChangeEvent: { entities: [{ name: 'Customer', id: '2', operation: 'Update' }] } },
            ],
          });
        else
          expect(payload).toMatchObject([
            { type: 'qbo.customer.updated.v1', intuitentityid: '2', intuitaccountid: realmId },
          ]);
      }
    } finally {
      await fetch(`${sim.baseUrl}/__sim/webhooks`, { method: 'PUT', body: JSON.stringify({ url: null }) });
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });
});
