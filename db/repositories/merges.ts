import { sql } from 'kysely';
import type { MergePair } from '../../common/repair-types.js';
import type { Executor } from '../recordset.js';
import { findLinks, type RealmKey } from './qbo-links.js';

/**
 * R21: a customer merged in QBO, in the CRM. A merge is recorded as a pointer on the merged-away
 * customer's link (`merged_into_qbo_id`), and repaired by moving what its account holds to the
 * survivor's account, step by step, then removing the account. Every step moves "whatever the
 * merged-away account still holds", so each is idempotent, and a repair stopped between steps
 * (a worker killed) goes on from where it was when run again. The callers run these as the sync
 * (db/crm-rules.ts asSync): QuickBooks-list records cannot be moved or deleted otherwise (R19).
 */

/** What recording a merge found: only `recorded` and `already recorded` leave a merge to repair. */
export type MergeRecording =
  | 'recorded'
  | 'already recorded'
  | 'merged-away customer not in the CRM'
  | 'survivor not in the CRM'
  | 'not top-level customers'
  | 'merged-away customer still active in QuickBooks';

/** Records that `mergedQboId` was merged into `survivorQboId` (a webhook or support said so). */
export async function recordMerge(trx: Executor, realm: RealmKey, pair: MergePair): Promise<MergeRecording> {
  const links = await findLinks(trx, realm, 'Customer', [pair.survivorQboId, pair.mergedQboId], { lock: true });
  const merged = links.get(pair.mergedQboId);
  const survivor = links.get(pair.survivorQboId);
  if (!merged) return 'merged-away customer not in the CRM';
  if (!survivor) return 'survivor not in the CRM';
  if (merged.parent_qbo_id !== null || survivor.parent_qbo_id !== null) return 'not top-level customers';
  if (merged.merged_into_qbo_id === pair.survivorQboId) return 'already recorded';
  await linkOf(trx, realm, pair.mergedQboId).set({ merged_into_qbo_id: pair.survivorQboId }).execute();
  return 'recorded';
}

function linkOf(trx: Executor, realm: RealmKey, qboId: string) {
  return trx
    .updateTable('qbo_links')
    .where('tenant_id', '=', realm.tenantId)
    .where('realm_id', '=', realm.realmId)
    .where('entity_type', '=', 'Customer')
    .where('qbo_id', '=', qboId);
}

/** An opportunity whose account changed in a write: from the account of one customer to another's. */
export interface AccountMove {
  readonly fromAccountId: number;
  readonly toAccountId: number;
}

/**
 * Merges seen in the pull, with no webhook and no support request: a customer that became inactive
 * while the transactions that referred to it moved to another customer. An account counts as merged
 * away when it is inactive, every opportunity that left it in this write went to one and the same
 * account, and it holds no live opportunity any more. Returns how many merges it recorded.
 */
export async function recordDetectedMerges(
  trx: Executor,
  realm: RealmKey,
  moves: readonly AccountMove[],
): Promise<number> {
  const targets = new Map<number, Set<number>>();
  for (const move of moves) {
    if (move.fromAccountId === move.toAccountId) continue;
    const set = targets.get(move.fromAccountId) ?? new Set<number>();
    set.add(move.toAccountId);
    targets.set(move.fromAccountId, set);
  }
  const candidates = [...targets].flatMap(([from, to]) => (to.size === 1 ? [{ from, to: [...to][0]! }] : []));
  if (candidates.length === 0) return 0;
  const rows = await sql<{ merged_qbo_id: string; survivor_qbo_id: string }>`
    SELECT m.qbo_id AS merged_qbo_id, s.qbo_id AS survivor_qbo_id
    FROM (SELECT * FROM unnest(${candidates.map((c) => c.from)}::int8[], ${candidates.map((c) => c.to)}::int8[])
            AS c (from_account, to_account)) c
    JOIN accounts a ON a.id = c.from_account AND a.tenant_id = ${realm.tenantId} AND NOT a.active
    JOIN qbo_links m ON m.tenant_id = ${realm.tenantId} AND m.realm_id = ${realm.realmId} AND m.entity_type = 'Customer'
                    AND m.account_id = c.from_account AND m.parent_qbo_id IS NULL AND m.merged_into_qbo_id IS NULL
    JOIN qbo_links s ON s.tenant_id = ${realm.tenantId} AND s.realm_id = ${realm.realmId} AND s.entity_type = 'Customer'
                    AND s.account_id = c.to_account AND s.parent_qbo_id IS NULL AND s.merged_into_qbo_id IS NULL
    WHERE NOT EXISTS (SELECT 1 FROM opportunities o
                      WHERE o.tenant_id = ${realm.tenantId} AND o.account_id = c.from_account AND o.deleted_at IS NULL)`.execute(
    trx,
  );
  for (const row of rows.rows) {
    await linkOf(trx, realm, row.merged_qbo_id).set({ merged_into_qbo_id: row.survivor_qbo_id }).execute();
  }
  return rows.rows.length;
}

/**
 * Merges recorded and not yet repaired: merged-away links whose account no customer owns (once
 * repaired, a merged-away link names the survivor's account, which the survivor's link owns).
 */
export async function listPendingMerges(db: Executor, realm: RealmKey, limit: number): Promise<MergePair[]> {
  const rows = await db
    .selectFrom('qbo_links as m')
    .select(['m.qbo_id', 'm.merged_into_qbo_id'])
    .where('m.tenant_id', '=', realm.tenantId)
    .where('m.realm_id', '=', realm.realmId)
    .where('m.entity_type', '=', 'Customer')
    .where('m.merged_into_qbo_id', 'is not', null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('qbo_links as owner')
            .select('owner.qbo_id')
            .whereRef('owner.tenant_id', '=', 'm.tenant_id')
            .whereRef('owner.realm_id', '=', 'm.realm_id')
            .where('owner.entity_type', '=', 'Customer')
            .whereRef('owner.account_id', '=', 'm.account_id')
            .where('owner.parent_qbo_id', 'is', null)
            .where('owner.merged_into_qbo_id', 'is', null),
        ),
      ),
    )
    .orderBy('m.qbo_id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ mergedQboId: row.qbo_id, survivorQboId: row.merged_into_qbo_id! }));
}

/** How many recorded merges wait for their repair. */
export async function countPendingMerges(db: Executor, realm: RealmKey): Promise<number> {
  return (await listPendingMerges(db, realm, 1_000)).length;
}

/** The two accounts of a merge still to repair, or null when there is nothing (left) to do. */
export interface MergeAccounts {
  readonly mergedAccountId: number;
  readonly survivorAccountId: number;
}

export async function findMergeAccounts(
  trx: Executor,
  realm: RealmKey,
  mergedQboId: string,
): Promise<MergeAccounts | null> {
  const raw = await trx
    .selectFrom('qbo_links')
    .select(['account_id', 'merged_into_qbo_id'])
    .where('tenant_id', '=', realm.tenantId)
    .where('realm_id', '=', realm.realmId)
    .where('entity_type', '=', 'Customer')
    .where('qbo_id', '=', mergedQboId)
    .forUpdate()
    .executeTakeFirst();
  if (!raw?.merged_into_qbo_id || raw.account_id === null) return null;
  const survivor = (await findLinks(trx, realm, 'Customer', [mergedQboId])).get(mergedQboId)?.account_id ?? null;
  if (survivor === null || survivor === raw.account_id) return null;
  // Both accounts are locked for the step: a sync write racing the repair waits for it.
  await trx
    .selectFrom('accounts')
    .select('id')
    .where('tenant_id', '=', realm.tenantId)
    .where(sql<boolean>`id = ANY(${[raw.account_id, survivor]}::int8[])`)
    .forUpdate()
    .execute();
  return { mergedAccountId: raw.account_id, survivorAccountId: survivor };
}

/** Re-points the merged-away account's opportunities, or automations, at the survivor's account. */
export async function moveAccountRows(
  trx: Executor,
  table: 'opportunities' | 'automations',
  tenantId: string,
  accounts: MergeAccounts,
): Promise<number> {
  const result = await trx
    .updateTable(table)
    .set({ account_id: accounts.survivorAccountId })
    .where('tenant_id', '=', tenantId)
    .where('account_id', '=', accounts.mergedAccountId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Moves every contact to the survivor's account, its primary contact included (nothing is lost; it
 * is no longer QuickBooks data, so it leaves the QuickBooks list). R16 makes the oldest contact of
 * an account its primary, which the sync writes the survivor's QBO person fields to: a moved contact
 * older than the survivor's primary contact is dated just after it, in the same order, so that the
 * survivor's primary contact stays the one QBO syncs.
 */
export async function moveContacts(
  trx: Executor,
  tenantId: string,
  quickbooksListId: number,
  accounts: MergeAccounts,
): Promise<number> {
  const mergedPrimary = await trx
    .selectFrom('contacts')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('account_id', '=', accounts.mergedAccountId)
    .where('is_primary', '=', true)
    .executeTakeFirst();
  if (mergedPrimary) {
    await trx
      .deleteFrom('list_members')
      .where('tenant_id', '=', tenantId)
      .where('list_id', '=', quickbooksListId)
      .where('contact_id', '=', mergedPrimary.id)
      .execute();
  }
  const moved = await sql`
    UPDATE contacts c
    SET account_id = ${accounts.survivorAccountId},
        created_at = CASE WHEN p.created_at IS NOT NULL AND c.created_at <= p.created_at
                          THEN p.created_at + r.place * interval '1 microsecond'
                          ELSE c.created_at END
    FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS place
          FROM contacts WHERE tenant_id = ${tenantId} AND account_id = ${accounts.mergedAccountId}) r
    LEFT JOIN (SELECT created_at FROM contacts
               WHERE tenant_id = ${tenantId} AND account_id = ${accounts.survivorAccountId} AND is_primary) p ON true
    WHERE c.id = r.id`.execute(trx);
  return Number(moved.numAffectedRows ?? 0);
}

/** Moves the merged-away account's memberships of the CRM's own lists; the QuickBooks list's goes with the account. */
export async function moveListMemberships(
  trx: Executor,
  tenantId: string,
  quickbooksListId: number,
  accounts: MergeAccounts,
): Promise<number> {
  const memberships = await trx
    .selectFrom('list_members')
    .select(['id', 'list_id'])
    .where('tenant_id', '=', tenantId)
    .where('account_id', '=', accounts.mergedAccountId)
    .where('list_id', '!=', quickbooksListId)
    .execute();
  if (memberships.length === 0) return 0;
  await sql`
    INSERT INTO list_members (tenant_id, list_id, account_id)
    SELECT ${tenantId}, list_id, ${accounts.survivorAccountId}
    FROM unnest(${memberships.map((m) => m.list_id)}::int8[]) AS l (list_id)
    WHERE NOT EXISTS (SELECT 1 FROM list_members e
                      WHERE e.list_id = l.list_id AND e.account_id = ${accounts.survivorAccountId})`.execute(trx);
  await trx
    .deleteFrom('list_members')
    .where(sql<boolean>`id = ANY(${memberships.map((m) => m.id)}::int8[])`)
    .execute();
  return memberships.length;
}

/**
 * The last step: every link that named the merged-away account names the survivor's, and the
 * account goes. Opportunities keep their account (no cascade), so an account that still holds one
 * is refused by the database rather than losing it.
 */
export async function removeMergedAccount(trx: Executor, realm: RealmKey, accounts: MergeAccounts): Promise<number> {
  await trx
    .updateTable('qbo_links')
    .set({ account_id: accounts.survivorAccountId })
    .where('tenant_id', '=', realm.tenantId)
    .where('account_id', '=', accounts.mergedAccountId)
    .execute();
  const result = await trx
    .deleteFrom('accounts')
    .where('tenant_id', '=', realm.tenantId)
    .where('id', '=', accounts.mergedAccountId)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
