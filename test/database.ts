import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createDb } from '../db/connection.js';
import { migrateToLatest } from '../db/migrate.js';
import { dropDatabase, ensureDatabaseExists, withDatabase } from '../db/postgres.js';
import type { Database } from '../db/schema.js';

/** The server tests create their databases on; never the demo's database. */
export const testServerUrl = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly url: string;
  readonly db: Kysely<Database>;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** A fresh, uniquely named database, migrated to the latest schema unless told otherwise. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const url = withDatabase(testServerUrl, `qbsync_test_${randomBytes(6).toString('hex')}`);
  await ensureDatabaseExists(url, 'the test PostgreSQL server');
  const db = createDb({ url, maxConnections: 5 });
  if (options.migrate !== false) await migrateToLatest(db as Kysely<unknown>);
  return {
    url,
    db,
    async drop() {
      await db.destroy();
      await dropDatabase(url);
    },
  };
}
