import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Rows of `table` that the transaction's scans read while `work` ran: through any of its indexes,
 * or by a sequential or bitmap scan of the table. For tests that hold a query's cost to the rows
 * it asks for, whatever plan the statistics lead the planner to.
 */
export async function rowsReadFrom(
  trx: Transaction<Database>,
  table: string,
  work: () => Promise<unknown>,
): Promise<number> {
  const readSoFar = async () =>
    Number(
      (
        await sql<{ n: string }>`
          SELECT pg_stat_get_xact_tuples_fetched(${table}::regclass)
            + pg_stat_get_xact_tuples_returned(${table}::regclass)
            + (SELECT coalesce(sum(pg_stat_get_xact_tuples_fetched(indexrelid)), 0) FROM pg_index
               WHERE indrelid = ${table}::regclass) AS n`.execute(trx)
      ).rows[0]!.n,
    );
  const before = await readSoFar();
  await work();
  return (await readSoFar()) - before;
}

/** As rowsReadFrom, in a transaction of its own. */
export function rowsReadInTransaction(
  db: Kysely<Database>,
  table: string,
  work: (trx: Transaction<Database>) => Promise<unknown>,
): Promise<number> {
  return db.transaction().execute(async (trx) => rowsReadFrom(trx, table, () => work(trx)));
}
