/**
 * Issue 13, point 1: a widely used QuickBooks client from npm (node-quickbooks), unchanged except
 * for its base URLs, runs against the simulator. It sends lowercase entity names, escapes
 * apostrophes with a backslash, pages with STARTPOSITION/MAXRESULTS and sparse-updates by default,
 * so it meets the simulator as it would meet Intuit.
 */
import nodeQuickBooks, { type QuickBooks as QuickBooksClient } from 'node-quickbooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from './index.js';

const REDIRECT = 'http://localhost:9/callback';

// The package is CommonJS (`module.exports = QuickBooks`) while its typings declare an ES default
// export: at run time the default import is the class itself.
const QuickBooks = nodeQuickBooks as unknown as typeof QuickBooksClient;

let qbo: RunningSimulator;
let realmId: string;
const saved = { v3: QuickBooks.V3_ENDPOINT_BASE_URL, token: QuickBooks.TOKEN_URL, revoke: QuickBooks.REVOKE_URL };

beforeAll(async () => {
  qbo = await startSimulator({ port: 0, seed: 21, customers: 45, transactions: 60, autoConsent: true });
  realmId = qbo.realmIds[0] as string;
  // node-quickbooks's base URLs are class statics; the instance copies V3_ENDPOINT_BASE_URL when built.
  QuickBooks.V3_ENDPOINT_BASE_URL = `${qbo.baseUrl}/v3/company/`;
  QuickBooks.TOKEN_URL = qbo.oauthUrls.tokenEndpoint;
  QuickBooks.REVOKE_URL = qbo.oauthUrls.revokeEndpoint;
});
afterAll(async () => {
  QuickBooks.V3_ENDPOINT_BASE_URL = saved.v3;
  QuickBooks.TOKEN_URL = saved.token;
  QuickBooks.REVOKE_URL = saved.revoke;
  await qbo.stop();
});

/** The authorization-code flow as a browser and an OAuth library would run it. */
async function connect(): Promise<{ accessToken: string; refreshToken: string }> {
  const authorize = new URL(qbo.oauthUrls.authorizeEndpoint);
  authorize.search = new URLSearchParams({
    client_id: qbo.clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'com.intuit.quickbooks.accounting',
    state: 'independent',
  }).toString();
  const consent = await fetch(authorize, { redirect: 'manual' });
  const code = new URL(consent.headers.get('location') as string).searchParams.get('code') as string;
  const reply = await fetch(qbo.oauthUrls.tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${qbo.clientId}:${qbo.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT }).toString(),
  });
  const body = (await reply.json()) as { access_token: string; refresh_token: string };
  return { accessToken: body.access_token, refreshToken: body.refresh_token };
}

interface Outcome<T> {
  readonly err: unknown;
  readonly data: T;
}

/** node-quickbooks is callback-based: its (err, data) as one value. */
function call<T>(run: (callback: (err: unknown, data?: unknown) => void) => void): Promise<Outcome<T>> {
  return new Promise((resolve) => run((err, data) => resolve({ err, data: data as T })));
}

interface CustomerJson {
  Id: string;
  SyncToken: string;
  DisplayName: string;
  Notes?: string;
  PrimaryEmailAddr?: { Address: string };
}

/** The response of a failed call as axios reports it: HTTP status and parsed body. */
function failure(err: unknown): { status: number | undefined; body: unknown } {
  const response = (err as { response?: { status?: number; data?: unknown } } | null)?.response;
  return { status: response?.status, body: response?.data };
}

describe('point 1: an independent client (node-quickbooks) runs against the simulator unchanged', () => {
  it('pages, counts, queries with an apostrophe, creates, sparse-updates, meets 5010, reads CDC and refreshes', async () => {
    let checks = 0;
    const check = (ok: boolean, what: string) => {
      expect(ok, what).toBe(true);
      checks++;
    };
    const tokens = await connect();
    const client = new QuickBooks(
      qbo.clientId,
      qbo.clientSecret,
      tokens.accessToken,
      false,
      realmId,
      true,
      false,
      null,
      '2.0',
      tokens.refreshToken,
    );
    check(client.endpoint === `${qbo.baseUrl}/v3/company/`, 'the client took the simulator as its base URL');

    // count: `select count(*) from customer startposition 1 maxresults 1000`
    const counted = await call<{ QueryResponse: { totalCount: number } }>((cb) =>
      client.findCustomers({ count: true }, cb),
    );
    check(counted.err === null, `count answered: ${JSON.stringify(failure(counted.err))}`);
    const total = counted.data.QueryResponse.totalCount;
    const active = qbo.sim.adminState(realmId, 'Customer')['entities'] as { Customer: { Active: boolean }[] };
    const activeCount = active.Customer.filter((c) => c.Active).length;
    check(total === activeCount, `count(*) gives every active customer (${total} of ${activeCount})`);

    // paging: fetchAll follows MAXRESULTS pages while a page comes back full
    const paged = await call<{ QueryResponse: { Customer: CustomerJson[]; maxResults: number } }>((cb) =>
      client.findCustomers({ fetchAll: true, limit: 10, asc: 'Id' }, cb),
    );
    check(paged.err === null, 'paged query answered');
    const ids = paged.data.QueryResponse.Customer.map((c) => Number(c.Id));
    check(ids.length === total, `fetchAll paged through all ${total} customers (${ids.length})`);
    check(new Set(ids).size === ids.length, 'no customer came twice across pages');
    check(
      ids.every((id, i) => i === 0 || id > (ids[i - 1] as number)),
      'pages follow ORDERBY Id across page boundaries',
    );

    // create
    const created = await call<CustomerJson>((cb) =>
      client.createCustomer(
        { DisplayName: "Amy's Bird Sanctuary", PrimaryEmailAddr: { Address: 'amy@example.com' } },
        cb,
      ),
    );
    check(created.err === null, `create answered: ${JSON.stringify(failure(created.err))}`);
    check(
      created.data.DisplayName === "Amy's Bird Sanctuary" && created.data.SyncToken === '0',
      'created at SyncToken 0',
    );

    // a query with an escaped apostrophe: `where DisplayName = 'Amy\'s Bird Sanctuary'`
    const found = await call<{ QueryResponse: { Customer?: CustomerJson[] } }>((cb) =>
      client.findCustomers({ DisplayName: "Amy's Bird Sanctuary" }, cb),
    );
    check(found.err === null, 'apostrophe query answered');
    check(
      found.data.QueryResponse.Customer?.[0]?.Id === created.data.Id,
      'the apostrophe query finds the new customer',
    );

    // sparse update (node-quickbooks sets sparse: true when absent)
    const updated = await call<CustomerJson>((cb) =>
      client.updateCustomer({ Id: created.data.Id, SyncToken: created.data.SyncToken, Notes: 'Seed supplier' }, cb),
    );
    check(updated.err === null, `sparse update answered: ${JSON.stringify(failure(updated.err))}`);
    check(
      updated.data.SyncToken === '1' && updated.data.Notes === 'Seed supplier',
      'sparse update moved the SyncToken',
    );
    check(
      updated.data.PrimaryEmailAddr?.Address === 'amy@example.com',
      'sparse update kept the fields it did not name',
    );

    // the stale SyncToken fault
    const stale = await call<unknown>((cb) =>
      client.updateCustomer({ Id: created.data.Id, SyncToken: '0', Notes: 'late edit' }, cb),
    );
    const staleReply = failure(stale.err) as { status: number; body: { Fault?: { Error?: { code: string }[] } } };
    check(staleReply.status === 400, 'a stale SyncToken answers HTTP 400');
    check(staleReply.body.Fault?.Error?.[0]?.code === '5010', 'with fault code 5010');

    // CDC, with the client's own changedSince format (date-fns formatISO, local offset)
    const cdc = await call<{ CDCResponse: { QueryResponse: { Customer?: CustomerJson[] }[] }[] }>((cb) =>
      client.changeDataCapture(['Customer'], new Date(Date.now() - 60_000), cb),
    );
    check(cdc.err === null, `CDC answered: ${JSON.stringify(failure(cdc.err))}`);
    const changed = cdc.data.CDCResponse[0]?.QueryResponse[0]?.Customer ?? [];
    check(
      changed.some((c) => c.Id === created.data.Id && c.SyncToken === '1'),
      'CDC reports the created and updated customer',
    );

    // refresh: an expired access token gets 401, refreshAccessToken (TOKEN_URL) gets a new one
    qbo.sim.oauth.expireAccessTokens(realmId);
    const expired = await call<unknown>((cb) => client.getCustomer(created.data.Id, cb));
    check(failure(expired.err).status === 401, 'an expired access token answers 401');
    const refreshed = await call<{ access_token: string; refresh_token: string }>((cb) =>
      client.refreshAccessToken(cb),
    );
    check(refreshed.err === null, `refresh answered: ${JSON.stringify(failure(refreshed.err))}`);
    check(
      client.token === refreshed.data.access_token && client.token !== tokens.accessToken,
      'the client holds the new access token',
    );
    check(client.refreshToken !== tokens.refreshToken, 'the refresh token rotated');
    const again = await call<CustomerJson>((cb) => client.getCustomer(created.data.Id, cb));
    check(again.err === null && again.data.Id === created.data.Id, 'the refreshed token reads the customer');

    console.log(`independent client: ${checks} checks`);
  });
});
