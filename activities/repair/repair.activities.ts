import { Context } from '@temporalio/activity';
import type { MergePair, ReconcileCounts } from '../../common/repair-types.js';
import { syncedEntities } from '../../common/sync-types.js';
import { asSync } from '../../db/crm-rules.js';
import {
  findMergeAccounts,
  listPendingMerges,
  moveAccountRows,
  moveContacts,
  moveListMemberships,
  recordMerge,
  removeMergedAccount,
  type MergeAccounts,
  type MergeRecording,
} from '../../db/repositories/merges.js';
import { customersEditedInCrm, forgetAppliedVersions } from '../../db/repositories/qbo-links.js';
import { readFullReconcileDays, type SyncSettings } from '../../db/repositories/tenants.js';
import type { Executor } from '../../db/recordset.js';
import type { SyncDeps } from '../sync/sync.activities.js';
import { connectedTenantSettings } from '../sync/tenant-settings.js';
import { classifyFailures } from '../sync/classify.js';
import { markDocumentsDeleted, writeRecords } from '../sync/crm-writer.js';
import { recordsById, referenceFetcher, transactionEntities } from '../sync/qbo-requests.js';
import { verifyTenant } from './verify-tenant.js';

/**
 * The repair's activities (R21), run by workflows/tenant-repair.ts. Each step of a merge is one
 * transaction, as the sync (R19 lets only the sync move or delete QuickBooks-list records), and
 * moves whatever the merged-away account still holds: idempotent, so a retry after a worker died,
 * or a second repair of the same merge, changes nothing more. Inputs and results are ids and counts.
 */
export interface MergesInput {
  readonly tenantId: string;
  readonly merges: readonly MergePair[];
}

export interface MergesRecorded {
  readonly recorded: number;
  readonly refused: ReadonlyArray<MergePair & { readonly reason: MergeRecording }>;
}

export interface TenantInput {
  readonly tenantId: string;
}

export interface MergeStepInput {
  readonly tenantId: string;
  readonly mergedQboId: string;
}

export interface StepResult {
  /** Rows the step changed: 0 when an earlier run already did it. */
  readonly changed: number;
}

export interface ReconcileResult extends ReconcileCounts {
  readonly fullReconcileDays: number;
}

/** Pending merges one repair takes on; more are left for the next one. */
export const maxMergesPerRepair = 20;
const heartbeatEveryMs = 3_000;

export function createRepairActivities(deps: SyncDeps) {
  const { db } = deps;

  const settingsOf = (tenantId: string) => connectedTenantSettings(db, tenantId);

  /** One step of a merge, in its own transaction; nothing to do once the merge is repaired. */
  async function mergeStep(
    input: MergeStepInput,
    step: (trx: Executor, settings: SyncSettings, accounts: MergeAccounts) => Promise<number>,
  ): Promise<StepResult> {
    const settings = await settingsOf(input.tenantId);
    const changed = await heartbeating(() =>
      asSync(db, async (trx) => {
        const accounts = await findMergeAccounts(trx, settings, input.mergedQboId);
        return accounts ? step(trx, settings, accounts) : 0;
      }),
    );
    return { changed };
  }

  /** Long QBO work: heartbeats keep it alive, and a worker that died is noticed within the heartbeat timeout. */
  async function heartbeating<T>(work: () => Promise<T>): Promise<T> {
    const context = Context.current();
    const beat = setInterval(() => context.heartbeat(), heartbeatEveryMs);
    try {
      return await work();
    } finally {
      clearInterval(beat);
    }
  }

  /**
   * Records merges named by support or a webhook. A survivor the CRM does not hold yet (never in
   * the sync's scope) is read from QBO and written first, so the merged-away account has somewhere to go.
   */
  async function recordNamedMerges(input: MergesInput): Promise<MergesRecorded> {
    const settings = await settingsOf(input.tenantId);
    let recorded = 0;
    const refused: Array<MergePair & { reason: MergeRecording }> = [];
    if (input.merges.length === 0) return { recorded, refused };
    const client = await deps.qboClientFor(input.tenantId);
    for (const pair of input.merges) {
      // A merge named by mistake would fold two live customers into one account: QBO must agree.
      const [merged] = await recordsById(client, 'Customer', [pair.mergedQboId]);
      if (!merged || merged['Active'] !== false) {
        refused.push({ ...pair, reason: 'merged-away customer still active in QuickBooks' });
        continue;
      }
      let outcome = await asSync(db, (trx) => recordMerge(trx, settings, pair));
      if (outcome === 'survivor not in the CRM') {
        const survivor = await recordsById(client, 'Customer', [pair.survivorQboId]);
        outcome = await asSync(db, async (trx) => {
          await writeRecords(trx, settings, 'Customer', survivor, referenceFetcher(client), deps.now());
          return recordMerge(trx, settings, pair);
        });
      }
      if (outcome === 'recorded' || outcome === 'already recorded') recorded += 1;
      else refused.push({ ...pair, reason: outcome });
    }
    return { recorded, refused };
  }

  return classifyFailures({
    /** Records the merges support or a webhook named (recordNamedMerges). */
    async recordMerges(input: MergesInput): Promise<MergesRecorded> {
      return heartbeating(() => recordNamedMerges(input));
    },

    /** Merges recorded and not yet repaired (named, or detected by the pull), oldest ids first. */
    async findPendingMerges(input: TenantInput): Promise<{ readonly merges: MergePair[] }> {
      const settings = await settingsOf(input.tenantId);
      return { merges: await listPendingMerges(db, settings, maxMergesPerRepair) };
    },

    async moveMergedOpportunities(input: MergeStepInput): Promise<StepResult> {
      return mergeStep(input, (trx, settings, accounts) =>
        moveAccountRows(trx, 'opportunities', settings.tenantId, accounts),
      );
    },

    async moveMergedContacts(input: MergeStepInput): Promise<StepResult> {
      return mergeStep(input, (trx, settings, accounts) =>
        moveContacts(trx, settings.tenantId, settings.quickbooksListId, accounts),
      );
    },

    async moveMergedListMemberships(input: MergeStepInput): Promise<StepResult> {
      return mergeStep(input, (trx, settings, accounts) =>
        moveListMemberships(trx, settings.tenantId, settings.quickbooksListId, accounts),
      );
    },

    async moveMergedAutomations(input: MergeStepInput): Promise<StepResult> {
      return mergeStep(input, (trx, settings, accounts) =>
        moveAccountRows(trx, 'automations', settings.tenantId, accounts),
      );
    },

    async removeMergedAccount(input: MergeStepInput): Promise<StepResult> {
      return mergeStep(input, (trx, settings, accounts) => removeMergedAccount(trx, settings, accounts));
    },

    /**
     * The full reconcile: `qbsync verify`'s comparison of every entity, then each missing or
     * different record read again from QBO and rewritten (whatever version the CRM thinks it has),
     * and each opportunity whose QBO document is gone marked deleted. Accounts, contacts and
     * catalogue rows QBO no longer lists are left alone (R19, R22). Run again, it finds nothing.
     */
    async reconcileTenant(input: TenantInput): Promise<ReconcileResult> {
      const settings = await settingsOf(input.tenantId);
      const fullReconcileDays = await readFullReconcileDays(db, input.tenantId);
      return heartbeating(async () => {
        const client = await deps.qboClientFor(input.tenantId);
        const report = await verifyTenant(db, client, input.tenantId);
        let rewritten = 0;
        let deleted = 0;
        let keptCrmEdits = 0;
        for (const entity of syncedEntities) {
          const found = report.records
            .filter((r) => r.entity === entity && (r.kind === 'missing' || r.kind === 'different'))
            .map((r) => r.qboId);
          // Two-way: a customer edited in the CRM since the sync wrote it waits for the push, not QBO's version.
          const edited =
            entity === 'Customer' && settings.mode === 'two_way'
              ? await customersEditedInCrm(db, settings, found)
              : new Set<string>();
          const differing = found.filter((id) => !edited.has(id));
          keptCrmEdits += edited.size;
          if (differing.length > 0) {
            const records = await recordsById(client, entity, differing);
            const counts = await asSync(db, async (trx) => {
              await forgetAppliedVersions(trx, settings, entity, differing);
              return writeRecords(trx, settings, entity, records, referenceFetcher(client), deps.now());
            });
            rewritten += counts.written;
          }
          // Links to another company (fields name its realm) are not this company's to judge.
          const gone = report.records
            .filter((r) => r.entity === entity && r.kind === 'extra' && r.fields.length === 0)
            .map((r) => r.qboId);
          if (gone.length > 0 && transactionEntities.includes(entity)) {
            deleted += await asSync(db, (trx) => markDocumentsDeleted(trx, settings, entity, gone, deps.now()));
          }
        }
        const compared = Object.values(report.counts).reduce((sum, count) => sum + count.qbo, 0);
        return {
          compared,
          missing: report.missing,
          different: report.different,
          extra: report.extra,
          failed: report.failed,
          rewritten,
          deleted,
          keptCrmEdits,
          fullReconcileDays,
        };
      });
    },
  });
}

export type RepairActivities = ReturnType<typeof createRepairActivities>;
