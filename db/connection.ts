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
  // An idle client that loses its server emits 'error' on the pool; without a listener Node crashes.
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
