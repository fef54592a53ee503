import { sql } from 'kysely';
import type { Executor } from '../recordset.js';

/**
 * Serializes the transactions that write one entity of one tenant, until each commits.
 *
 * A record new to the CRM has no link row to lock: two transactions writing it at once (the four
 * document entities read side by side both fetching a customer they refer to, or a page attempt
 * still running when Temporal has already retried it elsewhere) would each insert a row and the
 * second link would take the record from the first. Behind this lock the second finds the first's
 * link and updates instead. Transactions of different entities do not wait on each other; a
 * document page takes its own entity's lock, then its references' (Customer), always in that order.
 */
export async function lockEntityWrites(trx: Executor, tenantId: string, entity: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext(${`qbsync:${tenantId}`}), hashtext(${entity}))`.execute(trx);
}
