import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { readDatesAsCalendarDays } from './date-types.js';

// NUMERIC arrives as a string by default; money columns are NUMERIC and the code works with strings
// for them on purpose. BIGINT (OID 20) counts fit safely in a JS number for our volumes.
pg.types.setTypeParser(20, (value) => Number.parseInt(value, 10));
readDatesAsCalendarDays();

export interface DbOptions {
  readonly url: string;
  readonly maxConnections?: number;
  readonly applicationName?: string;
}

export function createDb(options: DbOptions): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    application_name: options.applicationName ?? 'qbsync',
    connectionTimeoutMillis: 10_000,
  });
  // A client that loses its server (PostgreSQL restarting, pg_terminate_backend) emits 'error'; with
  // no listener Node kills the whole process, worker and `qbsync dev` alike. The pool listens on its
  // idle clients only, so every client gets a listener of its own for the time it is checked out,
  // by a page's transaction say. The loss is not lost: the client's next query fails, the failure
  // is classified DatabaseUnavailable (activities/sync/classify.ts), and the pool drops the client.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
