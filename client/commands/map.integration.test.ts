import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleFiles } from '../../activities/mapping/samples.js';

const run = promisify(execFile);
const bin = path.resolve(import.meta.dirname, '../../bin/qbsync.js');

async function qbsync(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      env: { PATH: process.env['PATH'] ?? '' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const contractKeys = ['accounts', 'opportunities', 'categories', 'deleted', 'errors'];
const accountKeys = ['qboId', 'companyName', 'website', 'active', 'address', 'primaryContact'];
const opportunityKeys = [
  'qboEntity',
  'qboId',
  'customerQboId',
  'title',
  'txnDate',
  'stage',
  'stageLabel',
  'probability',
  'shipping',
  'discount',
  'totalBeforeTax',
  'lines',
];
const lineKeys = ['productCode', 'itemQboId', 'description', 'quantity', 'unitPrice', 'amount'];

function noEmptyStrings(value: unknown): boolean {
  if (value === '') return false;
  if (value !== null && typeof value === 'object') return Object.values(value).every(noEmptyStrings);
  return true;
}

describe('qbsync map', () => {
  it('exits 0 on every recorded sample and prints the documented contract', async () => {
    const files = sampleFiles();
    const results = await Promise.all(files.map((file) => qbsync('map', file, '--language', 'en')));
    let opportunities = 0;
    for (const [i, result] of results.entries()) {
      expect(result.code, `${files[i]}: ${result.stderr}`).toBe(0);
      const output = JSON.parse(result.stdout) as Record<string, Record<string, unknown>[]>;
      expect(Object.keys(output)).toEqual(contractKeys);
      expect(output['errors']).toEqual([]);
      for (const account of output['accounts'] ?? []) {
        expect(Object.keys(account)).toEqual(accountKeys);
        expect(Object.keys(account['address'] as object)).toEqual([
          'lines',
          'city',
          'province',
          'postalCode',
          'country',
        ]);
        if (account['primaryContact'] !== null) {
          expect(Object.keys(account['primaryContact'] as object)).toEqual([
            'title',
            'fullName',
            'phone1',
            'phone2',
            'fax',
            'mobile',
            'email',
          ]);
        }
      }
      for (const o of output['opportunities'] ?? []) {
        opportunities++;
        expect(Object.keys(o)).toEqual(opportunityKeys);
        expect(['lost', 'qualified', 'advanced', 'won']).toContain(o['stage']);
        expect(['Lost', 'Qualified', 'Advanced', 'Won']).toContain(o['stageLabel']);
        for (const line of o['lines'] as Record<string, unknown>[]) expect(Object.keys(line)).toEqual(lineKeys);
      }
      expect(noEmptyStrings(output)).toBe(true);
    }
    expect(opportunities).toBe(8 + 37);
  });

  it('writes stage labels in the chosen language, French by default', async () => {
    const estimates = sampleFiles().find((f) => f.includes('estimate-query'));
    const { stdout } = await qbsync('map', estimates ?? '');
    const labels = (JSON.parse(stdout) as { opportunities: { stageLabel: string }[] }).opportunities.map(
      (o) => o.stageLabel,
    );
    expect(new Set(labels)).toEqual(new Set(['Qualifiée', 'Avancée']));
  });

  describe('input that maps to nothing but errors', () => {
    let folder = '';
    beforeAll(async () => {
      folder = await mkdtemp(path.join(tmpdir(), 'qbsync-map-'));
    });
    afterAll(async () => {
      await rm(folder, { recursive: true, force: true });
    });

    it.each([
      ['non-QBO JSON', { hello: 'world' }, '(response)'],
      ['null', null, '(response)'],
      ['an unmappable record', { QueryResponse: { Customer: [{ Id: '7', DisplayName: 42 }] } }, 'DisplayName'],
    ])('exits 1 for %s, still printing the JSON and one line on stderr', async (_label, input, field) => {
      const file = path.join(folder, `${field.replace(/\W/g, '')}-${String(input === null)}.json`);
      await writeFile(file, JSON.stringify(input));
      const result = await qbsync('map', file);
      expect(result.code, result.stderr).toBe(1);
      const output = JSON.parse(result.stdout) as { errors: { field: string }[] };
      expect(output.errors.map((error) => error.field)).toEqual([field]);
      expect(result.stderr.trim().split('\n')).toEqual(['qbsync: 1 record(s) did not map; see "errors"']);
    });
  });

  it('gives one-line usage errors (exit 2) for a bad language or a missing file', async () => {
    const badLanguage = await qbsync('map', 'x.json', '--language', 'de');
    expect([badLanguage.code, badLanguage.stderr.trim()]).toEqual([2, 'qbsync: --language must be fr or en, not "de"']);
    const missing = await qbsync('map', '/nonexistent.json');
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });
});
