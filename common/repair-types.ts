/**
 * The repair (R21): what the tenant workflow asks of its repair child and what the child answers.
 * Workflow-safe plain data: QBO ids and counts, never a record.
 */

/** Days between scheduled full reconciles when the tenant's setting has not been read yet (the migration's default). */
export const defaultFullReconcileDays = 7;
export const maxFullReconcileDays = 365;

/** A merge repairs one QBO customer merge (or every one found); a full reconcile compares and fixes everything. */
export type RepairKind = 'merge' | 'full';

export interface MergePair {
  /** The customer that survived the merge in QBO. */
  readonly survivorQboId: string;
  /** The customer merged into it (QBO's `deletedId`), inactive since. */
  readonly mergedQboId: string;
}

export interface TenantRepairInput {
  readonly tenantId: string;
  readonly kind: RepairKind;
  /** Merges named by whoever asked (support, a webhook); merges already recorded are found as well. */
  readonly merges: readonly MergePair[];
}

/** What a full reconcile found and did, per kind of difference. */
export interface ReconcileCounts {
  /** Records QBO holds in the sync's scope, all entities together. */
  readonly compared: number;
  readonly missing: number;
  readonly different: number;
  readonly extra: number;
  /** Records QBO holds that cannot be written (in the error table): left as they are. */
  readonly failed: number;
  /** Missing and different records written again from QBO. */
  readonly rewritten: number;
  /** Extra opportunities whose QBO document is gone, marked deleted. */
  readonly deleted: number;
  /** Two-way: customers edited in the CRM and not pushed yet, left for the push rather than overwritten. */
  readonly keptCrmEdits: number;
}

/** What one repair fixed: counts per kind, for the CLI and the Temporal UI. */
export interface RepairCounts {
  readonly mergesRepaired: number;
  readonly opportunitiesMoved: number;
  readonly contactsMoved: number;
  readonly listMembershipsMoved: number;
  readonly automationsMoved: number;
  readonly accountsRemoved: number;
  /** Merges named that could not be recorded, with why (at most a few). */
  readonly mergesRefused: ReadonlyArray<MergePair & { readonly reason: string }>;
  readonly reconcile: ReconcileCounts | null;
}

export interface RepairResult extends RepairCounts {
  readonly kind: RepairKind;
  /** The child workflow that ran it, to find its history in the Temporal UI. */
  readonly workflowId: string;
  /** The tenant's setting at the time (days between scheduled full reconciles, 0: none). */
  readonly fullReconcileDays: number;
}

/** What the repair update answers: the repair that served the request, or why none did. */
export interface RepairOutcome {
  readonly outcome: 'repaired' | 'failed' | 'requested';
  readonly result: RepairResult | null;
  readonly error: string | null;
}

/** "2 merges repaired: 5 opportunities, 3 contacts, …": what a repair did, in one line. */
export function describeRepair(result: RepairCounts): string {
  const parts = [
    `${result.mergesRepaired} ${result.mergesRepaired === 1 ? 'merge' : 'merges'} repaired`,
    `${result.opportunitiesMoved} opportunities moved`,
    `${result.contactsMoved} contacts moved`,
    `${result.listMembershipsMoved} list memberships moved`,
    `${result.automationsMoved} automations re-pointed`,
    `${result.accountsRemoved} duplicate accounts removed`,
  ];
  const reconcile = result.reconcile;
  if (reconcile) {
    parts.push(
      `reconcile: ${reconcile.compared} compared, ${reconcile.missing} missing, ${reconcile.different} different, ${reconcile.extra} extra, ${reconcile.failed} failed; ${reconcile.rewritten} rewritten, ${reconcile.deleted} marked deleted${reconcile.keptCrmEdits ? `, ${reconcile.keptCrmEdits} CRM edits left for the push` : ''}`,
    );
  }
  return parts.join(', ');
}
