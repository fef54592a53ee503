/**
 * What the sync's end-to-end tests rely on, in-process: cached record JSON that follows every
 * write, sorted views that stay right under edits, damaged records, an injectable clock, and
 * bulk edits that put thousands of records in one second.
 */
import { describe, expect, it } from 'vitest';
import { QboFault } from './faults.js';
import { AdminError, Simulator, type SimulatorOptions } from './simulator.js';
import { isObject, type Json } from './store.js';
import { formatLocal } from './time.js';

const NOW = Date.parse('2026-03-15T12:00:00Z');

function makeSim(options: SimulatorOptions = {}): { sim: Simulator; realm: string; clock: { t: number } } {
  const clock = { t: NOW };
  const sim = new Simulator({ seed: 5, customers: 600, transactions: 1500, now: () => clock.t, ...options });
  return { sim, realm: sim.realmIds[0] as string, clock };
}

function list(response: Json, entity: string): Json[] {
  return ((response['QueryResponse'] as Json)[entity] as Json[] | undefined) ?? [];
}

/** Every page of a statement (without paging clauses), 1000 at a time. */
function allPages(sim: Simulator, realm: string, statement: string, entity: string): Json[] {
  const out: Json[] = [];
  for (let start = 1; ; start += 1000) {
    const page = list(sim.query(realm, `${statement} STARTPOSITION ${start} MAXRESULTS 1000`), entity);
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

const updatedOf = (r: Json) => Date.parse(String((r['MetaData'] as Json)['LastUpdatedTime']));
const byIdNum = (a: Json, b: Json) => Number(a['Id']) - Number(b['Id']);

function adminError(run: () => unknown): AdminError {
  try {
    run();
  } catch (err) {
    if (err instanceof AdminError) return err;
    throw err;
  }
  throw new Error('expected an AdminError');
}

describe('cached record JSON', () => {
  it('serves query, read and CDC text identical to JSON.stringify of the parsed response', () => {
    const { sim, realm } = makeSim();
    for (const statement of [
      'SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 1000',
      'SELECT * FROM Invoice ORDERBY MetaData.LastUpdatedTime STARTPOSITION 11 MAXRESULTS 50',
      'SELECT count(*) FROM Customer',
      "SELECT * FROM Customer WHERE DisplayName = 'nobody at all'",
    ]) {
      const text = sim.queryText(realm, statement);
      expect(JSON.stringify(JSON.parse(text))).toBe(text);
      // Twice: the second answer comes from the cache.
      expect(sim.queryText(realm, statement)).toBe(text);
    }
    const cdc = sim.cdcText(realm, 'Customer,Invoice', '2026-03-01');
    expect(JSON.stringify(JSON.parse(cdc))).toBe(cdc);
    const read = sim.readBytes(realm, 'Customer', '7').toString('utf8');
    expect(JSON.parse(read)).toEqual({
      Customer: sim.companies.get(realm)?.render(sim.companies.get(realm)!.get('Customer', '7')!),
      time: expect.any(String),
    });
    sim.stop();
  });

  it('shows every write at once: an edit, a rename in CustomerRef names, a parent rename in FullyQualifiedName', () => {
    const { sim, realm, clock } = makeSim();
    const company = sim.companies.get(realm)!;
    const invoice = list(sim.query(realm, 'SELECT * FROM Invoice MAXRESULTS 1'), 'Invoice')[0] as Json;
    const customerId = String((invoice['CustomerRef'] as Json)['value']);
    const job = company.tables.Customer.byId.find((r) => isObject(r.body?.['ParentRef']))!;
    const parentId = String((job.body!['ParentRef'] as Json)['value']);
    // Warm the caches.
    sim.read(realm, 'Invoice', String(invoice['Id']));
    const jobBefore = sim.read(realm, 'Customer', job.id)['Customer'] as Json;
    clock.t += 5000;

    sim.adminEditCustomer(realm, customerId, { DisplayName: 'Renommé Tremblay', Notes: 'nouvelle note' });
    const customer = sim.read(realm, 'Customer', customerId)['Customer'] as Json;
    expect(customer['DisplayName']).toBe('Renommé Tremblay');
    expect(customer['Notes']).toBe('nouvelle note');
    expect(customer['MetaData']).toMatchObject({ LastUpdatedTime: formatLocal(clock.t, company.timeZone) });
    const again = sim.read(realm, 'Invoice', String(invoice['Id']))['Invoice'] as Json;
    expect(again['CustomerRef']).toEqual({ value: customerId, name: 'Renommé Tremblay' });

    sim.adminEditCustomer(realm, parentId, { DisplayName: 'Parent Renommé' });
    const jobAfter = sim.read(realm, 'Customer', job.id)['Customer'] as Json;
    expect(jobBefore['FullyQualifiedName']).not.toContain('Parent Renommé');
    expect(jobAfter['FullyQualifiedName']).toBe(`Parent Renommé:${job.name}`);
    sim.stop();
  });

  it('keeps no more than its byte budget and still answers the same', () => {
    const { sim, realm } = makeSim({ renderCacheBytes: 20_000 });
    const { sim: plain } = makeSim({ renderCacheBytes: 0 });
    const company = sim.companies.get(realm)!;
    const statement = 'SELECT * FROM Customer ORDERBY Id STARTPOSITION 1 MAXRESULTS 500';
    expect(sim.queryText(realm, statement)).toBe(plain.queryText(realm, statement));
    expect(company.renderCacheSize).toBeLessThanOrEqual(20_000);
    expect(company.renderCacheSize).toBeGreaterThan(0);
    sim.stop();
    plain.stop();
  });
});

describe('sorted views under edits', () => {
  it('pages by LastUpdatedTime, by default order and by Id (Active filtered) match a full sort after edits', () => {
    const { sim, realm, clock } = makeSim();
    // Read once so the views exist, then change the data under them.
    allPages(sim, realm, 'SELECT * FROM Customer ORDERBY MetaData.LastUpdatedTime', 'Customer');
    allPages(sim, realm, 'SELECT * FROM Customer', 'Customer');
    for (let round = 0; round < 4; round++) {
      clock.t += 1000;
      sim.adminBulkEdit(realm, 40 + round * 60, 'Customer');
      sim.adminEditCustomer(realm, String(10 + round), { DisplayName: `AAA premier ${round}` });
      sim.adminSetActive(realm, 'Customer', String(30 + round), false);
      clock.t += 1000;
      sim.adminEditCustomer(realm, String(20 + round), { Notes: `round ${round}` });

      const state = (sim.adminState(realm, 'Customer')['entities'] as Json)['Customer'] as Json[];
      const active = state.filter((r) => r['Active'] === true);
      const expectUpdated = [...active].sort((a, b) => updatedOf(a) - updatedOf(b) || byIdNum(a, b));
      const gotUpdated = allPages(sim, realm, 'SELECT * FROM Customer ORDERBY MetaData.LastUpdatedTime', 'Customer');
      expect(gotUpdated.map((r) => r['Id'])).toEqual(expectUpdated.map((r) => r['Id']));

      const lower = (r: Json) => String(r['DisplayName']).toLowerCase();
      const expectName = [...active].sort((a, b) =>
        lower(a) < lower(b) ? -1 : lower(a) > lower(b) ? 1 : byIdNum(a, b),
      );
      const gotName = allPages(sim, realm, 'SELECT * FROM Customer', 'Customer');
      expect(gotName.map((r) => r['Id'])).toEqual(expectName.map((r) => r['Id']));

      const inactive = allPages(sim, realm, 'SELECT * FROM Customer WHERE Active = false ORDERBY Id', 'Customer');
      expect(inactive.map((r) => r['Id'])).toEqual(state.filter((r) => r['Active'] === false).map((r) => r['Id']));
    }
    sim.stop();
  });

  it('answers LastUpdatedTime windows and Id ranges on the ordering key exactly at their bounds', () => {
    const { sim, realm } = makeSim();
    const state = (sim.adminState(realm, 'Invoice')['entities'] as Json)['Invoice'] as Json[];
    const sorted = [...state].sort((a, b) => updatedOf(a) - updatedOf(b) || byIdNum(a, b));
    const from = sorted[100] as Json;
    const to = sorted[400] as Json;
    const fromText = String((from['MetaData'] as Json)['LastUpdatedTime']);
    const toText = String((to['MetaData'] as Json)['LastUpdatedTime']);
    const window = allPages(
      sim,
      realm,
      `SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '${fromText}' AND MetaData.LastUpdatedTime < '${toText}' ORDERBY MetaData.LastUpdatedTime`,
      'Invoice',
    );
    const expected = sorted.filter((r) => updatedOf(r) >= updatedOf(from) && updatedOf(r) < updatedOf(to));
    expect(window.map((r) => r['Id'])).toEqual(expected.map((r) => r['Id']));
    const count = sim.query(
      realm,
      `SELECT count(*) FROM Invoice WHERE MetaData.LastUpdatedTime > '${fromText}' AND MetaData.LastUpdatedTime <= '${toText}'`,
    );
    expect((count['QueryResponse'] as Json)['totalCount']).toBe(
      sorted.filter((r) => updatedOf(r) > updatedOf(from) && updatedOf(r) <= updatedOf(to)).length,
    );
    const ids = list(sim.query(realm, "SELECT * FROM Customer WHERE Id >= '50' AND Id < '60' ORDERBY Id"), 'Customer');
    const customers = (sim.adminState(realm, 'Customer')['entities'] as Json)['Customer'] as Json[];
    expect(ids.map((r) => r['Id'])).toEqual(
      customers
        .filter((r) => r['Active'] === true && Number(r['Id']) >= 50 && Number(r['Id']) < 60)
        .map((r) => r['Id']),
    );
    sim.stop();
  });
});

describe('damaged records (adminCorrupt)', () => {
  it('removes, retypes or oversizes a field, bumping SyncToken and LastUpdatedTime, until repaired', () => {
    const { sim, realm, clock } = makeSim();
    const company = sim.companies.get(realm)!;
    const before = sim.read(realm, 'Customer', '12')['Customer'] as Json;
    clock.t += 61_000;

    const missing = sim.adminCorrupt(realm, 'Customer', '12', 'missing');
    expect(missing).not.toHaveProperty('DisplayName');
    expect(missing).not.toHaveProperty('CompanyName');
    expect(missing['SyncToken']).toBe(String(Number(before['SyncToken']) + 1));
    expect((missing['MetaData'] as Json)['LastUpdatedTime']).toBe(formatLocal(clock.t, company.timeZone));
    // Every way of reading it shows the damage.
    expect(sim.read(realm, 'Customer', '12')['Customer']).not.toHaveProperty('DisplayName');
    const viaQuery = list(
      sim.query(realm, "SELECT * FROM Customer WHERE Id = '12' AND Active IN (true, false)"),
      'Customer',
    );
    expect(viaQuery[0]).not.toHaveProperty('DisplayName');
    const cdc = sim.cdc(realm, 'Customer', formatLocal(clock.t, company.timeZone));
    const changed = (((cdc['CDCResponse'] as Json[])[0] as Json)['QueryResponse'] as Json[])[0] as Json;
    expect((changed['Customer'] as Json[]).find((r) => r['Id'] === '12')).not.toHaveProperty('DisplayName');

    expect(sim.adminCorrupt(realm, 'Customer', '12', 'wrongType')['DisplayName']).toBe(12345);
    expect(String(sim.adminCorrupt(realm, 'Customer', '12', 'oversized', { length: 600 })['DisplayName'])).toHaveLength(
      600,
    );
    const invoiceId = company.tables.Invoice.byId[0]!.id;
    expect(sim.adminCorrupt(realm, 'Invoice', invoiceId, 'missing')).not.toHaveProperty('CustomerRef');
    expect(sim.adminCorrupt(realm, 'Invoice', invoiceId, 'wrongType')['CustomerRef']).toBe('not-a-valid-value');
    expect(String(sim.adminCorrupt(realm, 'Invoice', invoiceId, 'oversized')['DocNumber'])).toHaveLength(5000);
    const withNul = String(sim.adminCorrupt(realm, 'Invoice', invoiceId, 'nulByte')['DocNumber']);
    expect(withNul.indexOf('\u0000')).toBe(1);
    expect(
      sim.adminCorrupt(realm, 'Invoice', invoiceId, 'missing', { field: 'CustomerRef.value' })['CustomerRef'],
    ).not.toHaveProperty('value');

    const repaired = sim.adminRepair(realm, 'Customer', '12');
    expect(repaired['DisplayName']).toBe(before['DisplayName']);
    expect(repaired['SyncToken']).toBe(String(Number(before['SyncToken']) + 4));
    expect(adminError(() => sim.adminCorrupt(realm, 'Customer', '12', 'bent')).status).toBe(400);
    expect(adminError(() => sim.adminCorrupt(realm, 'Customer', '999999', 'missing')).status).toBe(404);
    expect(adminError(() => sim.adminCorrupt(realm, 'Customer', '12', 'missing', { field: 'a b' })).status).toBe(400);
    expect(adminError(() => sim.adminRepair(realm, 'Customer', '12')).status).toBe(409);
    sim.stop();
  });
});

describe('clock and bursts', () => {
  it('generates LastUpdatedTime within the six years before the injected clock', () => {
    const now = Date.parse('2020-06-01T00:00:00Z');
    const sim = new Simulator({ seed: 3, customers: 300, transactions: 600, now: () => now });
    const realm = sim.realmIds[0] as string;
    const state = sim.adminState(realm)['entities'] as Json;
    const times = Object.values(state).flatMap((rows) => (rows as Json[]).map(updatedOf));
    expect(Math.max(...times)).toBeLessThanOrEqual(now);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(now - 6 * 365 * 86_400_000);
    expect(Math.max(...times)).toBeGreaterThan(now - 30 * 86_400_000);
    sim.stop();
  });

  it('applies the 30-day CDC limit and access-token expiry against the injected clock', () => {
    const { sim, realm, clock } = makeSim({ accessTokenTtlSeconds: 3600 });
    const company = sim.companies.get(realm)!;
    const since = formatLocal(clock.t - 29 * 86_400_000, company.timeZone);
    expect(() => sim.cdc(realm, 'Customer', since)).not.toThrow();
    clock.t += 2 * 86_400_000;
    expect(() => sim.cdc(realm, 'Customer', since)).toThrow(QboFault);

    const code = sim.oauth.issueCode(realm, 'http://localhost/cb', sim.clientId);
    const reply = sim.oauth.token(
      new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'http://localhost/cb' }),
      false,
    );
    const access = String(reply.body['access_token']);
    clock.t += 3599_000;
    expect(() => sim.oauth.authenticate(`Bearer ${access}`, realm)).not.toThrow();
    clock.t += 2000;
    expect(() => sim.oauth.authenticate(`Bearer ${access}`, realm)).toThrow(/expired/i);
    sim.stop();
  });

  it('stamps edits in whole seconds, so an equality filter on the shown second finds them', () => {
    const { sim, realm, clock } = makeSim();
    const company = sim.companies.get(realm)!;
    clock.t = NOW + 86_400_000 + 1750;
    const edited = sim.adminEditCustomer(realm, '5', { Notes: 'à la seconde près' });
    const shown = String((edited['MetaData'] as Json)['LastUpdatedTime']);
    expect(shown).toBe(formatLocal(NOW + 86_400_000 + 1000, company.timeZone));
    const found = list(
      sim.query(realm, `SELECT * FROM Customer WHERE MetaData.LastUpdatedTime = '${shown}'`),
      'Customer',
    );
    expect(found.map((r) => r['Id'])).toEqual(['5']);
    sim.stop();
  });

  it('puts a bulk edit of 5000 records in one second even while the clock moves during it', () => {
    // The clock runs on by 1 ms at every read, so 5000 edits one after another would cross seconds.
    const clock = { t: NOW + 86_400_000 + 900, reads: 0 };
    const sim2 = new Simulator({
      seed: 5,
      customers: 6000,
      transactions: 10,
      now: () => clock.t + clock.reads++,
    });
    const realm2 = sim2.realmIds[0] as string;
    const before = clock.reads;
    const result = sim2.adminBulkEdit(realm2, 5000, 'Customer');
    expect(result.edited).toHaveLength(5000);
    const burst = allPages(
      sim2,
      realm2,
      `SELECT * FROM Customer WHERE Active IN (true, false) AND MetaData.LastUpdatedTime = '${result.at}' ORDERBY Id`,
      'Customer',
    );
    expect(burst).toHaveLength(5000);
    expect(new Set(burst.map((r) => (r['MetaData'] as Json)['LastUpdatedTime']))).toEqual(new Set([result.at]));
    const count = sim2.query(
      realm2,
      `SELECT count(*) FROM Customer WHERE Active IN (true, false) AND MetaData.LastUpdatedTime = '${result.at}'`,
    );
    expect((count['QueryResponse'] as Json)['totalCount']).toBe(5000);
    expect(clock.reads).toBeGreaterThan(before);
    sim2.stop();
  });
});
