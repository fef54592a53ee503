import { describe, expect, it } from 'vitest';
import { QboFault } from './faults.js';
import { parseQuery } from './query.js';
import { RateLimiter } from './rate-limiter.js';
import { AdminError, Simulator, type SimulatorOptions } from './simulator.js';
import type { Json } from './store.js';
import { cloudEventsPayload, legacyPayload, signWebhook } from './webhooks.js';

const NOW = Date.parse('2026-03-15T12:00:00Z');

function makeSim(options: SimulatorOptions = {}): { sim: Simulator; realm: string; clock: { t: number } } {
  const clock = { t: NOW };
  const sim = new Simulator({ seed: 7, customers: 120, transactions: 300, now: () => clock.t, ...options });
  return { sim, realm: sim.realmIds[0] as string, clock };
}

function rows(response: Json, entity: string): Json[] {
  return ((response['QueryResponse'] as Json)[entity] as Json[] | undefined) ?? [];
}

function fault(run: () => unknown): QboFault {
  try {
    run();
  } catch (err) {
    if (err instanceof QboFault) return err;
    throw err;
  }
  throw new Error('expected a QboFault');
}

describe('query language', () => {
  it('parses ORDER BY and ORDERBY, Metadata spelling, IN lists and backslash-escaped quotes', () => {
    const q = parseQuery(
      "select * from Customer where DisplayName = 'Amy\\'s Bird' and Metadata.LastUpdatedTime >= '2020-01-01' and Id in ('1', '2') order by Id desc startposition 3 maxresults 10",
    );
    expect(q.where.map((c) => [c.field, c.op, c.values.map((v) => v.text)])).toEqual([
      ['DisplayName', '=', ["Amy's Bird"]],
      ['Metadata.LastUpdatedTime', '>=', ['2020-01-01']],
      ['Id', 'IN', ['1', '2']],
    ]);
    expect(q.orderBy).toEqual([{ field: 'Id', desc: true }]);
    expect([q.startPosition, q.maxResults]).toEqual([3, 10]);
    expect(parseQuery('SELECT count(*) FROM Item ORDERBY Name').count).toBe(true);
  });

  it('rejects OR, unterminated strings and junk with fault 4000 QueryParserError', () => {
    for (const bad of [
      "SELECT * FROM Customer WHERE Id = '1' OR Id = '2'",
      "SELECT * FROM Customer WHERE DisplayName = 'oops",
      'SELECT * FROM',
      'DELETE FROM Customer',
      'SELECT * FROM Customer WHERE Id ~ 3',
    ]) {
      const f = fault(() => parseQuery(bad));
      expect(f.status).toBe(400);
      expect(f.errors[0]?.code).toBe('4000');
      expect(f.errors[0]?.Detail).toMatch(/^QueryParserError: /);
    }
  });

  it('gives the real QueryValidationError for MAXRESULTS over 1000, unknown properties and entities', () => {
    const { sim, realm } = makeSim();
    const tooLarge = fault(() => sim.query(realm, 'SELECT * FROM Customer MAXRESULTS 1500'));
    expect(tooLarge.errors[0]).toMatchObject({
      code: '4001',
      Message: 'Invalid query',
      Detail: 'QueryValidationError: value 1500 is too large. Max allowed value is 1000',
    });
    expect(fault(() => sim.query(realm, 'SELECT * FROM Customer STARTPOSITION 0')).errors[0]?.Detail).toMatch(
      /too small/,
    );
    expect(fault(() => sim.query(realm, "SELECT * FROM Customer WHERE Shoe = 'x'")).errors[0]?.Detail).toBe(
      'QueryValidationError: Property Shoe not found for Entity Customer',
    );
    expect(fault(() => sim.query(realm, 'SELECT * FROM Vendor')).errors[0]?.code).toBe('4001');
    expect(fault(() => sim.query(realm, "SELECT * FROM Invoice WHERE TxnDate > 'soon'")).errors[0]?.code).toBe('4001');
  });

  it('returns only active customers unless Active is in the filter (inactive filter)', () => {
    const { sim, realm } = makeSim();
    const all = sim.adminState(realm, 'Customer')['entities'] as Json;
    const customers = all['Customer'] as Json[];
    const inactive = customers.filter((c) => c['Active'] === false).length;
    expect(inactive).toBeGreaterThan(0);
    const count = (q: string) => (sim.query(realm, q)['QueryResponse'] as Json)['totalCount'];
    expect(count('SELECT count(*) FROM Customer')).toBe(customers.length - inactive);
    expect(count('SELECT count(*) FROM Customer WHERE Active IN (true, false)')).toBe(customers.length);
    expect(count('SELECT count(*) FROM Customer WHERE Active = false')).toBe(inactive);
    const categories = rows(
      sim.query(realm, "SELECT * FROM Item WHERE Type = 'Category' AND Active IN (true,false)"),
      'Item',
    );
    expect(categories.some((c) => c['Active'] === false)).toBe(true);
    expect(
      rows(sim.query(realm, "SELECT * FROM Item WHERE Type = 'Category'"), 'Item').every((c) => c['Active'] === true),
    ).toBe(true);
  });

  it('matches names with apostrophes through backslash escaping, and LIKE with %', () => {
    const { sim, realm } = makeSim();
    const created = sim.writeCustomer(realm, { DisplayName: "L'Heureux & Fils d'Amérique" }, null)['Customer'] as Json;
    const found = rows(
      sim.query(realm, "SELECT * FROM Customer WHERE DisplayName = 'L\\'Heureux & Fils d\\'Amérique'"),
      'Customer',
    );
    expect(found.map((c) => c['Id'])).toEqual([created['Id']]);
    const like = rows(
      sim.query(realm, "SELECT * FROM Customer WHERE DisplayName LIKE 'l\\'heureux & fils%'"),
      'Customer',
    );
    expect(like.map((c) => c['Id'])).toEqual([created['Id']]);
  });

  it('pages with 1-based STARTPOSITION, reports rows returned as maxResults and omits the entity key when empty', () => {
    const { sim, realm } = makeSim();
    const first = sim.query(realm, 'SELECT * FROM Invoice ORDERBY Id STARTPOSITION 1 MAXRESULTS 10')[
      'QueryResponse'
    ] as Json;
    const second = sim.query(realm, 'SELECT * FROM Invoice ORDERBY Id STARTPOSITION 10 MAXRESULTS 5')[
      'QueryResponse'
    ] as Json;
    expect(first['startPosition']).toBe(1);
    expect(first['maxResults']).toBe(10);
    expect((second['Invoice'] as Json[])[0]?.['Id']).toBe((first['Invoice'] as Json[])[9]?.['Id']);
    expect(sim.query(realm, 'SELECT * FROM Invoice STARTPOSITION 100000')['QueryResponse']).toEqual({});
    const ids = rows(sim.query(realm, 'SELECT * FROM Invoice ORDERBY Id MAXRESULTS 1000'), 'Invoice').map((r) =>
      Number(r['Id']),
    );
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('proves the paging hazard: offset paging by LastUpdatedTime while records change skips some', () => {
    const { sim, realm, clock } = makeSim({ customers: 60 });
    const statement = (start: number) =>
      `SELECT * FROM Customer WHERE Active IN (true,false) ORDERBY MetaData.LastUpdatedTime STARTPOSITION ${start} MAXRESULTS 20`;
    const seen = new Set<string>();
    const page1 = rows(sim.query(realm, statement(1)), 'Customer');
    page1.forEach((c) => seen.add(String(c['Id'])));
    // A user edits three customers that were already read: they move to the end of the ordering.
    for (const c of page1.slice(0, 3)) {
      clock.t += 1000;
      sim.adminEditCustomer(realm, String(c['Id']), { Notes: 'edited mid-scan' });
    }
    for (let start = 21; ; start += 20) {
      const page = rows(sim.query(realm, statement(start)), 'Customer');
      page.forEach((c) => seen.add(String(c['Id'])));
      if (page.length < 20) break;
    }
    const all = (sim.adminState(realm, 'Customer')['entities'] as Json)['Customer'] as Json[];
    const missed = all.filter((c) => !seen.has(String(c['Id'])));
    expect(missed).toHaveLength(3);
  });
});

describe('customer writes', () => {
  it('enforces SyncToken: a stale one gives fault 5010 with HTTP 400', () => {
    const { sim, realm } = makeSim();
    const customer = rows(sim.query(realm, 'SELECT * FROM Customer MAXRESULTS 1'), 'Customer')[0] as Json;
    const updated = sim.writeCustomer(
      realm,
      { Id: customer['Id'], SyncToken: customer['SyncToken'], sparse: true, Notes: 'one' },
      null,
    );
    expect((updated['Customer'] as Json)['SyncToken']).toBe(String(Number(customer['SyncToken']) + 1));
    const stale = fault(() =>
      sim.writeCustomer(
        realm,
        { Id: customer['Id'], SyncToken: customer['SyncToken'], sparse: true, Notes: 'two' },
        null,
      ),
    );
    expect(stale.status).toBe(400);
    expect(stale.errors[0]).toMatchObject({ code: '5010', Message: 'Stale Object Error' });
  });

  it('enforces DisplayName uniqueness, inactive customers included: fault 6240', () => {
    const { sim, realm } = makeSim();
    const inactive = rows(
      sim.query(realm, 'SELECT * FROM Customer WHERE Active = false MAXRESULTS 1'),
      'Customer',
    )[0] as Json;
    const dup = fault(() => sim.writeCustomer(realm, { DisplayName: inactive['DisplayName'] }, null));
    expect(dup.errors[0]).toMatchObject({ code: '6240', Message: 'Duplicate Name Exists Error' });
    const other = rows(sim.query(realm, 'SELECT * FROM Customer MAXRESULTS 1'), 'Customer')[0] as Json;
    const rename = fault(() =>
      sim.writeCustomer(
        realm,
        { Id: other['Id'], SyncToken: other['SyncToken'], sparse: true, DisplayName: inactive['DisplayName'] },
        null,
      ),
    );
    expect(rename.errors[0]?.code).toBe('6240');
  });

  it('sparse update leaves missing fields untouched; full update clears them', () => {
    const { sim, realm } = makeSim();
    const c = sim.writeCustomer(
      realm,
      { DisplayName: 'Sparse Test', PrimaryPhone: { FreeFormNumber: '514-555-0000' }, Notes: 'keep' },
      null,
    )['Customer'] as Json;
    const sparse = sim.writeCustomer(
      realm,
      { Id: c['Id'], SyncToken: c['SyncToken'], sparse: true, Notes: 'changed' },
      null,
    )['Customer'] as Json;
    expect(sparse['PrimaryPhone']).toEqual({ FreeFormNumber: '514-555-0000' });
    expect(sparse['Notes']).toBe('changed');
    const full = sim.writeCustomer(
      realm,
      { Id: c['Id'], SyncToken: sparse['SyncToken'], DisplayName: 'Sparse Test' },
      null,
    )['Customer'] as Json;
    expect(full['PrimaryPhone']).toBeUndefined();
    expect(full['Notes']).toBeUndefined();
  });

  it('refuses to delete customers (Unsupported Operation) but lets them become inactive', () => {
    const { sim, realm } = makeSim();
    const c = rows(sim.query(realm, 'SELECT * FROM Customer MAXRESULTS 1'), 'Customer')[0] as Json;
    expect(
      fault(() => sim.writeCustomer(realm, { Id: c['Id'], SyncToken: c['SyncToken'] }, 'delete')).errors[0]?.Message,
    ).toBe('Unsupported Operation');
    const off = sim.writeCustomer(realm, { Id: c['Id'], SyncToken: c['SyncToken'], sparse: true, Active: false }, null)[
      'Customer'
    ] as Json;
    expect(off['Active']).toBe(false);
    expect(rows(sim.query(realm, `SELECT * FROM Customer WHERE Id = '${String(c['Id'])}'`), 'Customer')).toHaveLength(
      0,
    );
  });

  it('replays a create with the same requestid instead of creating twice (idempotency)', () => {
    const { sim, realm } = makeSim();
    const create = () =>
      sim.idempotent(realm, 'req-42', () => ({
        status: 200,
        body: sim.writeCustomer(realm, { DisplayName: 'Once Only Ltd.' }, null),
      }));
    const a = create();
    const b = create();
    expect(b).toEqual(a);
    expect(
      (sim.query(realm, "SELECT count(*) FROM Customer WHERE DisplayName = 'Once Only Ltd.'")['QueryResponse'] as Json)[
        'totalCount'
      ],
    ).toBe(1);
  });
});

describe('change data capture', () => {
  it('caps at 1000 objects silently, keeping the oldest changes first', () => {
    const { sim, realm, clock } = makeSim({ customers: 1300, transactions: 0 });
    clock.t += 60_000;
    const since = new Date(clock.t).toISOString();
    clock.t += 1000;
    sim.adminBulkEdit(realm, 1200, 'Customer');
    const response = sim.cdc(realm, 'Customer', since);
    const blocks = (response['CDCResponse'] as Json[])[0]?.['QueryResponse'] as Json[];
    const customers = blocks[0]?.['Customer'] as Json[];
    expect(customers).toHaveLength(1000);
    expect(blocks[0]?.['maxResults']).toBe(1000);
    expect(JSON.stringify(response)).not.toMatch(/truncat|more|warning/i);
    expect(typeof response['time']).toBe('string');
  });

  it('reports hard-deleted transactions as status Deleted stubs after the active objects', () => {
    const { sim, realm, clock } = makeSim();
    const since = new Date(clock.t).toISOString();
    clock.t += 5000;
    const invoices = rows(sim.query(realm, 'SELECT * FROM Invoice ORDERBY Id MAXRESULTS 2'), 'Invoice');
    sim.adminDelete(realm, 'Invoice', String(invoices[0]?.['Id']));
    clock.t += 1000;
    sim.adminBulkEdit(realm, 1, 'Invoice');
    const block = (
      (sim.cdc(realm, 'Invoice', since)['CDCResponse'] as Json[])[0]?.['QueryResponse'] as Json[]
    )[0] as Json;
    const list = block['Invoice'] as Json[];
    const stub = list[list.length - 1] as Json;
    expect(Object.keys(stub).sort()).toEqual(['Id', 'MetaData', 'domain', 'status']);
    expect(stub).toMatchObject({ status: 'Deleted', domain: 'QBO', Id: invoices[0]?.['Id'] });
    expect(list[0]?.['status']).toBeUndefined();
    expect(sim.cdc(realm, 'Invoice', since)['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
  });

  it('rejects a changedSince older than 30 days, or clamps it when configured', () => {
    const { sim, realm } = makeSim();
    const old = new Date(NOW - 31 * 86_400_000).toISOString();
    expect(fault(() => sim.cdc(realm, 'Customer', old)).status).toBe(400);
    const clamped = makeSim({ cdc: { outOfRange: 'clamp' } });
    expect(clamped.sim.cdc(clamped.realm, 'Customer', old)['CDCResponse']).toBeDefined();
    expect(fault(() => sim.cdc(realm, 'Customer,Nope', new Date(NOW).toISOString())).status).toBe(400);
    expect(fault(() => sim.cdc(realm, null, null)).errors[0]?.code).toBe('2020');
  });
});

describe('admin operations', () => {
  it('merges B into A as QBO does: B inactive, all B transactions on A with new SyncTokens and times, Merge event', () => {
    const events: Json[] = [];
    const { sim, realm, clock } = makeSim();
    sim.webhooks.enqueue = (e) => void events.push({ ...e });
    const invoices = rows(sim.query(realm, 'SELECT * FROM Invoice MAXRESULTS 1000'), 'Invoice');
    const fromId = String((invoices[0]?.['CustomerRef'] as Json)['value']);
    const candidates = rows(sim.query(realm, 'SELECT * FROM Customer MAXRESULTS 1000'), 'Customer');
    const into = candidates.find((c) => c['Id'] !== fromId && c['Job'] === false) as Json;
    const before = new Map<string, Json>();
    for (const entity of ['Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt'])
      for (const r of rows(
        sim.query(realm, `SELECT * FROM ${entity} WHERE CustomerRef = '${fromId}' MAXRESULTS 1000`),
        entity,
      ))
        before.set(`${entity}/${String(r['Id'])}`, r);
    expect(before.size).toBeGreaterThan(0);
    clock.t += 10_000;
    const result = sim.adminMerge(realm, fromId, String(into['Id']));
    const loser = sim.read(realm, 'customer', fromId)['Customer'] as Json;
    expect(loser['Active']).toBe(false);
    for (const [key, old] of before) {
      const [entity, id] = key.split('/') as [string, string];
      const now = sim.read(realm, entity, id)[entity] as Json;
      expect((now['CustomerRef'] as Json)['value']).toBe(into['Id']);
      expect((now['CustomerRef'] as Json)['name']).toBe(into['DisplayName']);
      expect(Number(now['SyncToken'])).toBe(Number(old['SyncToken']) + 1);
      expect((now['MetaData'] as Json)['LastUpdatedTime']).not.toBe((old['MetaData'] as Json)['LastUpdatedTime']);
    }
    expect(Object.values(result.moved).flat()).toHaveLength(before.size);
    expect(events.find((e) => e['operation'] === 'Merge')).toMatchObject({
      id: into['Id'],
      deletedId: fromId,
      entity: 'Customer',
    });
    expect(() => sim.adminMerge(realm, fromId, String(into['Id']))).toThrow(AdminError);
  });

  it('answers bad admin calls with clear errors', () => {
    const { sim, realm } = makeSim();
    expect(() => sim.adminBulkEdit(realm, -3)).toThrow(/count must be an integer/);
    expect(() => sim.adminBulkEdit(realm, 1, 'Boat')).toThrow(/entity must be one of/);
    expect(() => sim.adminDelete(realm, 'Customer', '1')).toThrow(/cannot be deleted/);
    expect(() => sim.adminMerge(realm, '1', '1')).toThrow(/itself/);
    expect(() => sim.adminEditCustomer(realm, '999999', { Notes: 'x' })).toThrow(/not found/);
    expect(() => sim.adminState('nope')).toThrow(/no company/);
    expect(() => sim.setFaults(undefined, { rate429: 3 })).toThrow(/between 0 and 1/);
  });

  it('generates the same company from the same seed', () => {
    const a = makeSim().sim;
    const b = makeSim().sim;
    const state = (s: Simulator) => JSON.stringify(s.adminState(s.realmIds[0] as string)['entities']);
    expect(a.realmIds).toEqual(b.realmIds);
    expect(state(a)).toBe(state(b));
  });

  it('generates every recorded shape: sub-customers, categories, every TxnStatus, linked invoices, shipping, discounts', () => {
    const { sim, realm } = makeSim({ customers: 300, transactions: 600 });
    const state = sim.adminState(realm)['entities'] as Record<string, Json[]>;
    const text = JSON.stringify(state);
    expect(state['Customer']?.some((c) => c['Job'] === true && (c['ParentRef'] as Json | undefined)?.['value'])).toBe(
      true,
    );
    expect(state['Customer']?.some((c) => c['CompanyName'] === undefined)).toBe(true);
    expect(
      state['Customer']?.some((c) => String((c['PrimaryEmailAddr'] as Json | undefined)?.['Address']).includes(',')),
    ).toBe(true);
    for (const kind of ['PrimaryPhone', 'AlternatePhone', 'Mobile', 'Fax']) expect(text).toContain(`"${kind}"`);
    expect(new Set(state['Estimate']?.map((e) => e['TxnStatus']))).toEqual(
      new Set(['Pending', 'Accepted', 'Closed', 'Rejected']),
    );
    expect(state['Invoice']?.some((i) => (i['LinkedTxn'] as Json[]).some((l) => l['TxnType'] === 'Estimate'))).toBe(
      true,
    );
    expect(text).toContain('"SHIPPING_ITEM_ID"');
    expect(text).toContain('"PercentBased":true');
    expect(text).toContain('"PercentBased":false');
    expect(text).toContain('"SubTotalLineDetail"');
    expect(text).toMatch(/"CountrySubDivisionCode":"QC"/);
    expect(text).toMatch(/"CountrySubDivisionCode":"ON"/);
    const stamps = new Map<string, number>();
    for (const c of state['Customer'] ?? []) {
      const t = String((c['MetaData'] as Json)['LastUpdatedTime']);
      stamps.set(t, (stamps.get(t) ?? 0) + 1);
    }
    expect(Math.max(...stamps.values())).toBeGreaterThan(5);
  });
});

describe('rate limiter', () => {
  it('gives exactly one 429 for 501 requests in one minute, and admits again after the window', () => {
    let t = 0;
    const limiter = new RateLimiter({ perMinute: 500, concurrent: 10, batchPerMinute: 40, now: () => t });
    let refused = 0;
    for (let i = 0; i < 501; i++) {
      t += 100;
      const release = limiter.acquire('r1');
      if (release) release();
      else refused++;
    }
    expect(refused).toBe(1);
    expect(limiter.refused('r1')).toBe(1);
    expect(limiter.acquire('r2')).toBeDefined();
    expect(limiter.refused('r2')).toBe(0);
    t += 60_000;
    expect(limiter.acquire('r1')).toBeDefined();
  });

  it('refuses an eleventh concurrent request for one realm', () => {
    const limiter = new RateLimiter({ perMinute: 500, concurrent: 10, batchPerMinute: 40, now: () => 0 });
    const held = Array.from({ length: 10 }, () => limiter.acquire('r'));
    expect(held.every(Boolean)).toBe(true);
    expect(limiter.acquire('r')).toBeUndefined();
    expect(limiter.acquire('other')).toBeDefined();
    expect(limiter.refused()).toBe(1);
    held[0]?.();
    expect(limiter.acquire('r')).toBeDefined();
    expect(limiter.refused()).toBe(1);
  });
});

describe('rate limiter: batch requests', () => {
  it('issue 16: refuses the 41st batch request of a minute while single requests still pass, and admits it after the window', () => {
    let t = 0;
    const limiter = new RateLimiter({ perMinute: 500, concurrent: 10, batchPerMinute: 40, now: () => t });
    const admitted = Array.from({ length: 40 }, () => {
      t += 10;
      const release = limiter.acquire('r', 'batch');
      release?.();
      return release !== undefined;
    });
    expect(admitted.every(Boolean)).toBe(true);
    expect(limiter.acquire('r', 'batch')).toBeUndefined();
    expect(limiter.refused('r')).toBe(1);
    expect(limiter.acquire('other', 'batch')).toBeDefined();
    const single = limiter.acquire('r');
    expect(single).toBeDefined();
    single?.();
    t += 60_000;
    expect(limiter.acquire('r', 'batch')).toBeDefined();
  });

  it('issue 16: a batch request is one of the 500 a minute: none is admitted once they are spent', () => {
    let t = 0;
    const limiter = new RateLimiter({ perMinute: 500, concurrent: 10, batchPerMinute: 40, now: () => t });
    for (let i = 0; i < 499; i++) {
      t += 1;
      limiter.acquire('r')?.();
    }
    expect(limiter.acquire('r', 'batch')).toBeDefined();
    expect(limiter.acquire('r', 'batch')).toBeUndefined();
    expect(limiter.acquire('r')).toBeUndefined();
    expect(limiter.refused('r')).toBe(2);
  });
});

describe('webhook payloads', () => {
  const events = [
    {
      realmId: '310687',
      entity: 'Customer' as const,
      id: '123',
      operation: 'Merge' as const,
      at: NOW,
      deletedId: '27',
    },
    { realmId: '310687', entity: 'SalesReceipt' as const, id: '150', operation: 'Update' as const, at: NOW },
    { realmId: '310687', entity: 'Invoice' as const, id: '9', operation: 'Create' as const, at: NOW },
  ];

  it('signs the raw body: base64 HMAC-SHA256 with the verifier token (value checked with Python hmac)', () => {
    expect(signWebhook('{"a":1}', 'verifier')).toBe('dgQRJSqDHmB7uXBRprMquDYc4x9Sf+1q/ebUT0swqbg=');
  });

  it('builds CloudEvents like the samples: merged with data.deletedid, updated with no data', () => {
    const [merged, updated, created] = cloudEventsPayload(events, 'intuit.x') as Json[];
    expect(merged).toMatchObject({
      type: 'qbo.customer.merged.v1',
      intuitentityid: '123',
      intuitaccountid: '310687',
      data: { deletedid: '27' },
    });
    expect(updated).not.toHaveProperty('data');
    expect(updated).not.toHaveProperty('datacontenttype');
    expect(created).toMatchObject({
      type: 'qbo.invoice.created.v1',
      data: {},
      datacontenttype: 'application/json',
      specversion: '1.0',
    });
  });

  it('builds the legacy eventNotifications payload with deletedId on merges', () => {
    const payload = legacyPayload(events) as Json;
    const entities = ((payload['eventNotifications'] as Json[])[0]?.['dataChangeEvent'] as Json)['entities'] as Json[];
    expect(entities[0]).toEqual({
      name: 'Customer',
      id: '123',
      operation: 'Merge',
      lastUpdated: new Date(NOW).toISOString(),
      deletedId: '27',
    });
  });
});

describe('batch (POST /batch)', () => {
  it('answers each item in its place, a refused one with its own Fault, and refuses more than 30 items', () => {
    const { sim, realm } = makeSim();
    const created = sim.writeCustomer(realm, { DisplayName: 'Lot inc.' }, null)['Customer'] as Json;
    const answer = sim.batch(realm, {
      BatchItemRequest: [
        {
          bId: 'a',
          operation: 'update',
          Customer: { Id: created['Id'], SyncToken: created['SyncToken'], sparse: true, Title: 'Dr' },
        },
        { bId: 'b', operation: 'update', Customer: { Id: created['Id'], SyncToken: '0', sparse: true, Title: 'M.' } },
        { bId: 'c', Query: "select * from Customer where DisplayName = 'Lot inc.'" },
      ],
    });
    const items = answer['BatchItemResponse'] as Json[];
    expect(items.map((item) => item['bId'])).toEqual(['a', 'b', 'c']);
    expect((items[0]!['Customer'] as Json)['Title']).toBe('Dr');
    expect(((items[1]!['Fault'] as Json)['Error'] as Json[])[0]!['code']).toBe('5010');
    expect(rows(items[2]!, 'Customer')).toHaveLength(1);
    const tooMany = Array.from({ length: 31 }, (_, i) => ({ bId: String(i), Query: 'select * from Customer' }));
    expect(fault(() => sim.batch(realm, { BatchItemRequest: tooMany })).status).toBe(400);
  });
});
