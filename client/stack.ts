import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { migrateToLatest } from '../db/migrate.js';
import type { Config } from '../worker/config.js';
import { connectClient, openDatabase, type OpenedDatabase } from './connections.js';
import { startWorker, type WorkerHandle } from '../worker/main.js';
import {
  findOrInstallTemporal,
  splitAddress,
  startDevServer,
  temporalAnswers,
  TemporalUnavailableError,
  type RunningDevServer,
} from '../worker/temporal-server.js';

export interface DevStack {
  readonly temporalAddress: string;
  readonly temporalUiUrl: string | undefined;
  readonly startedTemporal: boolean;
  readonly database: OpenedDatabase;
  readonly worker: WorkerHandle;
  readonly client: Client;
  stop(): Promise<void>;
}

/**
 * Brings up everything `qbsync dev` needs, reusing what already runs: a Temporal server at
 * TEMPORAL_ADDRESS (or a dev server started there, with its history in the data directory),
 * PostgreSQL (see resolvePostgres), migrated, and a worker. stop() stops only what it started.
 */
export async function startDevStack(config: Config, log: (line: string) => void): Promise<DevStack> {
  const stoppers: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    stoppers.length = 0;
  };
  try {
    let devServer: RunningDevServer | undefined;
    if (await temporalAnswers(config.temporal.address, config.temporal.namespace)) {
      log(`Temporal: reusing the server at ${config.temporal.address}`);
    } else {
      const [host, port] = splitAddress(config.temporal.address);
      if (host !== '127.0.0.1' && host !== 'localhost' && host !== '0.0.0.0') {
        throw new TemporalUnavailableError(
          `cannot reach Temporal at ${config.temporal.address} (TEMPORAL_ADDRESS), and a dev server can only be started on this machine`,
        );
      }
      const binary = await findOrInstallTemporal({
        cliPath: config.temporal.cliPath,
        pathVariable: process.env['PATH'],
        dataDir: config.dataDir,
        log,
      });
      log(`Temporal: starting the dev server (${binary.path})...`);
      devServer = await startDevServer({
        binary: binary.path,
        ip: host === 'localhost' ? '127.0.0.1' : host,
        port: Number(port),
        uiPort: config.temporal.uiPort,
        dbFile: path.resolve(config.dataDir, 'temporal.db'),
        namespace: config.temporal.namespace,
        log,
      });
      stoppers.push(() => devServer!.stop());
    }
    const database = await openDatabase(config, log);
    stoppers.push(() => database.close());
    await migrateToLatest(database.db as Kysely<unknown>);
    const worker = await startWorker({ config, db: database.db });
    stoppers.push(() => worker.stop());
    const client = await connectClient(config);
    stoppers.push(() => client.connection.close());
    return {
      temporalAddress: config.temporal.address,
      temporalUiUrl: devServer?.uiUrl ?? `http://127.0.0.1:${config.temporal.uiPort}`,
      startedTemporal: devServer !== undefined,
      database,
      worker,
      client,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
