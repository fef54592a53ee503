// Run by db/connection.integration.test.ts as a child process: `tsx test/connection-loss-child.ts URL`.
// Opens transactions through createDb, has their backends terminated from another connection, and
// prints one JSON line per case with what the transaction threw and how an activity would classify
// it. A crash (an unhandled 'error' event) shows as a non-zero exit with no line for the case.
import { ApplicationFailure } from '@temporalio/common';
import { sql, type Kysely } from 'kysely';
import { toActivityFailure } from '../activities/sync/classify.js';
import { createDb } from '../db/connection.js';
import type { Database } from '../db/schema.js';

const [url] = process.argv.slice(2);
if (url === undefined) throw new Error('usage: connection-loss-child.ts POSTGRES_URL');

const db = createDb({ url, maxConnections: 2, applicationName: 'qbsync-connection-loss' });
const admin = createDb({ url, maxConnections: 1 });

async function terminate(trx: Kysely<Database>): Promise<void> {
  const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
  await sql`SELECT pg_terminate_backend(${rows[0]?.pid ?? 0})`.execute(admin);
}

const cases: Record<string, (trx: Kysely<Database>) => Promise<void>> = {
  // The page's transaction waits between queries (on QBO, say) when PostgreSQL goes away.
  'between queries': async (trx) => {
    await terminate(trx);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await sql`SELECT 1`.execute(trx);
  },
  // PostgreSQL goes away under a running query.
  'during a query': async (trx) => {
    const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
    const running = sql`SELECT pg_sleep(5)`.execute(trx);
    // It may fail while the termination below is still being answered, before it is awaited: a
    // handler now keeps that from counting as an unhandled rejection (awaiting it still throws).
    void running.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await sql`SELECT pg_terminate_backend(${rows[0]?.pid ?? 0})`.execute(admin);
    await running;
  },
};

for (const [name, body] of Object.entries(cases)) {
  try {
    await db.transaction().execute(body);
    process.stdout.write(`${JSON.stringify({ name, outcome: 'committed' })}\n`);
  } catch (error) {
    const failure = toActivityFailure(error);
    process.stdout.write(
      `${JSON.stringify({
        name,
        outcome: 'failed',
        message: error instanceof Error ? error.message : String(error),
        type: failure instanceof ApplicationFailure ? failure.type : null,
        nonRetryable: failure instanceof ApplicationFailure ? failure.nonRetryable : null,
      })}\n`,
    );
  }
}
// The pool still works after losing a client: the next transaction gets a fresh connection.
const { rows } = await db.transaction().execute((trx) => sql<{ one: number }>`SELECT 1 AS one`.execute(trx));
process.stdout.write(
  `${JSON.stringify({ name: 'afterwards', outcome: rows[0]?.one === 1 ? 'committed' : 'wrong' })}\n`,
);
await db.destroy();
await admin.destroy();
