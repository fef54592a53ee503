/**
 * Over HTTP: the per-realm API request counter (so a test can prove a paused tenant makes no QBO
 * calls), the damage and repair admin calls, same-second bulk edits, and page bytes equal to
 * JSON.stringify of the in-process response.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from './index.js';
import type { Json } from './store.js';

const clock = Date.parse('2026-05-04T15:30:00Z');
let qbo: RunningSimulator;
let realm: string;
let other: string;
let token: string;

beforeAll(async () => {
  qbo = await startSimulator({
    port: 0,
    seed: 21,
    companies: 2,
    customers: 300,
    transactions: 400,
    autoConsent: true,
    now: () => clock,
    rateLimits: { enabled: false },
  });
  realm = qbo.realmIds[0] as string;
  other = qbo.realmIds[1] as string;
  const redirect = 'http://localhost/cb';
  const authorize = `${qbo.oauthUrls.authorizeEndpoint}?client_id=${qbo.clientId}&redirect_uri=${encodeURIComponent(redirect)}&response_type=code&scope=com.intuit.quickbooks.accounting&state=s&realmId=${realm}`;
  const location = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location') as string);
  const reply = await fetch(qbo.oauthUrls.tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${qbo.clientId}:${qbo.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: location.searchParams.get('code') ?? '',
      redirect_uri: redirect,
    }),
  });
  token = ((await reply.json()) as { access_token: string }).access_token;
});
afterAll(async () => {
  await qbo.stop();
});

function api(path: string, bearer = token): Promise<Response> {
  return fetch(`${qbo.baseUrl}/v3/company/${realm}${path}`, {
    headers: { authorization: `Bearer ${bearer}`, accept: 'application/json' },
  });
}

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${qbo.baseUrl}/__sim${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

const query = (statement: string) => `/query?query=${encodeURIComponent(statement)}&minorversion=75`;

describe('background warm-up', () => {
  it('renders every customer and item into the JSON cache after start, the same bytes as rendering on demand', async () => {
    await qbo.warmed;
    const company = qbo.sim.companies.get(realm)!;
    const customers = company.tables.Customer.byId;
    expect(customers.every((r) => r.rendered !== undefined)).toBe(true);
    expect(company.tables.Item.byId.every((r) => r.rendered !== undefined)).toBe(true);
    const row = customers[17]!;
    expect(company.renderBytes(row).toString('utf8')).toBe(JSON.stringify(company.render(row)));
  });

  it('stops warming when the simulator stops', async () => {
    const big = await startSimulator({ port: 0, customers: 20_000, transactions: 0 });
    await big.stop();
    await big.warmed;
    const company = big.sim.companies.get(big.realmIds[0] as string)!;
    expect(company.tables.Customer.byId.filter((r) => r.rendered !== undefined).length).toBeLessThan(20_000);
  });
});

describe('API request counter', () => {
  it('counts every API request per realm and kind, failures included, and not OAuth or admin calls', async () => {
    qbo.sim.resetApiRequestCounts();
    expect(qbo.sim.apiRequestCount(realm)).toBe(0);
    expect((await api(query('SELECT * FROM Customer MAXRESULTS 5'))).status).toBe(200);
    expect((await api(query('SELECT * FROM Nothing'))).status).toBe(400);
    expect((await api('/customer/3')).status).toBe(200);
    expect((await api('/cdc?entities=Customer&changedSince=2026-05-01')).status).toBe(200);
    expect((await api('/customer/3', 'not-a-token')).status).toBe(401);
    await admin('GET', '/info');
    await admin('GET', `/companies/${realm}/state?entities=Item`);
    await fetch(qbo.oauthUrls.tokenEndpoint, { method: 'POST' });

    expect(qbo.sim.apiRequestCount(realm)).toBe(5);
    expect(qbo.sim.apiRequestCount(realm, 'query')).toBe(2);
    expect(qbo.sim.apiRequestCount(realm, 'read')).toBe(2);
    expect(qbo.sim.apiRequestCount(realm, 'cdc')).toBe(1);
    expect(qbo.sim.apiRequestCount(other)).toBe(0);
    const viaAdmin = await admin('GET', `/companies/${realm}/requests`);
    expect(viaAdmin).toEqual({
      status: 200,
      json: { realmId: realm, total: 5, query: 2, cdc: 1, read: 2, write: 0, other: 0 },
    });
    expect((await admin('GET', `/companies/${other}/requests`)).json).toMatchObject({ realmId: other, total: 0 });
    expect((await admin('GET', '/requests')).json).toEqual({
      [realm]: { total: 5, query: 2, cdc: 1, read: 2, write: 0, other: 0 },
    });
    expect((await admin('DELETE', `/companies/${realm}/requests`)).json).toMatchObject({ total: 0 });
    expect(qbo.sim.apiRequestCount(realm)).toBe(0);
    expect((await admin('GET', '/companies/nope/requests')).status).toBe(404);
  });
});

describe('pages over HTTP', () => {
  it('sends the same bytes as JSON.stringify of the in-process response, before and after an edit', async () => {
    const statements = [
      'SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 1000',
      'SELECT * FROM Invoice ORDERBY MetaData.LastUpdatedTime STARTPOSITION 21 MAXRESULTS 100',
      'SELECT count(*) FROM Customer WHERE Active IN (true, false)',
    ];
    for (const round of [0, 1]) {
      if (round === 1) await admin('PATCH', `/companies/${realm}/customers/4`, { Notes: 'modifié' });
      for (const statement of statements) {
        const res = await api(query(statement));
        expect(res.headers.get('content-type')).toBe('application/json;charset=UTF-8');
        expect(await res.text()).toBe(JSON.stringify(qbo.sim.query(realm, statement)));
      }
    }
    const read = await (await api('/customer/4')).text();
    expect(read).toBe(JSON.stringify(qbo.sim.read(realm, 'Customer', '4')));
    expect(JSON.parse(read)).toMatchObject({ Customer: { Notes: 'modifié' } });
  });
});

describe('admin: damage, repair and bursts', () => {
  it('damages a record over the admin API so reads show it, repairs it, and rejects bad calls', async () => {
    const corrupt = await admin('POST', `/companies/${realm}/customers/9/corrupt`, { kind: 'wrongType' });
    expect(corrupt.status).toBe(200);
    expect(corrupt.json['DisplayName']).toBe(12345);
    const read = (await (await api('/customer/9')).json()) as { Customer: Json };
    expect(read.Customer['DisplayName']).toBe(12345);
    expect(read.Customer['SyncToken']).toBe(corrupt.json['SyncToken']);

    const repaired = await admin('POST', `/companies/${realm}/customers/9/repair`);
    expect(repaired.status).toBe(200);
    expect(typeof repaired.json['DisplayName']).toBe('string');
    expect(Number(repaired.json['SyncToken'])).toBe(Number(corrupt.json['SyncToken']) + 1);

    const bad = await admin('POST', `/companies/${realm}/customers/9/corrupt`, { kind: 'crumpled' });
    expect(bad.status).toBe(400);
    expect(String(bad.json['error'])).toContain('missing, wrongType, oversized');
    expect((await admin('POST', `/companies/${realm}/invoices/1/corrupt`, { kind: 'missing' })).status).toBe(404);
  });

  it('bulk-edits N records into one second and says which second', async () => {
    const bulk = await admin('POST', `/companies/${realm}/bulk-edit`, { count: 250, entity: 'Customer' });
    expect(bulk.status).toBe(200);
    const at = String(bulk.json['at']);
    const res = await api(
      query(`SELECT count(*) FROM Customer WHERE Active IN (true, false) AND MetaData.LastUpdatedTime = '${at}'`),
    );
    const body = (await res.json()) as { QueryResponse: { totalCount: number } };
    const state = (await admin('GET', `/companies/${realm}/state?entities=Customer`)).json;
    const customers = (state['entities'] as Json)['Customer'] as Json[];
    const timeOf = (r: Json) => (r['MetaData'] as Json)['LastUpdatedTime'];
    const edited = new Set((bulk.json['edited'] as Json[]).map((e) => e['id']));
    expect(customers.filter((r) => edited.has(r['Id'])).map(timeOf)).toEqual(Array(250).fill(at));
    // The count also holds the records edited earlier in this file at the same frozen second.
    expect(body.QueryResponse.totalCount).toBe(customers.filter((r) => timeOf(r) === at).length);
    expect((bulk.json['edited'] as unknown[]).length).toBe(250);
  });
});
