import { Client, Connection } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { createDb } from '../db/connection.js';
import { describe, resolvePostgres, type PostgresTarget } from '../db/postgres.js';
import type { Database } from '../db/schema.js';
import type { Config } from '../worker/config.js';
import { TemporalUnavailableError } from '../worker/temporal-server.js';

/**
 * The database and the Temporal client, as every command opens them. Light on purpose (no worker,
 * no migrations): support commands start fast.
 */
/** The database the demo and the CLI use on a local server; tests use their own throw-away ones. */
export const defaultDatabaseName = 'qbsync';

export interface OpenedDatabase {
  readonly target: PostgresTarget;
  readonly db: Kysely<Database>;
  close(): Promise<void>;
}

export async function openDatabase(config: Config, log: (line: string) => void): Promise<OpenedDatabase> {
  const target = await resolvePostgres({
    databaseUrl: config.databaseUrl,
    localPort: config.localPostgresPort,
    dataDir: config.dataDir,
    databaseName: defaultDatabaseName,
    log,
  });
  const db = createDb({ url: target.url });
  return {
    target,
    db,
    async close() {
      await db.destroy();
      await target.stop();
    },
  };
}

export async function connectClient(config: Config): Promise<Client> {
  try {
    const connection = await Connection.connect({ address: config.temporal.address, connectTimeout: 5_000 });
    return new Client({ connection, namespace: config.temporal.namespace });
  } catch (error) {
    throw new TemporalUnavailableError(
      `cannot reach Temporal at ${config.temporal.address} (TEMPORAL_ADDRESS): ${describe(error)}`,
    );
  }
}
