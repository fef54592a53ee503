import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { FailureType } from '../../common/failure-types.js';
import { asSync } from '../../db/crm-rules.js';
import {
  blockPush,
  countPendingPushes,
  discardPush,
  markCreateSent,
  pendingPushes,
  reopenPush,
  settlePush,
  type OutboxRow,
} from '../../db/repositories/crm-outbox.js';
import { readCrmCustomers, type CrmCustomerRow } from '../../db/repositories/crm-records.js';
import {
  findCustomerLinksOfAccounts,
  findLinks,
  saveCustomerSnapshot,
  upsertLinks,
  type QboLink,
} from '../../db/repositories/qbo-links.js';
import {
  closeSettledRefusals,
  countResolutionsToApply,
  markResolutionApplied,
  recordConflicts,
  resolutionsToApply,
  type SyncConflict,
} from '../../db/repositories/sync-conflicts.js';
import type { SyncSettings } from '../../db/repositories/tenants.js';
import type { Executor } from '../../db/recordset.js';
import { mapCustomer } from '../mapping/customer.js';
import { isMappingError } from '../mapping/errors.js';
import { maxBatchItems, type BatchCustomerUpdate, type QboClient, type QboRecord } from '../qbo/qbo-client.js';
import { QboError } from '../qbo/qbo-errors.js';
import { classifyFailures } from '../sync/classify.js';
import { writeRecords, type TenantSettings } from '../sync/crm-writer.js';
import type { SyncDeps } from '../sync/sync.activities.js';
import { referenceFetcher } from '../sync/qbo-requests.js';
import { writeAccounts } from '../sync/set-writers.js';
import { connectedTenantSettings } from '../sync/tenant-settings.js';
import {
  crmAccountWithFields,
  customerFieldNames,
  displayNameFor,
  fieldsOfAccount,
  fieldsOfCrm,
  isEmptyValue,
  qboCreateBody,
  qboFieldChanges,
  readSnapshot,
  sameValue,
  snapshotOfAccount,
  type CustomerField,
  type CustomerFields,
  type CustomerSnapshot,
  type FieldValue,
} from './customer-fields.js';
import { mergeCustomer, type MergeOutcome } from './merge.js';
import { fieldConflictRecord } from './merge-on-pull.js';

export interface PushCustomerChangesInput {
  readonly tenantId: string;
}

export interface PushResult {
  /** QuickBooks customers created for accounts that joined the QuickBooks list (R15). */
  readonly created: number;
  /** Sparse updates sent. */
  readonly updated: number;
  /** Outbox rows that needed no request (the CRM already matched QuickBooks). */
  readonly unchanged: number;
  /** Pushes QuickBooks refused (duplicate name, validation): recorded as conflicts, not retried. */
  readonly refused: number;
  /** Fields both sides changed, recorded as conflicts. */
  readonly conflicts: number;
  /** Rows still waiting: the workflow calls again while some remain. */
  readonly remaining: number;
}

const heartbeatEveryMs = 3_000;
/** Outbox rows per activity call: ten full batches of updates (creates go one request each). */
const pushesPerCall = 10 * maxBatchItems;

type Outcome = 'created' | 'updated' | 'unchanged' | 'refused';

/** Faults that a retry of the same push meets again: recorded against the CRM record, never retried. */
const refusals: readonly string[] = [FailureType.QboDuplicateName, FailureType.QboValidation, FailureType.QboNotFound];

/**
 * CRM → QuickBooks for customers (R7): pushes the accounts the CRM's users changed, after the pull
 * of the same pass. One sparse update per account with the SyncToken last seen; a create carries a
 * requestid derived from its outbox row, so a retried activity never makes a second customer.
 * QuickBooks's answer is written back through the sync's own writer, so both sides end equal and
 * nothing echoes.
 */
export function createPushActivities(deps: SyncDeps) {
  const { db } = deps;

  return classifyFailures({
    async pushCustomerChanges(input: PushCustomerChangesInput): Promise<PushResult> {
      const settings = await connectedTenantSettings(db, input.tenantId);
      const tally = { created: 0, updated: 0, unchanged: 0, refused: 0, conflicts: 0 };
      if (!settings.twoWay) return { ...tally, remaining: 0 };
      const client = await deps.qboClientFor(input.tenantId);
      const context = Context.current();
      // A push can wait on the realm's shared request budget: that wait is progress too.
      const beat = setInterval(() => context.heartbeat(), heartbeatEveryMs);
      try {
        const push = pusher(settings, client, (conflicts) => (tally.conflicts += conflicts));
        await push.applyResolutions(await resolutionsToApply(db, settings.tenantId));
        for (const outcome of await push.rows(await pendingPushes(db, settings.tenantId, pushesPerCall))) {
          tally[outcome] += 1;
        }
      } finally {
        clearInterval(beat);
      }
      return { ...tally, remaining: await countPendingPushes(db, settings.tenantId) };
    },
  });

  function pusher(
    settings: SyncSettings & TenantSettings,
    client: QboClient,
    conflictsRecorded: (count: number) => void,
  ) {
    const policy = settings.conflictPolicy;

    /** Writes QuickBooks's answer (or, when no request was needed, the settled values) back, and settles the row. */
    async function finish(
      row: OutboxRow,
      link: QboLink,
      crm: CrmCustomerRow,
      merged: CustomerFields,
      answer: QboRecord | null,
    ): Promise<void> {
      await asSync(db, async (trx) => {
        await settlePush(trx, row, deps.now());
        await closeSettledRefusals(trx, settings.tenantId, row.account_id, deps.now());
        // The pushed state is the base that an edit made meanwhile merges against.
        const snapshot = readSnapshot(link.synced_snapshot);
        await saveCustomerSnapshot(trx, settings, link.qbo_id, {
          ...merged,
          displayName: snapshot?.displayName ?? null,
        });
        if (answer) {
          await writeRecords(trx, settings, 'Customer', [answer], referenceFetcher(client), deps.now());
        } else if (!sameFields(fieldsOfCrm(crm), merged)) {
          await writeAccounts(trx, settings, [
            { record: crmAccountWithFields(crm, link.qbo_id, merged), id: crm.account_id },
          ]);
        }
      });
    }

    async function refuse(row: OutboxRow, qboId: string | null, error: QboError): Promise<Outcome> {
      await asSync(db, async (trx) => {
        await recordConflicts(
          trx,
          settings,
          [
            {
              accountId: row.account_id,
              qboId,
              kind: error.type === FailureType.QboDuplicateName ? 'duplicate_name' : 'validation',
              ...(error.details.code ? { qboCode: error.details.code } : {}),
              message: error.message,
            },
          ],
          deps.now(),
        );
        await blockPush(trx, row.id, error.message);
      });
      conflictsRecorded(1);
      return 'refused';
    }

    async function recordMergeConflicts(row: OutboxRow, qboId: string, outcome: MergeOutcome): Promise<void> {
      if (outcome.conflicts.length === 0) return;
      const records = outcome.conflicts.map((conflict) => fieldConflictRecord(row.account_id, qboId, conflict));
      await recordConflicts(db, settings, records, deps.now());
      conflictsRecorded(records.length);
    }

    async function create(row: OutboxRow, crm: CrmCustomerRow): Promise<Outcome> {
      const fields = fieldsOfCrm(crm);
      const name = displayNameFor(fields);
      if (name === null) {
        const error = new QboError(
          FailureType.QboValidation,
          `account ${row.account_id} has no name: QuickBooks needs a DisplayName`,
        );
        return refuse(row, null, error);
      }
      if (row.create_sent_name !== null) {
        // An earlier attempt sent a create and never settled (its worker died, or the answer was
        // lost): QuickBooks may hold the customer already. Take it rather than make a second one.
        const earlier = await adoptEarlierCreate(row, row.create_sent_name);
        if (earlier) return update(row, earlier.link, crm, earlier.record);
      }
      const body = qboCreateBody(fields);
      await markCreateSent(db, row.id, name, deps.now());
      let answer: QboRecord;
      try {
        // Keyed by the row and what is sent: a retry of the same create is answered, not repeated;
        // a create the user corrected after a refusal is a new request.
        answer = await client.createCustomer(
          body,
          requestId(settings.tenantId, 'create', row.id, JSON.stringify(body)),
        );
      } catch (error) {
        if (isRefusal(error)) return refuse(row, null, error);
        throw error;
      }
      await asSync(db, async (trx) => {
        await linkCreated(trx, row, answer.Id, { ...fields, displayName: name });
        await settlePush(trx, row, deps.now());
        await closeSettledRefusals(trx, settings.tenantId, row.account_id, deps.now());
        await writeRecords(trx, settings, 'Customer', [answer], referenceFetcher(client), deps.now());
      });
      return 'created';
    }

    /**
     * Links a customer the push created to its account, at a version older than QuickBooks's
     * answer, so that the answer goes through the normal writer onto this account. A pull that met
     * the customer first linked it already.
     */
    async function linkCreated(trx: Executor, row: OutboxRow, qboId: string, snapshot: CustomerSnapshot) {
      const known = await findLinks(trx, settings, 'Customer', [qboId], { lock: true });
      if (known.has(qboId)) return;
      await upsertLinks(
        trx,
        settings,
        'Customer',
        [
          {
            qboId,
            version: { syncToken: '-1', lastUpdatedTime: new Date(0).toISOString() },
            target: { account_id: row.account_id },
            parentQboId: null,
            snapshot,
          },
        ],
        deps.now(),
      );
    }

    /** The customer an unsettled create made, found by the name it carried, linked to the row's account. */
    async function adoptEarlierCreate(
      row: OutboxRow,
      sentName: string,
    ): Promise<{ link: QboLink; record: QboRecord } | null> {
      const page = await client.query({
        entity: 'Customer',
        where: [{ field: 'DisplayName', op: '=', value: sentName }],
      });
      const [record] = page.records;
      if (!record) return null;
      const mapped = mappedAccount(record);
      if (!mapped) return null;
      const link = await asSync(db, async (trx) => {
        await linkCreated(trx, row, record.Id, snapshotOfAccount(mapped));
        return (await findLinks(trx, settings, 'Customer', [record.Id])).get(record.Id);
      });
      return link && link.account_id === row.account_id ? { link, record } : null;
    }

    function mappedAccount(record: QboRecord) {
      try {
        const mapped = mapCustomer(record, { defaultLanguage: settings.defaultLanguage });
        return mapped.kind === 'account' ? mapped.account : null;
      } catch (error) {
        if (isMappingError(error)) return null;
        throw error;
      }
    }

    /** An update merged and ready to send: what it sends, and what it needs once QuickBooks answers. */
    interface PreparedUpdate {
      readonly row: OutboxRow;
      readonly link: QboLink;
      readonly crm: CrmCustomerRow;
      readonly snapshot: CustomerSnapshot;
      readonly merge: MergeOutcome;
      readonly change: BatchCustomerUpdate['change'];
    }

    /**
     * Merges an account with what was last synced (or with QuickBooks's customer, when the caller
     * just read it): settled at once when QuickBooks needs nothing, else ready to send.
     */
    async function prepareUpdate(
      row: OutboxRow,
      link: QboLink,
      crm: CrmCustomerRow,
      known?: QboRecord,
    ): Promise<PreparedUpdate | Outcome> {
      let current = known ? currentOf(known) : null;
      let snapshot = readSnapshot(link.synced_snapshot);
      if (snapshot === null) {
        // A link with no snapshot has no base: QuickBooks's current state serves as one.
        current ??= await readCurrent(row, link.qbo_id);
        if (!current) return 'refused';
        snapshot = { ...current.fields, displayName: null };
      }
      const merge = mergeCustomer({
        base: snapshot,
        crm: fieldsOfCrm(crm),
        qbo: current?.fields ?? snapshot,
        policy,
        cleared: new Set(row.cleared_fields),
      });
      if (merge.toQbo.size === 0) {
        await finish(row, link, crm, merge.merged, current?.record ?? null);
        return 'unchanged';
      }
      const syncToken = current ? String(current.record['SyncToken'] ?? link.sync_token) : link.sync_token;
      const change = { Id: link.qbo_id, SyncToken: syncToken, ...qboFieldChanges(merge.merged, merge.toQbo, snapshot) };
      return { row, link, crm, snapshot, merge, change };
    }

    /** Sends prepared updates 30 to a request (QBO's batch), and settles each by its own answer. */
    async function sendUpdates(prepared: readonly PreparedUpdate[]): Promise<Outcome[]> {
      const outcomes: Outcome[] = [];
      for (let start = 0; start < prepared.length; start += maxBatchItems) {
        const chunk = prepared.slice(start, start + maxBatchItems);
        // The same chunk sent again (a retried activity) is the same requestid: QuickBooks answers it once.
        const key = chunk.map(({ row, change }) => `${row.id}.${row.revision}.${change.SyncToken}`).join(',');
        const answers = await client.updateCustomers(
          chunk.map(({ row, change }) => ({ bId: String(row.id), change })),
          requestId(settings.tenantId, 'update', key),
        );
        for (const [index, answer] of answers.entries()) {
          const update = chunk[index] as PreparedUpdate;
          outcomes.push(
            'record' in answer ? await settleUpdate(update, answer.record) : await refusedOrStale(update, answer.error),
          );
        }
      }
      return outcomes;
    }

    async function settleUpdate(update: PreparedUpdate, answer: QboRecord): Promise<Outcome> {
      await finish(update.row, update.link, update.crm, update.merge.merged, answer);
      return 'updated';
    }

    /**
     * An update QuickBooks did not take. Stale (someone saved the customer since the last pull):
     * read it, merge again and retry once; a second stale answer fails the activity, classified,
     * and the pass with it. A refusal is recorded against the account; anything else fails the activity.
     */
    async function refusedOrStale(update: PreparedUpdate, error: QboError): Promise<Outcome> {
      const { row, link, crm, snapshot } = update;
      if (refusals.includes(error.type)) return refuse(row, link.qbo_id, error);
      if (error.type !== FailureType.QboStaleObject) throw error;
      const current = await readCurrent(row, link.qbo_id);
      if (!current) return 'refused';
      const merge = mergeCustomer({
        base: snapshot,
        crm: fieldsOfCrm(crm),
        qbo: current.fields,
        policy,
        cleared: new Set(row.cleared_fields),
      });
      await recordMergeConflicts(row, link.qbo_id, merge);
      if (merge.toQbo.size === 0) {
        await finish(row, link, crm, merge.merged, current.record);
        return 'unchanged';
      }
      const token = String(current.record['SyncToken'] ?? '');
      try {
        const answer = await client.updateCustomer(
          { Id: link.qbo_id, SyncToken: token, ...qboFieldChanges(merge.merged, merge.toQbo, snapshot) },
          requestId(settings.tenantId, 'update', row.id, row.revision, token),
        );
        return await settleUpdate({ ...update, merge }, answer);
      } catch (retryError) {
        if (isRefusal(retryError)) return refuse(row, link.qbo_id, retryError);
        throw retryError;
      }
    }

    /** One update on its own (after a create was adopted). */
    async function update(row: OutboxRow, link: QboLink, crm: CrmCustomerRow, known?: QboRecord): Promise<Outcome> {
      const prepared = await prepareUpdate(row, link, crm, known);
      if (typeof prepared === 'string') return prepared;
      const [outcome] = await sendUpdates([prepared]);
      return outcome as Outcome;
    }

    function currentOf(record: QboRecord): { readonly record: QboRecord; readonly fields: CustomerFields } | null {
      const account = mappedAccount(record);
      return account ? { record, fields: fieldsOfAccount(account) } : null;
    }

    /** QuickBooks's customer as it is now; a customer the sync can no longer map refuses the push. */
    async function readCurrent(row: OutboxRow, qboId: string) {
      const record = await client.read('Customer', qboId);
      try {
        const mapped = mapCustomer(record, { defaultLanguage: settings.defaultLanguage });
        if (mapped.kind !== 'account')
          throw new QboError(FailureType.QboValidation, `customer ${qboId} became a sub-customer in QuickBooks`);
        return { record, fields: fieldsOfAccount(mapped.account) };
      } catch (error) {
        const reason = isMappingError(error) ? `customer ${qboId}: ${error.field} ${error.problem}` : undefined;
        if (reason === undefined && !(error instanceof QboError)) throw error;
        await refuse(
          row,
          qboId,
          error instanceof QboError ? error : new QboError(FailureType.QboValidation, reason ?? ''),
        );
        return null;
      }
    }

    return {
      /** Pushes a batch of outbox rows: creates one by one, updates 30 to a request. */
      async rows(rows: readonly OutboxRow[]): Promise<Outcome[]> {
        const outcomes: Outcome[] = [];
        const updates: PreparedUpdate[] = [];
        const accountIds = rows.map((row) => row.account_id);
        const crmRows = await readCrmCustomers(db, settings.tenantId, accountIds);
        const links = await findCustomerLinksOfAccounts(db, settings, accountIds);
        for (const row of rows) {
          const crm = crmRows.get(row.account_id);
          // The account is gone (its tenant deleting it): its outbox row went with it.
          if (!crm) continue;
          const link = links.get(row.account_id);
          if (!link) {
            outcomes.push(await create(row, crm));
            continue;
          }
          const prepared = await prepareUpdate(row, link, crm);
          if (typeof prepared === 'string') outcomes.push(prepared);
          else updates.push(prepared);
        }
        outcomes.push(...(await sendUpdates(updates)));
        return outcomes;
      },

      /** Applies support's choices on conflicts (qbsync conflicts resolve); the push that follows sends them. */
      async applyResolutions(resolved: readonly SyncConflict[]): Promise<void> {
        for (const conflict of resolved) {
          await asSync(db, async (trx) => {
            await applyResolution(trx, conflict);
            await markResolutionApplied(trx, conflict.id, deps.now());
          });
        }
      },
    };

    async function applyResolution(trx: Executor, conflict: SyncConflict): Promise<void> {
      const crm = (await readCrmCustomers(trx, settings.tenantId, [conflict.account_id])).get(conflict.account_id);
      if (!crm) return;
      const link = (await findCustomerLinksOfAccounts(trx, settings, [conflict.account_id])).get(conflict.account_id);
      const fields = fieldsOfCrm(crm);
      if (conflict.kind === 'field') {
        if (conflict.resolution === conflict.applied || conflict.field === null) return;
        const field = conflict.field as CustomerField;
        const chosen = (conflict.resolution === 'crm' ? conflict.crm_value : conflict.qbo_value) as FieldValue;
        const wanted = { ...fields, [field]: chosen } as CustomerFields;
        await writeAccounts(trx, settings, [
          { record: crmAccountWithFields(crm, link?.qbo_id ?? '', wanted), id: crm.account_id },
        ]);
        await reopenPush(trx, settings.tenantId, crm.account_id, isEmptyValue(chosen) ? [field] : []);
        return;
      }
      if (conflict.resolution === 'crm') {
        // Send it again as it stands (the other side may have been renamed or fixed meanwhile).
        await reopenPush(trx, settings.tenantId, crm.account_id, []);
        return;
      }
      // QuickBooks's side: the refused change is dropped, and the CRM takes QuickBooks's values back.
      await discardPush(trx, settings.tenantId, crm.account_id, 'support took the QuickBooks side', deps.now());
      const snapshot = link ? readSnapshot(link.synced_snapshot) : null;
      if (link && snapshot) {
        await writeAccounts(trx, settings, [
          { record: crmAccountWithFields(crm, link.qbo_id, snapshot), id: crm.account_id },
        ]);
      }
    }
  }
}

/** Outbox rows waiting, and resolutions to apply: whether a pass has anything to push. */
export async function pushesWaiting(db: Executor, tenantId: string): Promise<number> {
  return (await countPendingPushes(db, tenantId)) + (await countResolutionsToApply(db, tenantId));
}

function isRefusal(error: unknown): error is QboError {
  return error instanceof QboError && refusals.includes(error.type);
}

function sameFields(a: CustomerFields, b: CustomerFields): boolean {
  return customerFieldNames.every((field) => sameValue(a[field], b[field]));
}

/**
 * A requestid (at most 50 characters) that is the same for every retry of one push: QuickBooks
 * answers a repeated requestid with the first answer instead of acting twice.
 */
export function requestId(
  tenantId: string,
  kind: 'create' | 'update',
  ...parts: ReadonlyArray<string | number>
): string {
  const digest = createHash('sha256')
    .update([tenantId, kind, ...parts].join('\u0000'))
    .digest('base64url');
  return `qbsync-${kind === 'create' ? 'c' : 'u'}-${digest.slice(0, 40)}`;
}

export type PushActivities = ReturnType<typeof createPushActivities>;
