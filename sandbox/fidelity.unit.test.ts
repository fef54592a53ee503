/**
 * Issue 13, in process: the simulator is no easier and no stricter than Intuit where it was found
 * to differ. Each describe block is one numbered point of the issue.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { QboFault } from './faults.js';
import { Simulator, type SimulatorOptions } from './simulator.js';
import type { Json } from './store.js';

const NOW = Date.parse('2026-03-15T12:00:00Z');

function makeSim(options: SimulatorOptions = {}): { sim: Simulator; realm: string } {
  const sim = new Simulator({ seed: 5, customers: 30, transactions: 80, now: () => NOW, ...options });
  return { sim, realm: sim.realmIds[0] as string };
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

describe('point 1: entity names in queries are case-insensitive, as at Intuit', () => {
  it('answers select * from customer and count(*) from invoice like their capitalised forms', () => {
    const { sim, realm } = makeSim();
    const lower = sim.query(realm, 'select * from customer orderby Id maxresults 5');
    expect(lower).toEqual(sim.query(realm, 'SELECT * FROM Customer ORDERBY Id MAXRESULTS 5'));
    expect(Object.keys(lower['QueryResponse'] as Json)).toContain('Customer');
    expect(sim.query(realm, 'select count(*) from INVOICE')).toEqual(sim.query(realm, 'select count(*) from Invoice'));
  });

  it('still refuses an unknown entity, and refuses lowercase only when told to be stricter than Intuit', () => {
    const { sim, realm } = makeSim();
    expect(fault(() => sim.query(realm, 'select * from vendor')).errors[0]?.code).toBe('4001');
    const strict = makeSim({ query: { caseSensitiveEntities: true } });
    expect(fault(() => strict.sim.query(strict.realm, 'select * from customer')).errors[0]?.code).toBe('4001');
  });
});

describe('point 4: a merge moves the balance and the transactions to the survivor', () => {
  const customer = (sim: Simulator, realm: string, id: string) => sim.read(realm, 'Customer', id)['Customer'] as Json;

  it('gives the survivor the merged-away balance and transactions; the merged-away one is inactive at 0', () => {
    const { sim, realm } = makeSim({ customers: 60, transactions: 200 });
    const all = (sim.adminState(realm, 'Customer')['entities'] as { Customer: Json[] }).Customer;
    const parentIds = new Set(all.map((c) => (c['ParentRef'] as Json | undefined)?.['value']));
    const eligible = all.filter((c) => c['Active'] === true && !parentIds.has(c['Id']) && c['Job'] === false);
    const from = eligible.find((c) => (c['Balance'] as number) > 0) as Json;
    const into = eligible.find((c) => c['Id'] !== from['Id'] && (c['Balance'] as number) > 0) as Json;
    const fromId = String(from['Id']);
    const intoId = String(into['Id']);
    const invoicesOf = (id: string) =>
      ((sim.query(realm, `select * from Invoice where CustomerRef = '${id}' maxresults 1000`)['QueryResponse'] as Json)[
        'Invoice'
      ] as Json[] | undefined) ?? [];
    const moved = invoicesOf(fromId).map((i) => i['Id']);
    const kept = invoicesOf(intoId).map((i) => i['Id']);

    sim.adminMerge(realm, fromId, intoId);

    const survivor = customer(sim, realm, intoId);
    const merged = customer(sim, realm, fromId);
    const expected = Math.round(((from['Balance'] as number) + (into['Balance'] as number)) * 100) / 100;
    expect(survivor['Balance']).toBe(expected);
    expect(survivor['BalanceWithJobs']).toBe(
      Math.round(((from['BalanceWithJobs'] as number) + (into['BalanceWithJobs'] as number)) * 100) / 100,
    );
    expect(merged).toMatchObject({ Active: false, Balance: 0, BalanceWithJobs: 0 });
    expect(invoicesOf(fromId)).toEqual([]);
    expect(
      invoicesOf(intoId)
        .map((i) => i['Id'])
        .sort(),
    ).toEqual([...moved, ...kept].sort());
  });

  it("moves a sub-customer's balance out of its parent's BalanceWithJobs", () => {
    const { sim, realm } = makeSim({ customers: 80, transactions: 50 });
    const all = (sim.adminState(realm, 'Customer')['entities'] as { Customer: Json[] }).Customer;
    const parentIds = new Set(all.map((c) => (c['ParentRef'] as Json | undefined)?.['value']));
    const job = all.find(
      (c) => c['Active'] === true && c['Job'] === true && !parentIds.has(c['Id']) && (c['Balance'] as number) > 0,
    ) as Json;
    const parentId = String((job['ParentRef'] as Json)['value']);
    const into = all.find(
      (c) => c['Active'] === true && c['Job'] === false && c['Id'] !== parentId && !parentIds.has(c['Id']),
    ) as Json;
    const parentBefore = customer(sim, realm, parentId)['BalanceWithJobs'] as number;

    sim.adminMerge(realm, String(job['Id']), String(into['Id']));

    expect(customer(sim, realm, parentId)['BalanceWithJobs']).toBe(
      Math.round((parentBefore - (job['BalanceWithJobs'] as number)) * 100) / 100,
    );
  });
});

describe('point 6: writes are validated as Intuit validates them, in one place', () => {
  const create = (sim: Simulator, realm: string, body: Json) =>
    sim.writeCustomer(realm, body, null)['Customer'] as Json;

  it('requires DisplayName unless a name part is given, and builds it from the parts', () => {
    const { sim, realm } = makeSim();
    expect(fault(() => create(sim, realm, { Notes: 'no name' })).errors[0]).toMatchObject({
      code: '2020',
      element: 'DisplayName',
    });
    expect(create(sim, realm, { GivenName: 'Amélie', FamilyName: 'Tremblay' })['DisplayName']).toBe('Amélie Tremblay');
    expect(create(sim, realm, { Title: 'Dr' })['DisplayName']).toBe('Dr');
  });

  it('limits DisplayName to 500 characters and Notes to 2,000 with fault 2050, listing every error', () => {
    const { sim, realm } = makeSim();
    expect(create(sim, realm, { DisplayName: 'D'.repeat(500), Notes: 'n'.repeat(2000) })['Notes']).toHaveLength(2000);
    const tooLong = fault(() => create(sim, realm, { DisplayName: 'E'.repeat(501), Notes: 'n'.repeat(2001) }));
    expect(tooLong.status).toBe(400);
    expect(tooLong.errors).toEqual([
      {
        Message: 'String length is either shorter or longer than supported by specification',
        Detail:
          'String length specified does not match the supported length. Min:0 Max:500 supported. Supplied length:501',
        code: '2050',
        element: 'DisplayName',
      },
      expect.objectContaining({
        code: '2050',
        element: 'Notes',
        Detail: expect.stringMatching(/Max:2000 .* length:2001$/),
      }),
    ]);
    expect(
      fault(() => create(sim, realm, { DisplayName: 'Phone', PrimaryPhone: { FreeFormNumber: '5'.repeat(31) } }))
        .errors[0],
    ).toMatchObject({
      code: '2050',
      element: 'PrimaryPhone.FreeFormNumber',
    });
  });

  it('keeps DisplayName unique across customers, inactive ones included, ignoring case: 6240', () => {
    const { sim, realm } = makeSim();
    create(sim, realm, { DisplayName: 'Unique Ltd' });
    expect(fault(() => create(sim, realm, { DisplayName: 'unique ltd' })).errors[0]?.code).toBe('6240');
    expect(fault(() => create(sim, realm, { GivenName: 'Unique', FamilyName: 'Ltd' })).errors[0]?.code).toBe('6240');
  });

  it('wants strings as strings and numbers as numbers (2010), and refuses nothing for an unknown field', () => {
    const { sim, realm } = makeSim();
    for (const [body, element] of [
      [{ DisplayName: 'Typed', Notes: { nested: 'x' } }, 'Notes'],
      [{ DisplayName: 12345 }, 'DisplayName'],
      [{ DisplayName: 'Typed', Balance: '12.50 $' }, 'Balance'],
      [{ DisplayName: 'Typed', PrimaryEmailAddr: 'a@b.example' }, 'PrimaryEmailAddr'],
      [{ DisplayName: 'Typed', Taxable: 'yes' }, 'Taxable'],
    ] as const) {
      const f = fault(() => create(sim, realm, body));
      expect(f.errors[0], JSON.stringify(body)).toMatchObject({ code: '2010', element });
    }
    const ignored = create(sim, realm, { DisplayName: 'Ignores', FavouriteColour: 'blue', Balance: 12.5 });
    expect(ignored).not.toHaveProperty('FavouriteColour');
    expect(ignored['Balance']).toBe(12.5);
  });

  it('wants SyncToken as a string and current (5010), on update and sparse update', () => {
    const { sim, realm } = makeSim();
    const made = create(sim, realm, { DisplayName: 'Versioned' });
    const id = made['Id'] as string;
    expect(fault(() => sim.writeCustomer(realm, { Id: id, sparse: true, Notes: 'x' }, 'update')).errors[0]?.code).toBe(
      '2020',
    );
    expect(
      fault(() => sim.writeCustomer(realm, { Id: id, SyncToken: 0, sparse: true }, 'update')).errors[0],
    ).toMatchObject({
      code: '2010',
      element: 'SyncToken',
    });
    sim.writeCustomer(realm, { Id: id, SyncToken: '0', sparse: true, Notes: 'first' }, 'update');
    expect(
      fault(() => sim.writeCustomer(realm, { Id: id, SyncToken: '0', sparse: true, Notes: 'late' }, 'update')).errors[0]
        ?.code,
    ).toBe('5010');
    expect(
      fault(() => sim.writeCustomer(realm, { Id: id, SyncToken: '1', sparse: true, DisplayName: '' }, 'update'))
        .errors[0]?.Detail,
    ).toBe('DisplayName cannot be removed with a sparse update');
  });

  it('applies the same rules to a user edit through the admin API', () => {
    const { sim, realm } = makeSim();
    expect(() => sim.adminEditCustomer(realm, '1', { Notes: 'n'.repeat(2001) })).toThrow(/Max:2000/);
    expect(sim.adminEditCustomer(realm, '1', { Notes: 'fine', Unknown: 1 })).not.toHaveProperty('Unknown');
  });
});

describe('point 7: the simulator is split by concern and stands alone', () => {
  it('imports nothing outside sandbox/ but Node built-ins, so it can be published on its own', () => {
    const dir = import.meta.dirname;
    const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.includes('.test.'));
    expect(sources).toEqual(
      expect.arrayContaining([
        'simulator.ts',
        'reads.ts',
        'writes.ts',
        'validation.ts',
        'fault-injection.ts',
        'admin.ts',
      ]),
    );
    for (const file of sources) {
      const text = readFileSync(path.join(dir, file), 'utf8');
      for (const [, specifier] of text.matchAll(/^(?:import|export)\b[^;]*?from '([^']+)'/gm)) {
        expect(/^node:|^\.\/[a-z-]+\.js$/.test(specifier as string), `${file} imports ${specifier}`).toBe(true);
      }
    }
  });

  it('keeps the public API of index.ts', async () => {
    const api = await import('./index.js');
    for (const name of [
      'startSimulator',
      'Simulator',
      'AdminError',
      'QboFault',
      'LoadError',
      'readRecordedDirectory',
      'signWebhook',
      'Prng',
    ])
      expect(api, name).toHaveProperty(name);
    const { sim } = makeSim({ customers: 3, transactions: 3 });
    for (const method of [
      'query',
      'queryText',
      'queryBytes',
      'cdc',
      'cdcText',
      'cdcBytes',
      'read',
      'readBytes',
      'idempotent',
      'writeCustomer',
      'countApiRequest',
      'apiRequestCount',
      'apiRequestCounts',
      'resetApiRequestCounts',
      'setFaults',
      'forceFaults',
      'clearFaults',
      'drawFault',
      'drawThrottleXml',
      'adminEditCustomer',
      'adminSetActive',
      'adminDelete',
      'adminMerge',
      'adminBulkEdit',
      'adminCorrupt',
      'adminRepair',
      'adminState',
      'warmCache',
      'stop',
    ] as const)
      expect(typeof sim[method], method).toBe('function');
  });
});
