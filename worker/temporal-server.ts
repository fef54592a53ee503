import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { OperatorError } from '../common/errors.js';
import { searchAttributeTypes } from '../common/search-attributes.js';
import { describe, portAnswers } from '../db/postgres.js';

/** The one Temporal CLI release that `go install` accepts (later ones carry a replace directive). */
export const temporalCliModule = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export class TemporalUnavailableError extends OperatorError {
  override readonly name = 'TemporalUnavailableError';
}

export interface FindTemporalOptions {
  readonly cliPath: string | undefined;
  readonly pathVariable: string | undefined;
  readonly dataDir: string;
  readonly log: (line: string) => void;
}

export interface FoundBinary {
  readonly path: string;
  readonly how: 'TEMPORAL_CLI_PATH' | 'PATH' | 'Go bin folder' | 'go install' | 'SDK download';
}

/**
 * Finds a `temporal` binary: TEMPORAL_CLI_PATH, then PATH, then Go's bin folder, then the SDK's
 * earlier download. With none, builds one with `go install` (about 3 minutes cold), or where Go is
 * missing, downloads the CLI as the SDK does. Every later call reuses what the first one found.
 */
export async function findOrInstallTemporal(options: FindTemporalOptions): Promise<FoundBinary> {
  const found = findTemporal(options);
  if (found) return found;
  const goBinary = whichOnPath('go', options.pathVariable);
  if (goBinary) {
    options.log(`Installing the Temporal CLI: go install ${temporalCliModule} (a cold build takes about 3 minutes)...`);
    const started = Date.now();
    const result = spawnSync(goBinary, ['install', temporalCliModule], { stdio: ['ignore', 'inherit', 'inherit'] });
    const built = goBinFolder(goBinary);
    if (result.status === 0 && built && isExecutable(path.join(built, 'temporal'))) {
      options.log(`Built the Temporal CLI in ${Math.round((Date.now() - started) / 1000)} s.`);
      return { path: path.join(built, 'temporal'), how: 'go install' };
    }
    options.log(`go install failed (exit ${result.status ?? result.signal}); trying the SDK's download instead.`);
  }
  const downloaded = await downloadWithSdk(options);
  if (downloaded) return downloaded;
  throw new TemporalUnavailableError(
    'no Temporal CLI found and none could be installed. Install Go and run ' +
      `"go install ${temporalCliModule}", or download the CLI from https://temporal.io/setup and set TEMPORAL_CLI_PATH to it.`,
  );
}

export function findTemporal(
  options: Pick<FindTemporalOptions, 'cliPath' | 'pathVariable' | 'dataDir'>,
): FoundBinary | undefined {
  if (options.cliPath !== undefined) {
    if (!isExecutable(options.cliPath)) {
      throw new TemporalUnavailableError(`TEMPORAL_CLI_PATH=${options.cliPath} is not an executable file`);
    }
    return { path: options.cliPath, how: 'TEMPORAL_CLI_PATH' };
  }
  const onPath = whichOnPath('temporal', options.pathVariable);
  if (onPath) return { path: onPath, how: 'PATH' };
  const goBinary = whichOnPath('go', options.pathVariable);
  const goBin = goBinary ? goBinFolder(goBinary) : undefined;
  for (const folder of [goBin, path.join(process.env['HOME'] ?? '/root', 'go', 'bin')]) {
    if (folder && isExecutable(path.join(folder, 'temporal')))
      return { path: path.join(folder, 'temporal'), how: 'Go bin folder' };
  }
  const sdkDownload = findInFolder(sdkDownloadDir(options.dataDir));
  if (sdkDownload) return { path: sdkDownload, how: 'SDK download' };
  return undefined;
}

function sdkDownloadDir(dataDir: string): string {
  return path.resolve(dataDir, 'temporal-cli');
}

async function downloadWithSdk(options: FindTemporalOptions): Promise<FoundBinary | undefined> {
  const downloadDir = sdkDownloadDir(options.dataDir);
  options.log(`Downloading the Temporal CLI through @temporalio/testing into ${downloadDir}...`);
  mkdirSync(downloadDir, { recursive: true });
  try {
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'cached-download', downloadDir } },
    });
    await env.teardown();
  } catch (error) {
    options.log(`The SDK's download failed: ${describe(error)}`);
    return undefined;
  }
  const binary = findInFolder(downloadDir);
  return binary ? { path: binary, how: 'SDK download' } : undefined;
}

function findInFolder(folder: string): string | undefined {
  if (!existsSync(folder)) return undefined;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) {
      const inner = findInFolder(full);
      if (inner) return inner;
    } else if (/^temporal(-cli)?[^/]*$/.test(entry.name) && !entry.name.endsWith('.tar.gz') && isExecutable(full)) {
      return full;
    }
  }
  return undefined;
}

function goBinFolder(goBinary: string): string | undefined {
  const gobin = spawnSync(goBinary, ['env', 'GOBIN'], { encoding: 'utf8' }).stdout?.trim();
  if (gobin) return gobin;
  const gopath = spawnSync(goBinary, ['env', 'GOPATH'], { encoding: 'utf8' }).stdout?.trim();
  return gopath ? path.join(gopath.split(path.delimiter)[0] ?? gopath, 'bin') : undefined;
}

function whichOnPath(name: string, pathVariable: string | undefined): string | undefined {
  const folders = [...(pathVariable ?? '').split(path.delimiter), '/usr/local/go/bin'];
  for (const folder of folders) {
    if (folder && isExecutable(path.join(folder, name))) return path.join(folder, name);
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    const stats = statSync(file);
    return stats.isFile() && (stats.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

export interface DevServerOptions {
  readonly binary: string;
  readonly ip?: string;
  readonly port: number;
  /** The Web UI's port, or undefined to run headless (tests). */
  readonly uiPort: number | undefined;
  /** A SQLite file keeps history across restarts; undefined keeps it in memory. */
  readonly dbFile: string | undefined;
  readonly namespace: string;
  readonly log?: (line: string) => void;
}

export interface RunningDevServer {
  readonly address: string;
  readonly uiUrl: string | undefined;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Go exits with 2 on an unrecovered panic. The dev server panics, instead of failing cleanly, when
 * one of the ports it picked for its internal services is taken before it binds it, a race with
 * other programs on the machine that a second start does not meet.
 */
const goPanicExitCode = 2;
const startAttempts = 2;

/** Starts `temporal server start-dev` with qbsync's search attributes, and waits until it serves. */
export async function startDevServer(options: DevServerOptions): Promise<RunningDevServer> {
  for (let attempt = 1; ; attempt += 1) {
    const started = await launchDevServer(options);
    if (!('exitCode' in started)) return started;
    const message = `the Temporal dev server exited with code ${started.exitCode}: ${started.reason}`;
    if (started.exitCode !== goPanicExitCode || attempt >= startAttempts) throw new TemporalUnavailableError(message);
    options.log?.(`Temporal: ${message}; starting it again`);
  }
}

interface EarlyExit {
  readonly exitCode: number;
  readonly reason: string;
}

async function launchDevServer(options: DevServerOptions): Promise<RunningDevServer | EarlyExit> {
  const ip = options.ip ?? '127.0.0.1';
  if (options.dbFile) mkdirSync(path.dirname(options.dbFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(options.port),
    '--namespace',
    options.namespace,
    '--log-level',
    'error',
    ...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    ...(options.dbFile ? ['--db-filename', options.dbFile] : []),
    ...Object.entries(searchAttributeTypes).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
  // In its own process group: Ctrl-C in the terminal reaches qbsync only, which stops its worker
  // first and this server last; a server stopped first would leave the worker retrying, loudly.
  const child = spawn(options.binary, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const stderr = new StderrKeeper();
  child.stderr?.on('data', (chunk: Buffer) => stderr.add(chunk.toString()));
  const address = `${ip}:${options.port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // 'close' follows 'exit' once stderr is drained: a crash's last words arrive after its exit.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      await closed;
      return { exitCode: child.exitCode, reason: stderr.reason() };
    }
    if (await temporalAnswers(address, options.namespace)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new TemporalUnavailableError(`the Temporal dev server did not answer on ${address} within 60 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return {
    address,
    uiUrl: options.uiPort === undefined ? undefined : `http://${ip === '0.0.0.0' ? '127.0.0.1' : ip}:${options.uiPort}`,
    process: child,
    stop,
  };
}

/**
 * Keeps what explains a failed start: the dev server's first error lines and a Go panic's own line
 * come at the start of its output, while a panic's stack trace fills the end.
 */
export class StderrKeeper {
  private head = '';
  private tail = '';

  add(text: string): void {
    if (this.head.length < 8_000) this.head += text.slice(0, 8_000 - this.head.length);
    this.tail = (this.tail + text).slice(-2_000);
  }

  reason(): string {
    const lines = this.head.split('\n').map((line) => line.trim());
    const telling = lines.filter((line) => /level=ERROR|^panic:|^Error:/.test(line));
    const chosen = telling.length > 0 ? telling.slice(0, 3) : this.tail.trim().split('\n').slice(-3);
    return chosen.join(' | ') || 'no output';
  }
}

/** True when a Temporal frontend answers at the address and knows the namespace. */
export async function temporalAnswers(address: string, namespace: string): Promise<boolean> {
  const [host, portText] = splitAddress(address);
  if (!(await portAnswers(host, Number(portText), 500))) return false;
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 2_000 });
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

export function splitAddress(address: string): [string, string] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), address.slice(at + 1)];
}
