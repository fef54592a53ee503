/**
 * What the fault benchmarks share: a private PostgreSQL cluster they may stop and start, a real
 * `qbsync worker` process they may kill, the duplicate check, the sync-now pass that settles a
 * company, and the closing `key=value` line.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { portAnswers } from '../db/postgres.js';
import { syncNowUpdate } from '../workflows/definitions.js';
import { cliEnv, cliPath, repoRoot } from '../test/cli.js';

export type PgStopMode = 'fast' | 'immediate';

export interface PrivatePostgres {
  /** The cluster's maintenance database, to hand to TEST_DATABASE_URL. */
  readonly url: string;
  readonly port: number;
  stop(mode: PgStopMode): void;
  start(): Promise<void>;
  /** Stops the cluster (immediately) and removes its files. */
  destroy(): void;
}

/** The newest installed server's bin folder (Debian keeps them under /usr/lib/postgresql/<major>/bin). */
function postgresBinFolder(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((name) => existsSync(path.join(root, name, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) throw new Error(`no PostgreSQL server binaries under ${root}/*/bin`);
  return path.join(root, majors[0]!, 'bin');
}

/**
 * A throw-away cluster of its own, so that stopping it disturbs nobody else's databases. initdb
 * refuses to run as root: as root, the cluster belongs to the `postgres` user, and its folder is
 * made that user's so it can enter it.
 */
export async function startPrivatePostgres(port: number): Promise<PrivatePostgres> {
  const bin = postgresBinFolder();
  const folder = mkdtempSync(path.join(os.tmpdir(), 'qbsync-bench-pg-'));
  const dataDir = path.join(folder, 'data');
  const logFile = path.join(folder, 'server.log');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    if (!Number.isInteger(uid) || !Number.isInteger(gid))
      throw new Error('running as root, but there is no postgres user');
    chownSync(folder, uid, gid);
    chmodSync(folder, 0o700);
  }
  const run = (tool: string, args: readonly string[]) => {
    const command = asRoot ? 'runuser' : path.join(bin, tool);
    const fullArgs = asRoot ? ['-u', 'postgres', '--', path.join(bin, tool), ...args] : [...args];
    const result = spawnSync(command, fullArgs, { cwd: folder, encoding: 'utf8' });
    if (result.status !== 0)
      throw new Error(
        `${tool} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr}` +
          (existsSync(logFile) ? `\nserver log:\n${tailOf(readFileSync(logFile, 'utf8'))}` : ''),
      );
  };
  run('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  const options = `-p ${port} -k ${folder} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  const start = async () => {
    run('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', options, '-w', '-t', '120', 'start']);
    for (let waited = 0; !(await portAnswers('127.0.0.1', port, 500)); waited += 100) {
      if (waited > 60_000) throw new Error(`the private PostgreSQL did not answer on port ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: (mode) => run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '120', 'stop']),
    start,
    destroy() {
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // Already stopped.
      }
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** The last lines of a process's output, for a report after something went wrong. */
export function tailOf(text: string, lines = 20): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** A `qbsync worker` process, as an operator runs it. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Everything it printed (the last 64 KB). */
  output(): string;
  /** Resolves with the exit code or signal when it exits. */
  readonly exited: Promise<string>;
  kill(): Promise<void>;
}

export function startWorkerProcess(env: Record<string, string>, readyTimeoutMs = 180_000): Promise<WorkerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, 'worker'], { cwd: repoRoot, env: cliEnv(env) });
    let output = '';
    let ready = false;
    const exited = new Promise<string>((resolveExit) =>
      child.once('exit', (code, signal) => resolveExit(String(code ?? signal))),
    );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`qbsync worker was not polling within ${readyTimeoutMs} ms: ${tailOf(output)}`));
    }, readyTimeoutMs);
    const handle: WorkerProcess = {
      child,
      output: () => output,
      exited,
      async kill() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-65_536);
      if (!ready && output.includes('Worker polling')) {
        ready = true;
        clearTimeout(timer);
        resolve(handle);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((how) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`qbsync worker exited (${how}) before polling: ${tailOf(output)}`));
    });
  });
}

/** Asks for a pass and waits for it; a run that continued as new before the pass ended is asked again. */
export async function passNow(handle: () => WorkflowHandle): Promise<{ outcome: string; lastError: string | null }> {
  for (;;) {
    const result = await handle().executeUpdate(syncNowUpdate, { args: [{ reason: 'bench', wait: true }] });
    if (result.outcome !== 'requested') return { outcome: result.outcome, lastError: result.lastError };
  }
}

/** Retries a call that fails while a server it needs is being restarted. */
export async function retrying<T>(what: string, call: () => Promise<T>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} kept failing for ${timeoutMs} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The closing line: space-separated key=value pairs, one line, for scripts to read. */
export function figuresLine(figures: Record<string, string | number>): string {
  return Object.entries(figures)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}
