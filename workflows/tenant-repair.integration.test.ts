import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { eventType, eventTypes, stubbedTenants, until, type StubbedTenant } from '../test/workflow-scenarios.js';
import { repairSignal, repairUpdate, statusQuery, syncNowUpdate } from './definitions.js';

/**
 * The repair child workflow (R21, workflows/tenant-repair.ts), started by the tenant workflow
 * between passes, with stub activities on the real Temporal dev server.
 */
const tenants = stubbedTenants(inject('temporalAddress'));
const start = tenants.start;
const types = eventTypes;

afterEach(() => tenants.stopAll());

describe('tenant repair workflow (stub activities)', () => {
  const pair = { survivorQboId: '7', mergedQboId: '12' };
  const mergeSteps = [
    'moveMergedOpportunities:12',
    'moveMergedContacts:12',
    'moveMergedListMemberships:12',
    'moveMergedAutomations:12',
    'removeMergedAccount:12',
  ];

  async function incremental(tenant: StubbedTenant) {
    return until('the first incremental pass', async () => {
      const status = await tenant.handle.query(statusQuery);
      return status.phase === 'incremental' && status.lastPass ? status : undefined;
    });
  }

  it('R21: the repair update starts a child workflow between passes, with its own history, and answers what it fixed', async () => {
    const tenant = await start(
      { pagesPerEntity: 1, pendingMerges: (call) => (call === 0 ? [pair] : []) },
      { pollIntervalSeconds: 3600 },
    );
    await incremental(tenant);
    for (const bad of [
      { kind: 'merge', survivorQboId: '7' },
      { kind: 'merge', survivorQboId: '7', mergedQboId: 'x12' },
      { kind: 'merge', survivorQboId: '7', mergedQboId: '7' },
      { kind: 'everything' },
    ]) {
      await expect(
        tenant.handle.executeUpdate(repairUpdate, { args: [{ requestedBy: 'test', ...bad } as never] }),
      ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    }
    const outcome = await tenant.handle.executeUpdate(repairUpdate, {
      args: [{ kind: 'merge', requestedBy: 'test', ...pair }],
    });
    expect(outcome.outcome).toBe('repaired');
    expect(outcome.result).toMatchObject({
      kind: 'merge',
      workflowId: `${tenant.handle.workflowId.replace('tenant-sync-', 'tenant-repair-')}-1`,
      mergesRepaired: 1,
      opportunitiesMoved: 1,
      contactsMoved: 1,
      listMembershipsMoved: 1,
      automationsMoved: 1,
      accountsRemoved: 1,
      reconcile: null,
    });
    expect(tenant.calls.repairs).toEqual(['recordMerges:7<-12', 'findPendingMerges', ...mergeSteps]);
    // The child's history is its own, and each of its activities says what it does in the UI.
    const child = tenant.client.workflow.getHandle(outcome.result!.workflowId);
    expect((await child.describe()).status.name).toBe('COMPLETED');
    const summaries = ((await child.fetchHistory()).events ?? [])
      .filter((event) => eventType(event) === types.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
      .map((event) => event.userMetadata?.summary?.data);
    expect(summaries).toHaveLength(7);
    for (const summary of summaries) expect(summary && Buffer.from(summary).toString()).toMatch(/customer|merge/);
    // The sync goes on after the repair; a second repair is a new child.
    await tenant.handle.executeUpdate(syncNowUpdate, { args: [{ reason: 'test', wait: true }] });
    const full = await tenant.handle.executeUpdate(repairUpdate, { args: [{ kind: 'full', requestedBy: 'test' }] });
    expect(full.result).toMatchObject({ kind: 'full', reconcile: { rewritten: 2 }, mergesRepaired: 0 });
    expect(full.result?.workflowId).toMatch(/-2$/);
    const status = await tenant.handle.query(statusQuery);
    expect(status.pendingRepairs).toEqual([]);
    expect(Date.parse(status.nextFullReconcileAt!) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
  });

  it('R21: a webhook-style repair signal and a merge detected in the pull each start a repair', async () => {
    const tenant = await start(
      {
        pagesPerEntity: 1,
        incremental: (call) => (call === 1 ? 'changes' : 'idle'),
        mergesPendingAfter: () => 1,
        pendingMerges: (call) => (call === 0 ? [] : call === 1 ? [pair] : []),
      },
      { pollIntervalSeconds: 3600 },
    );
    await incremental(tenant);
    await tenant.handle.signal(repairSignal, { requestedBy: 'webhook', ...pair });
    await until('the signalled repair', async () =>
      (await tenant.handle.query(statusQuery)).lastRepair?.outcome === 'repaired' ? true : undefined,
    );
    expect(tenant.calls.repairs).toEqual(['recordMerges:7<-12', 'findPendingMerges']);
    // A pass that wrote changes reports a merge it recorded: the workflow repairs it next, unasked.
    await tenant.handle.executeUpdate(syncNowUpdate, { args: [{ reason: 'test', wait: true }] });
    const status = await until('the detected merge repaired', async () => {
      const status = await tenant.handle.query(statusQuery);
      return status.lastRepair?.result?.workflowId.endsWith('-2') ? status : undefined;
    });
    expect(tenant.calls.repairs.slice(2)).toEqual(['findPendingMerges', ...mergeSteps]);
    expect(status.lastRepair?.result).toMatchObject({ kind: 'merge', mergesRepaired: 1, accountsRemoved: 1 });
  });
});
