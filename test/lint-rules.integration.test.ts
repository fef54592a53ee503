import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The lint rules that guard the workflow sandbox and unawaited promises, run by ESLint itself on
 * probe files placed where the rules apply (the typed rules need files the TypeScript project sees).
 */
const root = path.resolve(import.meta.dirname, '..');

async function lintProbe(folder: string, code: string): Promise<string[]> {
  const file = path.join(root, folder, `lint-probe-${randomUUID().slice(0, 8)}.ts`);
  await writeFile(file, code);
  try {
    const [result] = await new ESLint({ cwd: root }).lintFiles([file]);
    return (result?.messages ?? []).map((message) => message.ruleId ?? message.message);
  } finally {
    await rm(file, { force: true });
  }
}

describe('lint rules (R26)', () => {
  it('R26: a promise left floating is an error', async () => {
    const rules = await lintProbe(
      'activities',
      'export async function f() { return 1; }\nexport function g() { f(); }\n',
    );
    expect(rules).toContain('@typescript-eslint/no-floating-promises');
  }, 60_000);

  it('R26: workflows/ and common/ may import no Node built-in, including ones not listed by hand', async () => {
    for (const [folder, module] of [
      ['workflows', 'node:fs'],
      ['workflows', 'fs/promises'],
      ['common', 'diagnostics_channel'],
      ['common', 'perf_hooks'],
    ] as const) {
      const rules = await lintProbe(folder, `import * as probe from '${module}';\nexport const x = probe;\n`);
      expect(rules, `${module} in ${folder}/`).toContain('no-restricted-imports');
    }
  }, 60_000);

  it('R26: client/ reaches tables only through the repositories', async () => {
    const query = `import type { Kysely } from 'kysely';\nimport type { Database } from '../db/schema.js';\nexport const q = (db: Kysely<Database>) => db.selectFrom('tenants').selectAll().execute();\n`;
    expect(await lintProbe('client', query)).toContain('no-restricted-syntax');
    const raw = `import { sql } from 'kysely';\nexport const q = sql\`SELECT 1\`;\n`;
    expect(await lintProbe('client', raw)).toContain('no-restricted-syntax');
  }, 60_000);

  it('R26: activities may import Node built-ins', async () => {
    expect(await lintProbe('activities', `import * as probe from 'node:fs';\nexport const x = probe;\n`)).toEqual([]);
  }, 60_000);
});
