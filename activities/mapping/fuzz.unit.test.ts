import { describe, expect, it } from 'vitest';
import { mapCustomer } from './customer.js';
import { MappingError } from './errors.js';
import { mapItem } from './item.js';
import { mapQboResponse } from './response.js';
import { mapSalesDocument, salesDocumentEntities, type SalesDocumentEntity } from './sales-document.js';
import { sampleRecords } from './samples.js';

/** mulberry32: a small seeded PRNG, so every run throws the same 10,000 payloads. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = unknown;
const random = prng(20261127);
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;

function junk(depth = 0): Json {
  const choice = Math.floor(random() * (depth > 2 ? 8 : 10));
  switch (choice) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return pick([0, -1, 1.5, 1e15, -1e300, Number.NaN, Number.POSITIVE_INFINITY, 42]);
    case 3:
      return pick(['', ' ', 'x', '2026-13-45', 'SHIPPING_ITEM_ID', 'Pending', 'Closed', '🙂', 'a,b@c.d']);
    case 4:
      return 'x'.repeat(pick([101, 501, 4001, 100_000]));
    case 5:
      return pick([true, false]);
    case 6:
      return [];
    case 7:
      return {};
    case 8:
      return Array.from({ length: 1 + Math.floor(random() * 3) }, () => junk(depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: 1 + Math.floor(random() * 3) }, () => [
          pick(['Id', 'Line', 'Amount', 'value', 'DetailType', 'Qty', 'Name', 'x']),
          junk(depth + 1),
        ]),
      );
  }
}

/** Paths to every value in a JSON tree. */
function paths(value: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      const next = [...prefix, Array.isArray(value) ? Number(key) : key];
      out.push(next);
      paths(child, next, out);
    }
  }
  return out;
}

function damage(record: Json): Json {
  const copy = structuredClone(record) as Record<string, unknown>;
  const mutations = 1 + Math.floor(random() * 4);
  for (let i = 0; i < mutations; i++) {
    const all = paths(copy);
    if (all.length === 0) break;
    const path = pick(all);
    let parent: Record<string | number, unknown> = copy;
    for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
    const last = path[path.length - 1] as string | number;
    const action = Math.floor(random() * 4);
    if (action === 0) delete parent[last];
    else if (action === 1) parent[last] = null;
    else parent[last] = junk();
  }
  return copy;
}

const customers = sampleRecords('customer-query.source-nango.json', 'Customer');
const estimates = sampleRecords('estimate-query.source-nango.json', 'Estimate');
const invoices = sampleRecords('invoice-query-with-discount.source-nango.json', 'Invoice');
const items = [
  { Id: '29', Name: 'Trees', Type: 'Category', Active: true },
  {
    Id: '30',
    Name: 'Cedar',
    Type: 'Inventory',
    SubItem: true,
    ParentRef: { value: '29' },
    Sku: 'CED-1',
    Description: 'Cedar tree',
  },
];
const withShipping = {
  ...(invoices[0] as object),
  Line: [
    ...(invoices[0] as { Line: unknown[] }).Line,
    { DetailType: 'SalesItemLineDetail', Amount: 9, SalesItemLineDetail: { ItemRef: { value: 'SHIPPING_ITEM_ID' } } },
  ],
};

/** No '' anywhere in a mapped record: absent values are null (the contract's rule). */
function hasEmptyString(value: unknown): boolean {
  if (value === '') return true;
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasEmptyString);
  return false;
}

function runOne(): 'ok' | 'error' {
  const kind = Math.floor(random() * 5);
  let payload: Json;
  let map: () => unknown;
  if (kind === 0) {
    payload = random() < 0.05 ? junk() : damage(pick(customers));
    map = () => mapCustomer(payload, { defaultLanguage: 'fr' });
  } else if (kind === 1 || kind === 2) {
    const entity: SalesDocumentEntity = pick(salesDocumentEntities);
    payload = random() < 0.05 ? junk() : damage(pick([...estimates, ...invoices, withShipping]));
    map = () => mapSalesDocument(entity, payload, { language: pick(['fr', 'en'] as const) });
  } else if (kind === 3) {
    payload = random() < 0.05 ? junk() : damage(pick(items));
    map = () => mapItem(payload);
  } else {
    payload = damage({
      QueryResponse: {
        [pick(['Customer', 'Invoice', 'Estimate', 'Item'])]: [
          pick([...customers, ...invoices, ...estimates, ...items]),
        ],
      },
    });
    const { output } = mapQboResponse(payload, { language: 'fr' });
    for (const error of output.errors) {
      expect(error.field).toMatch(/\S/);
      expect(error.message).toMatch(/\S/);
    }
    expect(hasEmptyString({ ...output, errors: [] })).toBe(false);
    return output.errors.length > 0 ? 'error' : 'ok';
  }
  try {
    const result = map();
    expect(hasEmptyString(result)).toBe(false);
    const totals = result as { totalBeforeTax?: number; lines?: { amount: number }[] };
    if (totals.totalBeforeTax !== undefined) {
      expect(Number.isFinite(totals.totalBeforeTax)).toBe(true);
      for (const line of totals.lines ?? []) expect(Number.isFinite(line.amount)).toBe(true);
    }
    return 'ok';
  } catch (error) {
    // A typed error, naming the field; anything else fails the test with its stack.
    if (!(error instanceof MappingError)) throw error;
    expect(error.field).toMatch(/\S/);
    expect(error.message).toContain(error.field);
    return 'error';
  }
}

describe('fuzz', () => {
  it('10,000 random and damaged QBO payloads: no untyped exception, every failure names its field', () => {
    const counts = { ok: 0, error: 0 };
    for (let i = 0; i < 10_000; i++) counts[runOne()]++;
    console.log(
      `fuzz: ${counts.ok + counts.error} payloads, ${counts.ok} mapped, ${counts.error} typed errors naming their field`,
    );
    expect(counts.ok + counts.error).toBe(10_000);
    expect(counts.error).toBeGreaterThan(1000); // the damage is real
    expect(counts.ok).toBeGreaterThan(1000); // and not everything is refused
  });
});
