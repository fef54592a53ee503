import { sql, type Selectable } from 'kysely';
import type { Executor } from '../recordset.js';
import type { CrmOutboxTable } from '../schema.js';

/**
 * The outbox of CRM → QuickBooks customer pushes (migrations/20261201100000_two_way_customers.ts).
 * Triggers write it, in the CRM user's own transaction; the push activity reads and settles it.
 */
export type OutboxRow = Selectable<CrmOutboxTable>;

/** Rows waiting for a push, oldest first. */
export async function pendingPushes(db: Executor, tenantId: string, limit: number): Promise<OutboxRow[]> {
  return db
    .selectFrom('crm_outbox')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('state', '=', 'pending')
    .orderBy('id')
    .limit(limit)
    .execute();
}

export async function countPendingPushes(db: Executor, tenantId: string): Promise<number> {
  const row = await db
    .selectFrom('crm_outbox')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('tenant_id', '=', tenantId)
    .where('state', '=', 'pending')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/**
 * The open (pending or refused) pushes of these accounts, by account id, after locking the
 * accounts: a CRM user's edit in flight commits first (and its outbox row is then seen), or waits
 * until the sync's transaction ends. Without the lock, a pull could write over an edit whose row it
 * did not see yet.
 */
export async function lockAccountsWithOpenPushes(
  trx: Executor,
  tenantId: string,
  accountIds: readonly number[],
): Promise<Map<number, OutboxRow>> {
  if (accountIds.length === 0) return new Map();
  await trx
    .selectFrom('accounts')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where(sql<boolean>`id = ANY(${accountIds}::int8[])`)
    .orderBy('id')
    .forUpdate()
    .execute();
  const rows = await trx
    .selectFrom('crm_outbox')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where(sql<boolean>`account_id = ANY(${accountIds}::int8[])`)
    .where('state', 'in', ['pending', 'blocked'])
    .execute();
  return new Map(rows.map((row) => [row.account_id, row]));
}

/** Accounts whose create was sent to QuickBooks and not yet linked, by the name the create carried. */
export async function createsInFlight(
  db: Executor,
  tenantId: string,
  names: readonly string[],
): Promise<Map<string, number>> {
  if (names.length === 0) return new Map();
  const rows = await db
    .selectFrom('crm_outbox')
    .select(['account_id', 'create_sent_name'])
    .where('tenant_id', '=', tenantId)
    .where('state', '=', 'pending')
    .where(sql<boolean>`create_sent_name = ANY(${names}::text[])`)
    .execute();
  return new Map(rows.map((row) => [row.create_sent_name as string, row.account_id]));
}

/** Remembers, before it is sent, that a create with this name is on its way to QuickBooks. */
export async function markCreateSent(db: Executor, outboxId: number, name: string, now: Date): Promise<void> {
  await db
    .updateTable('crm_outbox')
    .set({ create_sent_name: name, create_sent_at: now, attempts: sql`attempts + 1` })
    .where('id', '=', outboxId)
    .execute();
}

/**
 * Settles a push: done when no edit came in since the revision the push read; otherwise the row
 * stays pending and the next push sends the rest. Returns whether it was settled.
 */
export async function settlePush(db: Executor, row: Pick<OutboxRow, 'id' | 'revision'>, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('crm_outbox')
    .set({ state: 'pushed', finished_at: now, last_error: null })
    .where('id', '=', row.id)
    .where('revision', '=', row.revision)
    .where('state', '=', 'pending')
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 1) return true;
  // A newer edit keeps the row open; the create it may have sent is done, so the name is released.
  await db.updateTable('crm_outbox').set({ create_sent_name: null }).where('id', '=', row.id).execute();
  return false;
}

/** QuickBooks refused the push for a reason a retry will not cure: held until a person acts (or the user edits again). */
export async function blockPush(db: Executor, outboxId: number, reason: string): Promise<void> {
  await db
    .updateTable('crm_outbox')
    .set({ state: 'blocked', last_error: reason.slice(0, 2000), create_sent_name: null })
    .where('id', '=', outboxId)
    .execute();
}

/** Opens (or reopens) an account's push on the sync's behalf: a conflict resolved in favour of a side. */
export async function reopenPush(
  db: Executor,
  tenantId: string,
  accountId: number,
  cleared: readonly string[],
): Promise<void> {
  await sql`
    INSERT INTO crm_outbox AS o (tenant_id, account_id, cleared_fields)
    VALUES (${tenantId}, ${accountId}, ${[...cleared]}::text[])
    ON CONFLICT (tenant_id, account_id) WHERE state IN ('pending', 'blocked') DO UPDATE
    SET revision = o.revision + 1, state = 'pending',
        cleared_fields = ARRAY(SELECT DISTINCT unnest(o.cleared_fields || EXCLUDED.cleared_fields))`.execute(db);
}

/** Drops an account's refused push: support chose QuickBooks's side. */
export async function discardPush(
  db: Executor,
  tenantId: string,
  accountId: number,
  why: string,
  now: Date,
): Promise<void> {
  await db
    .updateTable('crm_outbox')
    .set({ state: 'discarded', finished_at: now, last_error: why })
    .where('tenant_id', '=', tenantId)
    .where('account_id', '=', accountId)
    .where('state', 'in', ['pending', 'blocked'])
    .execute();
}
