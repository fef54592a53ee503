/**
 * Issue 13, in process: the simulator is no easier and no stricter than Intuit where it was found
 * to differ. Each describe block is one numbered point of the issue.
 */
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
