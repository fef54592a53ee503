import { describe, expect, it } from 'vitest';
import { unstorableText } from './fields.js';
import { mapQboResponse, type MapOutput } from './response.js';
import { readSample } from './samples.js';

/** Every string in a record, as the path a MappingError names (`Line[2].SalesItemLineDetail.ItemRef.value`). */
function stringPaths(value: unknown, path = ''): string[] {
  if (typeof value === 'string') return [path];
  if (Array.isArray(value)) return value.flatMap((element: unknown, i) => stringPaths(element, `${path}[${i}]`));
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([key, element]) =>
      stringPaths(element, path === '' ? key : `${path}.${key}`),
    );
  return [];
}

/** A copy of the record with `insert` put after the first character of the string at `path`. */
function injected(record: unknown, path: string, insert: string): unknown {
  const copy = structuredClone(record);
  const steps = path.split(/\.|(?=\[)/).map((step) => (step.startsWith('[') ? Number(step.slice(1, -1)) : step));
  let parent = copy as Record<string | number, unknown>;
  for (const step of steps.slice(0, -1)) parent = parent[step as string] as Record<string | number, unknown>;
  const last = steps.at(-1) as string;
  const text = parent[last] as string;
  parent[last] = `${text.slice(0, 1)}${insert}${text.slice(1)}`;
  return copy;
}

const unstorable = [
  ['a NUL byte', '\u0000', /NUL/],
  ['a lone high surrogate', '\uD83D', /surrogate/],
  ['a lone low surrogate', '\uDE00', /surrogate/],
] as const;

const samples = [
  ['customer-query.source-nango.json', 'Customer'],
  ['estimate-query.source-nango.json', 'Estimate'],
  ['invoice-query-with-discount.source-nango.json', 'Invoice'],
] as const;

function hasUnstorableText(value: unknown): boolean {
  if (typeof value === 'string') return unstorableText(value) !== null;
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasUnstorableText);
  return false;
}

describe('text PostgreSQL cannot store, in the recorded samples', () => {
  for (const [label, insert, named] of unstorable) {
    it.each(samples)(`%s: ${label} in any field the mapping reads fails it, naming that field`, (file, entity) => {
      const records = (readSample(file) as { QueryResponse: Record<string, unknown[]> }).QueryResponse[entity] ?? [];
      const namedFields = new Set<string>();
      for (const record of records) {
        const wrap = (one: unknown) => ({ QueryResponse: { [entity]: [one] } });
        const clean = mapQboResponse(wrap(record), { language: 'en' }).output;
        expect(clean.errors).toEqual([]);
        for (const path of stringPaths(record)) {
          const { output } = mapQboResponse(wrap(injected(record, path, insert)), { language: 'en' });
          expect(hasUnstorableText(output), path).toBe(false);
          if (output.errors.length === 0) {
            // A field the mapping does not read: the output is what the clean record gives.
            expect(output, path).toEqual(clean);
            continue;
          }
          expect(output.errors, path).toEqual([
            {
              qboEntity: entity,
              qboId: path === 'Id' ? null : (record as { Id: string }).Id,
              field: path,
              message: expect.stringMatching(named),
            },
          ] satisfies MapOutput['errors']);
          namedFields.add(path.replace(/\[\d+\]/g, '[]'));
        }
      }
      expect(namedFields.size).toBeGreaterThan(3);
    });
  }

  it('names the Id itself when the Id carries a NUL byte', () => {
    const { output } = mapQboResponse(
      { QueryResponse: { Customer: [{ Id: '4\u0000', DisplayName: 'Four' }] } },
      {
        language: 'en',
      },
    );
    expect(output.errors).toEqual([
      { qboEntity: 'Customer', qboId: null, field: 'Id', message: expect.stringMatching(/NUL/) },
    ]);
  });
});
