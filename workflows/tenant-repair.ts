import { setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import {
  defaultFullReconcileDays,
  describeRepair,
  type MergePair,
  type ReconcileCounts,
  type RepairResult,
  type TenantRepairInput,
} from '../common/repair-types.js';
import { reconcileActivity, repairSteps as steps } from './activity-options.js';

/**
 * One repair of a tenant (R21), started by its tenant sync workflow between passes, with a history
 * of its own: a merge repair records the merges it was given, then repairs every recorded merge
 * (named ones and those the pull detected); a full reconcile first compares every entity with QBO
 * and rewrites what differs, then repairs the merges too. Each activity is one idempotent step,
 * so the whole repair can be run again, or resumed after a worker died, without changing more.
 */
export async function tenantRepairWorkflow(input: TenantRepairInput): Promise<RepairResult> {
  const { tenantId } = input;
  const totals = {
    mergesRepaired: 0,
    opportunitiesMoved: 0,
    contactsMoved: 0,
    listMembershipsMoved: 0,
    automationsMoved: 0,
    accountsRemoved: 0,
  };
  let reconciled: ReconcileCounts | null = null;
  let fullReconcileDays = defaultFullReconcileDays;
  const show = (what: string) =>
    setCurrentDetails(
      `**${input.kind === 'full' ? 'full reconcile' : 'merge repair'}** of ${tenantId}: ${what}\n\n${describeRepair({ ...totals, mergesRefused: [], reconcile: reconciled })}`,
    );

  if (input.kind === 'full') {
    show('comparing every entity with QuickBooks');
    const result = await reconcileActivity.executeWithOptions(
      { summary: 'compare every entity with QuickBooks and rewrite what differs' },
      [{ tenantId }],
    );
    const { fullReconcileDays: days, ...counts } = result;
    reconciled = counts;
    fullReconcileDays = days;
  }

  const named = input.merges.length
    ? await steps.recordMerges.executeWithOptions({ summary: `record ${input.merges.map(describePair).join(', ')}` }, [
        { tenantId, merges: input.merges },
      ])
    : { recorded: 0, refused: [] };

  show('finding the merges to repair');
  const { merges } = await steps.findPendingMerges.executeWithOptions({ summary: 'merges recorded, not repaired' }, [
    { tenantId },
  ]);
  for (const pair of merges) {
    show(`repairing ${describePair(pair)}`);
    const step = { tenantId, mergedQboId: pair.mergedQboId };
    const of = `customer ${pair.mergedQboId} to ${pair.survivorQboId}`;
    const moved = async (name: keyof typeof totals, activity: typeof steps.moveMergedOpportunities, what: string) => {
      const result = await activity.executeWithOptions({ summary: `${what} of ${of}` }, [step]);
      totals[name] += result.changed;
    };
    await moved('opportunitiesMoved', steps.moveMergedOpportunities, 'opportunities');
    await moved('contactsMoved', steps.moveMergedContacts, 'contacts');
    await moved('listMembershipsMoved', steps.moveMergedListMemberships, 'list memberships');
    await moved('automationsMoved', steps.moveMergedAutomations, 'automations');
    const removed = await steps.removeMergedAccount.executeWithOptions(
      { summary: `remove the duplicate account of customer ${pair.mergedQboId}` },
      [step],
    );
    totals.accountsRemoved += removed.changed;
    totals.mergesRepaired += 1;
  }
  const result: RepairResult = {
    kind: input.kind,
    workflowId: workflowInfo().workflowId,
    ...totals,
    mergesRefused: named.refused.slice(0, 5).map(({ survivorQboId, mergedQboId, reason }) => ({
      survivorQboId,
      mergedQboId,
      reason,
    })),
    reconcile: reconciled,
    fullReconcileDays,
  };
  show('done');
  return result;
}

function describePair(pair: MergePair): string {
  return `merge of customer ${pair.mergedQboId} into ${pair.survivorQboId}`;
}
