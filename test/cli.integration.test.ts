import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildProgram } from '../client/cli.js';
import { portAnswers } from '../db/postgres.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { repoRoot, runCli, startCli } from './cli.js';
import { freePort } from './global-setup.js';

/** What a worker needs to reach QuickBooks; these tests never get as far as calling it. */
const workerQboAccess = {
  QBO_CLIENT_ID: 'ABsim1',
  QBO_CLIENT_SECRET: 'secret',
  QBSYNC_TOKEN_KEY: Buffer.alloc(32, 7).toString('base64'),
};

describe('qbsync CLI', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => database?.drop());

  it('lists every subcommand in --help', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    const names = buildProgram().commands.map((command) => command.name());
    expect(names).toEqual(expect.arrayContaining(['setup', 'migrate', 'worker', 'dev']));
    for (const name of names) expect(result.stdout).toMatch(new RegExp(`^\\s+${name}\\b`, 'm'));
  });

  it('gives a one-line error, not a stack trace, for a broken DATABASE_URL', async () => {
    const malformed = await runCli(['migrate'], { DATABASE_URL: 'not a url' });
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toBe(
      'qbsync: invalid configuration: DATABASE_URL="not a url" must be a URL like postgres://user@host:5432/database\n',
    );

    const port = await freePort();
    const unreachable = await runCli(['migrate'], { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/qbsync` });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);
    expect(unreachable.stderr).toMatch(
      new RegExp(`cannot connect to DATABASE_URL \\(127\\.0\\.0\\.1:${port}/qbsync\\).*ECONNREFUSED`),
    );
  });

  it('refuses to start a worker that cannot reach QuickBooks, naming the missing variables in one line', async () => {
    const result = await runCli(['worker'], {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      DATABASE_URL: database.url,
      QBO_CLIENT_ID: 'ABsim1',
    });
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      "qbsync: a worker cannot reach QuickBooks without QBO_CLIENT_SECRET, QBSYNC_TOKEN_KEY: set them (the QuickBooks app's OAuth credentials and the token key; see the README's configuration table)\n",
    );
  });

  it('gives a one-line error, not a stack trace, for an unreachable TEMPORAL_ADDRESS', async () => {
    const port = await freePort();
    const result = await runCli(['worker'], {
      ...workerQboAccess,
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      DATABASE_URL: database.url,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `qbsync: cannot reach Temporal at 127.0.0.1:${port} (TEMPORAL_ADDRESS): connection refused\n`,
    );
  });

  it('says in one line to run qbsync migrate when a command meets a database that is not migrated', async () => {
    const result = await runCli(['status', 'x'], { DATABASE_URL: database.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'qbsync: the database is not migrated (it has no table tenants): run "qbsync migrate"\n',
    );
  });

  it('refuses to start a worker on a database that is not migrated, then migrates it up and down', async () => {
    const refused = await runCli(['worker'], {
      ...workerQboAccess,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      DATABASE_URL: database.url,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^qbsync: the database is missing \d+ migrations?.*run "qbsync migrate"\n$/);

    const up = await runCli(['migrate'], { DATABASE_URL: database.url });
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/applied 20261127000000_stack_checks/);
    const down = await runCli(['migrate', '--down'], { DATABASE_URL: database.url });
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/^undid \d{14}_/m);
    expect((await runCli(['migrate'], { DATABASE_URL: database.url })).code).toBe(0);
  });

  it('R24: a wrong argument is refused before the Temporal client or a database driver is loaded', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'qbsync-trace-'));
    try {
      for (const [name, args] of Object.entries({
        help: ['--help'],
        missing: ['pause'],
        bad: ['mode', 'acme', 'both'],
      })) {
        const traceFile = path.join(folder, `${name}.txt`);
        const result = await runCli(args, {
          NODE_OPTIONS: `--import ${pathToFileURL(path.join(repoRoot, 'test', 'module-trace.mjs')).href}`,
          MODULE_TRACE_FILE: traceFile,
        });
        expect(result.code, result.stderr).toBe(name === 'help' ? 0 : 2);
        const loaded = readFileSync(traceFile, 'utf8').split('\n');
        // The trace works: it saw the CLI itself.
        expect(loaded.some((url) => url.endsWith('/client/cli.ts'))).toBe(true);
        const heavy = loaded.filter((url) => /\/node_modules\/(@temporalio|pg|fastify)\//.test(url));
        expect(heavy, `qbsync ${args.join(' ')}`).toEqual([]);
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('rejects an unknown command with a usage error (exit 2)', async () => {
    const result = await runCli(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('dev: starts a Temporal dev server that keeps history in the data folder, backfills the demo tenant, and Ctrl-C leaves no process behind', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'qbsync-dev-'));
    const temporalPort = await freePort();
    const uiPort = await freePort();
    const simulatorPort = await freePort();
    const env = {
      DATABASE_URL: database.url,
      QBSYNC_DATA_DIR: dataDir,
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      TEMPORAL_UI_PORT: String(uiPort),
      TEMPORAL_TASK_QUEUE: `dev-${temporalPort}`,
    };
    const args = [
      'dev',
      '--simulator-port',
      String(simulatorPort),
      '--customers',
      '40',
      '--transactions',
      '120',
      '--every',
      '2',
      '--webhooks-port',
      String(await freePort()),
    ];
    try {
      const firstRuns: string[] = [];
      for (let run = 0; run < 2; run += 1) {
        const dev = await startCli(args, env, /Incremental pass at/, 150_000, { processGroup: true });
        const output = dev.output();
        expect(output).toContain(`Temporal UI http://127.0.0.1:${uiPort}`);
        expect(output).toContain(`QuickBooks  simulator at http://127.0.0.1:${simulatorPort}`);
        expect(output).toMatch(/Webhooks {4}receiver at http:\/\/127\.0\.0\.1:\d+\/webhooks\/quickbooks/);
        expect(output).toMatch(/Backfill done/);
        const children = execFileSync('pgrep', ['-P', String(dev.child.pid)], { encoding: 'utf8' })
          .trim()
          .split('\n');
        expect(children.length).toBeGreaterThan(0);

        const client = new Client({ connection: await Connection.connect({ address: env.TEMPORAL_ADDRESS }) });
        const described = await client.workflow.getHandle('tenant-sync-demo').describe();
        if (run === 0) firstRuns.push(described.runId);
        else {
          // History survives a restart: the first run of the demo (terminated by the restart) is still there.
          const first = await client.workflow.getHandle('tenant-sync-demo', firstRuns[0]).describe();
          expect(first.status.name).toBe('TERMINATED');
        }
        await client.connection.close();

        // A second terminal needs no variables: the commands read .data/dev.env while dev runs.
        const envFile = path.join(dataDir, 'dev.env');
        expect(statSync(envFile).mode & 0o777).toBe(0o600);
        const status = await runCli(['status', 'demo'], { QBSYNC_DATA_DIR: dataDir });
        expect(status.code, status.stderr).toBe(0);
        expect(status.stdout).toContain('workflow tenant-sync-demo');

        // Ctrl-C in a terminal signals the whole process group: the worker stops before Temporal,
        // so nothing retries a server that has gone.
        // Changes for the next pass, so that Ctrl-C likely comes while a worker is busy with one.
        const realm = /company (\d+)/.exec(output)?.[1];
        const edited = await fetch(`http://127.0.0.1:${simulatorPort}/__sim/companies/${realm}/bulk-edit`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ count: 40 }),
        });
        expect(edited.ok).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 2_500));
        const exited = new Promise<number | null>((resolve) => dev.child.once('exit', resolve));
        const outputBefore = dev.output().length;
        process.kill(-dev.child.pid!, 'SIGINT');
        expect(await exited).toBe(0);
        const afterSigint = dev.output().slice(outputBefore);
        expect(afterSigint).not.toMatch(/grpc|connection refused|retry|retrying|transport error/i);
        expect(afterSigint.trim()).toMatch(/Stopped\.$/);
        expect(existsSync(envFile)).toBe(false);
        // Helpers such as tsx's esbuild service exit when their parent's pipe closes: give them a moment.
        expect(await settled(() => children.every((pid) => !processAlive(Number(pid))))).toBe(true);
        expect(await portAnswers('127.0.0.1', temporalPort)).toBe(false);
        expect(await portAnswers('127.0.0.1', uiPort)).toBe(false);
        expect(await portAnswers('127.0.0.1', simulatorPort)).toBe(false);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 360_000);
});

async function settled(check: () => boolean, timeoutMs = 3_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
