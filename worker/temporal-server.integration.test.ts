import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../test/global-setup.js';
import { startDevServer, TemporalUnavailableError } from './temporal-server.js';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A stand-in for the CLI that counts its starts and dies the way the dev server does. */
function dyingCli(exitCode: number, output: string): { binary: string; starts: () => number } {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'qbsync-dying-cli-'));
  folders.push(folder);
  const counter = path.join(folder, 'starts');
  writeFileSync(counter, '');
  const stderr = path.join(folder, 'stderr');
  writeFileSync(stderr, `${output}\n`);
  const binary = path.join(folder, 'temporal');
  writeFileSync(binary, `#!/bin/sh\necho start >> '${counter}'\ncat '${stderr}' >&2\nexit ${exitCode}\n`);
  chmodSync(binary, 0o755);
  return { binary, starts: () => readFileSync(counter, 'utf8').split('\n').filter(Boolean).length };
}

async function startWith(binary: string, log: (line: string) => void = () => undefined) {
  return startDevServer({
    binary,
    port: await freePort(),
    uiPort: undefined,
    dbFile: undefined,
    namespace: 'default',
    log,
  });
}

describe('startDevServer', () => {
  it('starts once more after a crash while starting, then names the cause', async () => {
    const cli = dyingCli(2, 'panic: runtime error: invalid memory address or nil pointer dereference');
    const logged: string[] = [];
    const starting = startWith(cli.binary, (line) => logged.push(line));
    await expect(starting).rejects.toThrow(TemporalUnavailableError);
    await expect(starting).rejects.toThrow(/exited with code 2: panic: runtime error/);
    expect(cli.starts()).toBe(2);
    expect(logged).toEqual([expect.stringMatching(/exited with code 2: panic.*; starting it again$/)]);
  });

  it('does not start again after a clean refusal, such as a port in use', async () => {
    const cli = dyingCli(1, 'time=2026-11-27T22:36:37.543 level=ERROR msg="can\'t set frontend port 7233: in use"');
    const starting = startWith(cli.binary);
    await expect(starting).rejects.toThrow(/exited with code 1: .*can't set frontend port 7233/);
    expect(cli.starts()).toBe(1);
  });
});
