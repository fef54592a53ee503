import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Client, WorkflowHandle } from '@temporalio/client';
import protos from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { PushActivities } from '../activities/push/push.activities.js';
import type { RepairActivities } from '../activities/repair/repair.activities.js';
import type { SyncActivities } from '../activities/sync/sync.activities.js';
import type { MergePair } from '../common/repair-types.js';
import { syncedEntities, type SyncedEntity, type SyncMode } from '../common/sync-types.js';
import { ensureWorkflowBundle } from '../worker/workflow-bundle.js';
import { tenantSyncWorkflowType, type TenantSyncInput } from '../workflows/definitions.js';

/**
 * The tenant workflow run against stub activities on the real Temporal dev server: what the
 * workflow tests assert on, and what test/record-histories.ts records for the replay test.
 * The stubs keep the shapes of the real activities and count every call.
 */
export interface StubBehaviour {
  /** Pages each entity takes in a backfill. */
  pagesPerEntity?: number;
  /** beginSyncPass answers as workers did before issue 16: no estimates, so the workflow asks estimateEntityTotal. */
  beginWithoutEstimates?: boolean;
  /** What incrementalPass does on its n-th call (0-based): an idle pass unless this says otherwise. */
  incremental?: (call: number) => 'idle' | 'changes' | 'by-query' | { fail: string; nonRetryable?: boolean };
  /** What syncEntityPage does: fail with a type on the listed call numbers (0-based, over all entities). */
  failPageCalls?: ReadonlyMap<number, string>;
  /** Milliseconds each page takes, to leave time for a pause to land mid-pass. */
  pageDelayMs?: number;
  /** CRM changes an applied incremental pass reports waiting, on its n-th call (0-based); none by default. */
  pushesWaiting?: (call: number) => number;
  /** What the n-th push call (0-based) leaves remaining; 0 by default. */
  pushRemaining?: (call: number) => number;
  /** Merges the sync reports pending after the n-th incremental pass (0-based) that wrote changes. */
  mergesPendingAfter?: (call: number) => number;
  /** What findPendingMerges answers on its n-th call (0-based); none by default. */
  pendingMerges?: (call: number) => MergePair[];
}

export interface StubCalls {
  begin: number;
  pages: Array<{ entity: SyncedEntity; overlap: boolean }>;
  /** The most page activities that ran at once. */
  pagesAtOnce: number;
  incremental: number;
  finish: Array<{ passId: number; status: string }>;
  modes: SyncMode[];
  estimates: number;
  pushes: number;
  /** The repair activities called, in order, as `name` or `name:mergedQboId`. */
  repairs: string[];
}

export function stubActivities(
  behaviour: StubBehaviour,
  calls: StubCalls,
): SyncActivities & PushActivities & RepairActivities {
  const pagesPerEntity = behaviour.pagesPerEntity ?? 2;
  const pageOf = new Map<SyncedEntity, number>();
  let passIds = 0;
  let pagesRunning = 0;
  const counts = (written: number) => ({ written, unchanged: 0, skipped: 0, deleted: 0, failed: 0 });
  const activities = {
    async beginSyncPass() {
      calls.begin += 1;
      passIds += 1;
      const opened = { passId: passIds, until: '2026-11-30T12:00:00.000Z' };
      if (behaviour.beginWithoutEstimates) return opened;
      return {
        ...opened,
        estimates: Object.fromEntries(syncedEntities.map((entity) => [entity, pagesPerEntity * 10])),
      };
    },
    async finishSyncPass(input: { passId: number; status: string }) {
      calls.finish.push({ passId: input.passId, status: input.status });
      return { openErrors: 0 };
    },
    async estimateEntityTotal() {
      calls.estimates += 1;
      return pagesPerEntity * 10;
    },
    async syncEntityPage(input: { entity: SyncedEntity; overlap: boolean }) {
      const call = calls.pages.length;
      calls.pages.push({ entity: input.entity, overlap: input.overlap });
      pagesRunning += 1;
      calls.pagesAtOnce = Math.max(calls.pagesAtOnce, pagesRunning);
      if (behaviour.pageDelayMs) await new Promise((resolve) => setTimeout(resolve, behaviour.pageDelayMs));
      pagesRunning -= 1;
      const failure = behaviour.failPageCalls?.get(call);
      if (failure) throw ApplicationFailure.create({ type: failure, message: `stub: ${failure}`, nonRetryable: true });
      const page = (pageOf.get(input.entity) ?? 0) + 1;
      const done = page >= pagesPerEntity;
      pageOf.set(input.entity, done ? 0 : page);
      return { counts: counts(10), cursor: `2026-11-30T0${page % 10}:00:00.000Z`, done, window: 'stub' };
    },
    async reconcileDeletedDocuments() {
      return { deleted: 0, requests: 0 };
    },
    async incrementalPass() {
      const call = calls.incremental;
      calls.incremental += 1;
      const what = behaviour.incremental?.(call) ?? 'idle';
      if (typeof what === 'object') {
        throw ApplicationFailure.create({
          type: what.fail,
          message: `stub: ${what.fail}`,
          nonRetryable: what.nonRetryable ?? true,
        });
      }
      passIds += 1;
      if (what === 'by-query') {
        return { kind: 'by-query' as const, passId: passIds, until: '2026-11-30T12:00:00.000Z', reason: 'stub' };
      }
      const at = new Date().toISOString();
      const mergesPending = what === 'changes' ? (behaviour.mergesPendingAfter?.(call) ?? 0) : 0;
      return {
        kind: 'applied' as const,
        passId: passIds,
        counts: counts(what === 'changes' ? 3 : 0),
        cursor: at,
        openErrors: 0,
        startedAt: at,
        finishedAt: at,
        pushesWaiting: behaviour.pushesWaiting?.(call) ?? 0,
        ...(mergesPending > 0 ? { mergesPending } : {}),
      };
    },
    async pushCustomerChanges() {
      const call = calls.pushes;
      calls.pushes += 1;
      return {
        created: 1,
        updated: 1,
        unchanged: 0,
        refused: 0,
        conflicts: 0,
        remaining: behaviour.pushRemaining?.(call) ?? 0,
      };
    },
    async applyTenantMode(input: { mode: SyncMode }) {
      calls.modes.push(input.mode);
    },
    async recordMerges(input: { merges: MergePair[] }) {
      calls.repairs.push(`recordMerges:${input.merges.map((m) => `${m.survivorQboId}<-${m.mergedQboId}`).join(',')}`);
      return { recorded: input.merges.length, refused: [] };
    },
    async findPendingMerges() {
      const call = calls.repairs.filter((name) => name === 'findPendingMerges').length;
      calls.repairs.push('findPendingMerges');
      return { merges: behaviour.pendingMerges?.(call) ?? [] };
    },
    ...Object.fromEntries(
      [
        'moveMergedOpportunities',
        'moveMergedContacts',
        'moveMergedListMemberships',
        'moveMergedAutomations',
        'removeMergedAccount',
      ].map((name) => [
        name,
        async (input: { mergedQboId: string }) => {
          calls.repairs.push(`${name}:${input.mergedQboId}`);
          return { changed: 1 };
        },
      ]),
    ),
    async reconcileTenant() {
      calls.repairs.push('reconcileTenant');
      return {
        compared: 10,
        missing: 1,
        different: 1,
        extra: 0,
        failed: 0,
        rewritten: 2,
        deleted: 0,
        keptCrmEdits: 0,
        fullReconcileDays: 7,
      };
    },
  };
  return activities as unknown as SyncActivities & PushActivities & RepairActivities;
}

export function noCalls(): StubCalls {
  return {
    begin: 0,
    pages: [],
    pagesAtOnce: 0,
    incremental: 0,
    finish: [],
    modes: [],
    estimates: 0,
    pushes: 0,
    repairs: [],
  };
}

export interface StubbedTenant {
  readonly client: Client;
  readonly handle: WorkflowHandle;
  readonly calls: StubCalls;
  readonly taskQueue: string;
  /** Stops the worker (and with it the workflow's progress) and closes the connections. */
  stop(): Promise<void>;
}

/** Starts a worker with stub activities on its own task queue, and the tenant workflow on it. */
export async function startStubbedTenant(options: {
  readonly address: string;
  readonly behaviour: StubBehaviour;
  readonly input?: Partial<TenantSyncInput>;
}): Promise<StubbedTenant> {
  const taskQueue = `workflow-test-${randomUUID()}`;
  const calls = noCalls();
  // The shared dev server of the run (the time-skipping test server cannot be had here).
  const env = await TestWorkflowEnvironment.createFromExistingServer({
    address: options.address,
    namespace: 'default',
  });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle: { codePath: await ensureWorkflowBundle() },
    activities: stubActivities(options.behaviour, calls),
  });
  const running = worker.run();
  const client = env.client;
  const tenantId = `wf-${randomUUID().slice(0, 8)}`;
  const handle = await client.workflow.start(tenantSyncWorkflowType, {
    taskQueue,
    workflowId: `tenant-sync-${tenantId}`,
    args: [{ tenantId, realmId: 'realm-1', mode: 'two_way', ...options.input } satisfies TenantSyncInput],
  });
  return {
    client,
    handle,
    calls,
    taskQueue,
    async stop() {
      await handle.terminate('test over').catch(() => undefined);
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}

export { syncedEntities };

/**
 * Stubbed tenants for one test file: start() starts one, stopAll() (in afterEach) stops every one
 * started since.
 */
export function stubbedTenants(address: string) {
  const running: StubbedTenant[] = [];
  return {
    async start(behaviour: StubBehaviour, input: Partial<TenantSyncInput> = {}): Promise<StubbedTenant> {
      const tenant = await startStubbedTenant({ address, behaviour, input });
      running.push(tenant);
      return tenant;
    },
    async stopAll(): Promise<void> {
      await Promise.all(running.splice(0).map((tenant) => tenant.stop()));
    },
  };
}

/** Polls until probe gives a value, or fails naming what it waited for. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// The default import: the package is CommonJS, and tsx (record-histories.ts) sees no named exports.
const { temporal } = protos;
export type HistoryEvent = protos.temporal.api.history.v1.IHistoryEvent;
export const eventTypes = temporal.api.enums.v1.EventType;

export function eventType(event: HistoryEvent): number {
  return Number(event.eventType ?? 0);
}
