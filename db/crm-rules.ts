import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

/**
 * The rules the database enforces on CRM users' writes (migrations/20261127100000_crm_model.ts).
 * Each violation raises SQLSTATE `QB0nn`, nn being the requirement, with a message that starts
 * with "Rnn: ".
 */
export const crmRuleBySqlState = {
  QB008: 'R8',
  QB009: 'R9',
  QB014: 'R14',
  QB016: 'R16',
  QB017: 'R17',
  QB019: 'R19',
} as const;
export type CrmRule = (typeof crmRuleBySqlState)[keyof typeof crmRuleBySqlState];

/** The rule a database error broke, or null when it is not a CRM rule violation. */
export function crmRuleViolated(error: unknown): CrmRule | null {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code in crmRuleBySqlState
    ? crmRuleBySqlState[code as keyof typeof crmRuleBySqlState]
    : null;
}

/**
 * Marks the current transaction as the sync's own: the rule triggers let its writes through.
 * Transaction-local (`set_config(…, true)`), so it ends with the transaction and never leaks to the
 * next user of a pooled connection.
 */
export async function markAsSync(trx: Transaction<Database>): Promise<void> {
  await sql`SELECT set_config('qbsync.actor', 'sync', true)`.execute(trx);
}

/** Runs fn in one transaction whose writes count as the sync's (see markAsSync). */
export function asSync<T>(db: Kysely<Database>, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await markAsSync(trx);
    return fn(trx);
  });
}
