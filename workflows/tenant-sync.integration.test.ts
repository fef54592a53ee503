import { WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  eventType,
  eventTypes,
  stubbedTenants,
  syncedEntities,
  until,
  type HistoryEvent,
} from '../test/workflow-scenarios.js';
import {
  pauseUpdate,
  resumeUpdate,
  setModeUpdate,
  setPollIntervalUpdate,
  statusQuery,
  syncNowUpdate,
} from './definitions.js';

/**
 * The tenant workflow's decisions, with stub activities on the real Temporal dev server. The
 * CLI's dev server cannot skip time (the SDK's time-skipping server is a separate download that
 * this machine cannot reach), so the tests shorten the workflow's intervals through its input and
 * assert on the durations the workflow asked for in its history, not on wall time.
 */
const tenants = stubbedTenants(inject('temporalAddress'));
const start = tenants.start;

afterEach(() => tenants.stopAll());

const EventType = {
  TimerStarted: eventTypes.EVENT_TYPE_TIMER_STARTED,
  MarkerRecorded: eventTypes.EVENT_TYPE_MARKER_RECORDED,
  WorkflowTaskFailed: eventTypes.EVENT_TYPE_WORKFLOW_TASK_FAILED,
} as const;

async function runsOf(client: Client, workflowId: string): Promise<HistoryEvent[][]> {
  const runs: HistoryEvent[][] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const history = await client.workflow.getHandle(workflowId, execution.runId).fetchHistory();
    runs.push(history.events ?? []);
  }
  return runs;
}

function timerSeconds(events: HistoryEvent[]): number[] {
  return events
    .filter((event) => eventType(event) === EventType.TimerStarted)
    .map((event) => Number(event.timerStartedEventAttributes?.startToFireTimeout?.seconds ?? 0));
}

describe('tenant sync workflow (stub activities)', () => {
  it('R24: pause and resume are updates that answer the state they applied; a paused tenant calls no activity', async () => {
    const tenant = await start({ pagesPerEntity: 1 }, { pollIntervalSeconds: 1 });
    await until('the backfill', async () =>
      (await tenant.handle.query(statusQuery)).phase === 'incremental' ? true : undefined,
    );
    const paused = await tenant.handle.executeUpdate(pauseUpdate, { args: [{ reason: 'support: test' }] });
    expect(paused).toMatchObject({ paused: true, pausedReason: 'support: test', phase: 'incremental' });
    const callsWhenPaused = tenant.calls.incremental;
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(tenant.calls.incremental).toBe(callsWhenPaused);
    await expect(tenant.handle.executeUpdate(syncNowUpdate, { args: [{ reason: 'test' }] })).rejects.toBeInstanceOf(
      WorkflowUpdateFailedError,
    );
    const resumed = await tenant.handle.executeUpdate(resumeUpdate);
    expect(resumed).toMatchObject({ paused: false, pausedReason: null });
    await until('a pass after resume', async () => (tenant.calls.incremental > callsWhenPaused ? true : undefined));
    await expect(tenant.handle.executeUpdate(resumeUpdate)).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
  });

  it('R24: a pause that lands mid-pass ends the pass as cancelled, never leaving it running', async () => {
    const tenant = await start({ pagesPerEntity: 50, pageDelayMs: 100 });
    await until('a few pages', async () => (tenant.calls.pages.length >= 3 ? true : undefined));
    await tenant.handle.executeUpdate(pauseUpdate, { args: [{ reason: 'support' }] });
    await until('the pass to end', async () => (tenant.calls.finish.length > 0 ? true : undefined));
    expect(tenant.calls.finish).toEqual([{ passId: 1, status: 'cancelled' }]);
  });

  it('R23: failed passes back off, doubling up to the maximum, and a success resets the backoff', async () => {
    const failures = 3;
    const tenant = await start(
      {
        pagesPerEntity: 1,
        incremental: (call) => (call < failures ? { fail: 'QboServerFault' } : 'idle'),
      },
      { pollIntervalSeconds: 30, retryDelaySeconds: 1, maxRetryDelaySeconds: 2 },
    );
    const status = await until('the backoff to reset', async () => {
      const status = await tenant.handle.query(statusQuery);
      return tenant.calls.incremental > failures && status.consecutiveFailures === 0 ? status : undefined;
    });
    expect(status.nextAttemptAt).toBeNull();
    expect(status.lastError).toBeNull();
    const [run] = await runsOf(tenant.client, tenant.handle.workflowId);
    // The backfill's first incremental pass runs at once; each failure then waits 1, 2 (doubled),
    // 2 (the maximum) s, and the success after them waits the poll interval.
    expect(timerSeconds(run!)).toEqual([1, 2, 2, 30]);
  });

  it('R23: status shows when the next try comes after a failed pass', async () => {
    const tenant = await start(
      { pagesPerEntity: 1, incremental: () => ({ fail: 'QboServerFault' }) },
      { retryDelaySeconds: 60 },
    );
    const status = await until('a failed pass', async () => {
      const status = await tenant.handle.query(statusQuery);
      return status.consecutiveFailures > 0 ? status : undefined;
    });
    expect(status.lastError).toMatch(/^QboServerFault: /);
    expect(Date.parse(status.nextAttemptAt!) - Date.now()).toBeGreaterThan(50_000);
    expect(tenant.calls.incremental).toBe(1);
  });

  it('R23: a failure of no known type is a bug: it fails the workflow task and counts no failed pass', async () => {
    const tenant = await start({ pagesPerEntity: 1, incremental: () => ({ fail: 'TypeError' }) });
    const events = await until('a failed workflow task', async () => {
      const history = (await tenant.handle.fetchHistory()).events ?? [];
      return history.some((event) => eventType(event) === EventType.WorkflowTaskFailed) ? history : undefined;
    });
    const failed = events.find((event) => eventType(event) === EventType.WorkflowTaskFailed);
    expect(failed?.workflowTaskFailedEventAttributes?.failure?.message).toMatch(/unclassified failure in a pass/);
    expect((await tenant.handle.describe()).status.name).toBe('RUNNING');
    expect(timerSeconds(events)).toEqual([]);
  });

  it('R23: continue-as-new between pages of a backfill: every run stays under the limit and no page is read twice', async () => {
    const pagesPerEntity = 12;
    const limit = 60;
    const tenant = await start({ pagesPerEntity }, { continueAsNewAfterEvents: limit, pollIntervalSeconds: 3600 });
    await until(
      'the backfill to end',
      async () => ((await tenant.handle.query(statusQuery)).phase === 'incremental' ? true : undefined),
      60_000,
    );
    const runs = await runsOf(tenant.client, tenant.handle.workflowId);
    expect(runs.length).toBeGreaterThan(3);
    // The check runs before each page: a run ends within one page (about 8 events) past the limit,
    // one page for each of the four document entities read side by side.
    for (const run of runs) expect(run.length).toBeLessThan(limit + 4 * 12);
    expect(tenant.calls.pages).toHaveLength(pagesPerEntity * syncedEntities.length);
    expect(tenant.calls.begin).toBe(1);
    // Issue 16: the estimates came with the pass's opening and crossed the runs with it.
    expect(tenant.calls.estimates).toBe(0);
    const { entities } = await tenant.handle.query(statusQuery);
    for (const entity of syncedEntities) expect(entities[entity].total).toBe(pagesPerEntity * 10);
    expect(tenant.calls.finish).toEqual([{ passId: 1, status: 'succeeded' }]);
  });

  it('issue 16: the four document entities are read side by side, after items and customers; a failure in one fails the pass with its own type', async () => {
    const tenant = await start({ pagesPerEntity: 2, pageDelayMs: 1000 }, { pollIntervalSeconds: 3600 });
    await until('the backfill to end', async () =>
      (await tenant.handle.query(statusQuery)).phase === 'incremental' ? true : undefined,
    );
    const entities = tenant.calls.pages.map((page) => page.entity);
    expect(entities.slice(0, 4)).toEqual(['Item', 'Item', 'Customer', 'Customer']);
    expect(new Set(entities.slice(4, 8))).toEqual(new Set(['Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt']));
    expect(tenant.calls.pagesAtOnce).toBe(4);
    expect(tenant.calls.finish).toEqual([{ passId: 1, status: 'succeeded' }]);

    // A document page fails while its three siblings are in flight: they are cancelled, and the pass
    // fails as the failing page did, not as a cancellation (which would end the workflow instead).
    const failing = await start(
      { pagesPerEntity: 2, pageDelayMs: 300, failPageCalls: new Map([[5, 'QboServerFault']]) },
      { pollIntervalSeconds: 3600, retryDelaySeconds: 3600 },
    );
    await until('the pass to fail', async () => (failing.calls.finish.length > 0 ? true : undefined));
    expect(failing.calls.finish).toEqual([{ passId: 1, status: 'failed' }]);
    const status = await failing.handle.query(statusQuery);
    expect(status.lastError).toMatch(/^QboServerFault: /);
    expect(status.phase).toBe('backfill');
    expect((await failing.handle.describe()).status.name).toBe('RUNNING');
  });

  it('issue 16: a pass opened without estimates (a worker from before) asks estimateEntityTotal at each entity', async () => {
    const tenant = await start(
      { pagesPerEntity: 3, beginWithoutEstimates: true },
      { continueAsNewAfterEvents: 40, pollIntervalSeconds: 3600 },
    );
    await until(
      'the backfill to end',
      async () => ((await tenant.handle.query(statusQuery)).phase === 'incremental' ? true : undefined),
      60_000,
    );
    expect(tenant.calls.estimates).toBe(syncedEntities.length);
    const { entities } = await tenant.handle.query(statusQuery);
    for (const entity of syncedEntities) expect(entities[entity].total).toBe(30);
  });

  it('R24, R8: mode switch is an update that applies the one-way lock before answering; an unknown mode is refused', async () => {
    const tenant = await start({ pagesPerEntity: 1 });
    const applied = await tenant.handle.executeUpdate(setModeUpdate, { args: [{ mode: 'one_way' }] });
    expect(applied.mode).toBe('one_way');
    expect(tenant.calls.modes).toEqual(['one_way']);
    await expect(
      tenant.handle.executeUpdate(setModeUpdate, { args: [{ mode: 'sideways' as 'one_way' }] }),
    ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    expect((await tenant.handle.executeUpdate(setModeUpdate, { args: [{ mode: 'two_way' }] })).mode).toBe('two_way');
    expect(tenant.calls.modes).toEqual(['one_way', 'two_way']);
  });

  it('R23: the poll interval is a per-tenant setting, changed by an update and applied to the wait under way', async () => {
    const tenant = await start({ pagesPerEntity: 1 }, { pollIntervalSeconds: 3600 });
    await until('the first incremental pass', async () => (tenant.calls.incremental >= 1 ? true : undefined));
    await expect(tenant.handle.executeUpdate(setPollIntervalUpdate, { args: [{ seconds: 2 }] })).rejects.toBeInstanceOf(
      WorkflowUpdateFailedError,
    );
    const applied = await tenant.handle.executeUpdate(setPollIntervalUpdate, { args: [{ seconds: 10 }] });
    expect(applied.pollIntervalSeconds).toBe(10);
    expect((await tenant.handle.query(statusQuery)).pollIntervalSeconds).toBe(10);
    await until('a pass 10 s later', async () => (tenant.calls.incremental >= 2 ? true : undefined), 20_000);
  });

  it('R23: sync-now with wait answers once the pass it asked for has ended, and how it ended', async () => {
    let failNext = false;
    const tenant = await start(
      { pagesPerEntity: 1, incremental: () => (failNext ? { fail: 'QboNetwork' } : 'changes') },
      { pollIntervalSeconds: 3600 },
    );
    await until('the first incremental pass', async () => (tenant.calls.incremental >= 1 ? true : undefined));
    const ok = await tenant.handle.executeUpdate(syncNowUpdate, { args: [{ reason: 'test', wait: true }] });
    expect(ok).toMatchObject({ outcome: 'succeeded', lastError: null });
    expect(ok.lastPass?.changed).toBe(3);
    failNext = true;
    const failed = await tenant.handle.executeUpdate(syncNowUpdate, { args: [{ reason: 'test', wait: true }] });
    expect(failed.outcome).toBe('failed');
    expect(failed.lastError).toMatch(/^QboNetwork: /);
  });

  it('R23: an idle incremental pass adds at most 6 history events', async () => {
    const tenant = await start({ pagesPerEntity: 1 }, { pollIntervalSeconds: 1 });
    await until('five idle passes', async () => (tenant.calls.incremental >= 6 ? true : undefined));
    const events = (await tenant.handle.fetchHistory()).events ?? [];
    const markers = events
      .map((event, index) =>
        // Local activities' markers; the backfill's version marker (patched) is no pass.
        eventType(event) === EventType.MarkerRecorded &&
        event.markerRecordedEventAttributes?.markerName !== 'core_patch'
          ? index
          : -1,
      )
      .filter((index) => index >= 0);
    const perPass = markers.slice(1).map((index, n) => index - markers[n]!);
    console.log(`events per idle pass: ${perPass.join(', ')}`);
    expect(perPass.length).toBeGreaterThanOrEqual(4);
    for (const count of perPass) expect(count).toBeLessThanOrEqual(6);
  });

  it('R7: the push runs after the pull only when CRM changes wait, until none remain; an idle pass pushes nothing', async () => {
    const tenant = await start(
      {
        pagesPerEntity: 1,
        pushesWaiting: (call) => (call === 2 ? 250 : 0),
        pushRemaining: (call) => [0, 150, 50, 0][call] ?? 0,
      },
      { pollIntervalSeconds: 1 },
    );
    await until('four incremental passes', async () => (tenant.calls.incremental >= 4 ? true : undefined));
    // The backfill pushes once (nothing remaining); the third incremental pass reports 250 waiting and pushes until none remain.
    expect(tenant.calls.pushes).toBe(4);
    const status = await tenant.handle.query(statusQuery);
    expect(status.lastError).toBeNull();
  });
});

export type { WorkflowHandle };
