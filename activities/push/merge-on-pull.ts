import { readCrmCustomers } from '../../db/repositories/crm-records.js';
import { createsInFlight, lockAccountsWithOpenPushes } from '../../db/repositories/crm-outbox.js';
import type { QboLink, RealmKey } from '../../db/repositories/qbo-links.js';
import { recordConflicts, type ConflictRecord } from '../../db/repositories/sync-conflicts.js';
import type { Executor } from '../../db/recordset.js';
import type { AccountRecord } from '../mapping/customer.js';
import { accountWithFields, fieldsOfAccount, fieldsOfCrm, readSnapshot, type FieldValue } from './customer-fields.js';
import { mergeCustomer, type ConflictPolicy, type FieldConflict } from './merge.js';

export interface PullMerge {
  /** By QBO id: the values the CRM must hold, where they are not QuickBooks's as they came. */
  readonly crmValues: ReadonlyMap<string, AccountRecord>;
  /** By QBO id: the account a new customer belongs to, because the push created it. */
  readonly createdByPush: ReadonlyMap<string, number>;
}

/**
 * The pull's side of the two-way merge (R7). For customers whose account a CRM user changed since
 * the last push (an open outbox row), the CRM's values are merged with QuickBooks's field by field
 * (activities/push/merge.ts); the others take QuickBooks's values as they come. The accounts are
 * locked first, so an edit in flight is either seen here or waits for this transaction.
 *
 * The link's snapshot becomes QuickBooks's new state: what the CRM holds beyond it is what the
 * push, right after the pull, sends.
 */
export async function mergeCrmEdits(
  trx: Executor,
  realm: RealmKey,
  policy: ConflictPolicy,
  changes: readonly { readonly record: AccountRecord; readonly link: QboLink | undefined }[],
  now: Date,
): Promise<PullMerge> {
  const linked = changes.flatMap(({ record, link }) =>
    link && link.parent_qbo_id === null && link.account_id !== null
      ? [{ record, link, accountId: link.account_id }]
      : [],
  );
  const open = await lockAccountsWithOpenPushes(
    trx,
    realm.tenantId,
    linked.map(({ accountId }) => accountId),
  );
  const edited = linked.filter(({ accountId }) => open.has(accountId));
  const crmRows = await readCrmCustomers(
    trx,
    realm.tenantId,
    edited.map(({ accountId }) => accountId),
  );
  const crmValues = new Map<string, AccountRecord>();
  const conflicts: ConflictRecord[] = [];
  for (const { record, link, accountId } of edited) {
    const row = crmRows.get(accountId);
    if (!row) continue;
    const outcome = mergeCustomer({
      base: readSnapshot(link.synced_snapshot),
      crm: fieldsOfCrm(row),
      qbo: fieldsOfAccount(record),
      policy,
      cleared: new Set(open.get(accountId)?.cleared_fields ?? []),
    });
    crmValues.set(record.qboId, accountWithFields(record, outcome.merged));
    conflicts.push(...outcome.conflicts.map((conflict) => fieldConflictRecord(accountId, record.qboId, conflict)));
  }
  await recordConflicts(trx, realm, conflicts, now);

  const unlinked = changes.filter(({ link }) => !link).map(({ record }) => record);
  const inFlight = await createsInFlight(
    trx,
    realm.tenantId,
    unlinked.map((record) => record.displayName ?? record.companyName),
  );
  const createdByPush = new Map<string, number>();
  for (const record of unlinked) {
    const accountId = inFlight.get(record.displayName ?? record.companyName);
    if (accountId !== undefined) createdByPush.set(record.qboId, accountId);
  }
  return { crmValues, createdByPush };
}

/** A field both sides changed, as support reads it. */
export function fieldConflictRecord(accountId: number, qboId: string, conflict: FieldConflict): ConflictRecord {
  const shown = (value: FieldValue) =>
    value === null ? 'empty' : JSON.stringify(typeof value === 'string' ? value : value.join(', '));
  return {
    accountId,
    qboId,
    kind: 'field',
    field: conflict.field,
    base: conflict.base,
    crm: conflict.crm,
    qbo: conflict.qbo,
    applied: conflict.applied,
    message:
      `R7: ${conflict.field} changed on both sides since the last sync (CRM ${shown(conflict.crm)}, ` +
      `QuickBooks ${shown(conflict.qbo)}); the tenant's policy applied the ${conflict.applied === 'qbo' ? 'QuickBooks' : 'CRM'} value`,
  };
}
