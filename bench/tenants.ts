/**
 * tenants: --tenants small companies on one simulator, each a connected tenant with its workflow,
 * all on one `qbsync worker` process (its RSS is its own) against the Temporal dev server.
 *
 *  1. Backfills every tenant; rss_mb_after_backfill is the worker's RSS once all are done, and
 *     replays_during_backfill the workflow tasks that found their workflow evicted meanwhile.
 *  2. round_s: every tenant is asked for a pass at once (a syncNow signal) and all of them finish.
 *  3. The idle round: each tenant's next pass comes on its own timer (--idle-poll-seconds after its
 *     last). events_per_idle_pass and actions per idle pass are read from the histories of
 *     --sample tenants; replays (sticky-cache misses) from the worker's own Prometheus metrics;
 *     rss_mb_idle is the worker's RSS after the round, with every tenant asleep.
 *
 * Actions are counted as Temporal Cloud bills them: a workflow start or continue-as-new, each
 * timer, each scheduled activity, the local activities of one workflow task together as one, each
 * signal, accepted update, search-attribute or memo upsert, child workflow and external signal.
 * actions_per_idle_tenant_day multiplies the actions of an idle pass by the passes of a day at the
 * production poll interval with webhooks on (the workflow has no interval of its own for tenants
 * with webhooks, so it is taken as 1 hour, as the freshness benchmark runs them; --webhook-poll-seconds); _polling by those at the default poll
 * interval (workflows/definitions.ts) with webhooks off.
 *
 *   npm run bench -- tenants [--tenants N] [--max-cached-workflows N] [--reuse-v8-context true|false]
 *                            [--idle-poll-seconds S] [--customers N] [--transactions N] [--sample N]
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import protos, { type temporal } from '@temporalio/proto';
import { defaultPollIntervalSeconds, syncNowSignal, tenantWorkflowId } from '../workflows/definitions.js';
import { freePort, startTestTemporal } from '../test/global-setup.js';
import { startQboFixture } from '../test/onboarding-helpers.js';
import {
  connectTenants,
  figuresLine,
  metricSum,
  passCounts,
  processMemoryMb,
  sleep,
  startTenantWorkflows,
  startWorkerProcess,
  terminateTenantWorkflows,
  waitForPasses,
  workerEnvironment,
} from './support.js';

const EventType = protos.temporal.api.enums.v1.EventType;

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000' },
    customers: { type: 'string', default: '10' },
    transactions: { type: 'string', default: '30' },
    'max-cached-workflows': { type: 'string' },
    'reuse-v8-context': { type: 'string' },
    'idle-poll-seconds': { type: 'string', default: '300' },
    'webhook-poll-seconds': { type: 'string', default: '3600' },
    sample: { type: 'string', default: '50' },
  },
});
const tenantCount = Number(values.tenants);
const idlePollSeconds = Number(values['idle-poll-seconds']);
const sampleSize = Math.min(Number(values.sample), tenantCount);
if (!(tenantCount >= 1) || !(idlePollSeconds >= 10))
  throw new Error('--tenants must be 1 or more, --idle-poll-seconds 10 or more');
const began = Date.now();
const say = (line: string) => console.log(`[${((Date.now() - began) / 1000).toFixed(0)} s] ${line}`);

const server = await startTestTemporal();
const fixture = await startQboFixture(
  {
    companies: tenantCount,
    customers: Number(values.customers),
    transactions: Number(values.transactions),
    items: 10,
    seed: 5,
    warmCache: false,
  },
  {},
  { limited: true },
);
const metricsPort = await freePort();
const workerSettings: Record<string, string> = {
  QBSYNC_METRICS_PORT: String(metricsPort),
  ...(values['max-cached-workflows'] ? { QBSYNC_MAX_CACHED_WORKFLOWS: values['max-cached-workflows'] } : {}),
  ...(values['reuse-v8-context'] ? { QBSYNC_REUSE_V8_CONTEXT: values['reuse-v8-context'] } : {}),
};
const taskQueue = `bench-tenants-${Date.now()}`;
const worker = await startWorkerProcess(workerEnvironment(fixture, server.address, taskQueue, workerSettings));
const client = new Client({ connection: await Connection.connect({ address: server.address }) });
const metrics = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
/** Workflow tasks that found their workflow out of the worker's cache and replayed its whole history. */
const replays = async () => {
  const text = await metrics();
  return metricSum(text, 'temporal_sticky_cache_miss') + metricSum(text, 'temporal_sticky_cache_miss_total');
};
const rssMb = () => processMemoryMb(worker.child.pid!)?.rss ?? NaN;
let peakRssMb = 0;
const notePeak = () => {
  peakRssMb = Math.max(peakRssMb, processMemoryMb(worker.child.pid!)?.peak ?? 0);
};
let tenantIds: string[] = [];
try {
  const { db } = fixture.database;
  tenantIds = await connectTenants(fixture, 'tenant');
  say(
    `${tenantCount} tenants of ${values.customers} customers and ${values.transactions} transactions; worker pid ${worker.child.pid}, ${JSON.stringify(workerSettings)}`,
  );
  const backfillStarted = Date.now();
  await startTenantWorkflows(client, fixture, taskQueue, tenantIds, idlePollSeconds);

  // 1. Backfills.
  let looks = 0;
  const progress = (what: string) => () => {
    notePeak();
    if (++looks % 60 === 0) say(`waiting for ${what}; worker RSS ${rssMb().toFixed(0)} MiB`);
  };
  await waitForPasses(db, tenantIds, 'backfill', 1, { timeoutMs: 3_600_000, tick: progress('backfills') });
  // The incremental pass that follows each backfill at once.
  await waitForPasses(db, tenantIds, 'incremental', 1, { timeoutMs: 1_800_000, tick: progress('first passes') });
  const backfillSeconds = (Date.now() - backfillStarted) / 1000;
  const rssAfterBackfill = rssMb();
  const backfillReplays = await replays();
  notePeak();
  say(`backfilled in ${backfillSeconds.toFixed(0)} s; worker RSS ${rssAfterBackfill.toFixed(0)} MiB`);

  // 2. A round: every tenant asked for a pass at once.
  const beforeRound = await passCounts(db, 'incremental');
  fixture.sim.sim.resetApiRequestCounts();
  const roundStarted = Date.now();
  await Promise.all(
    tenantIds.map((tenantId) =>
      client.workflow.getHandle(tenantWorkflowId(tenantId)).signal(syncNowSignal, { reason: 'bench round' }),
    ),
  );
  await waitForPasses(db, tenantIds, 'incremental', (id) => (beforeRound.get(id) ?? 0) + 1, {
    timeoutMs: 1_800_000,
    tick: progress('the round'),
  });
  const roundSeconds = (Date.now() - roundStarted) / 1000;
  const roundRequests = Object.values(fixture.sim.sim.apiRequestCounts()).reduce(
    (sum, counts) => sum + counts.total,
    0,
  );
  say(`round: ${tenantCount} passes in ${roundSeconds.toFixed(1)} s, ${roundRequests} QBO requests`);

  // 3. The idle round: each tenant's own timer.
  const sample = tenantIds
    .filter((_, index) => index % Math.floor(tenantCount / sampleSize) === 0)
    .slice(0, sampleSize);
  const lengthsBefore = new Map<string, { runId: string; length: number }>();
  for (const tenantId of sample) {
    const described = await client.workflow.getHandle(tenantWorkflowId(tenantId)).describe();
    lengthsBefore.set(tenantId, { runId: described.runId, length: described.historyLength });
  }
  const beforeIdle = await passCounts(db, 'incremental');
  const replaysBefore = await replays();
  fixture.sim.sim.resetApiRequestCounts();
  await waitForPasses(db, tenantIds, 'incremental', (id) => (beforeIdle.get(id) ?? 0) + 1, {
    timeoutMs: (idlePollSeconds + 1_800) * 1000,
    tick: progress('the idle round'),
  });
  const idlePasses = [...(await passCounts(db, 'incremental'))].reduce(
    (sum, [id, passes]) => sum + passes - (beforeIdle.get(id) ?? 0),
    0,
  );
  const idleReplays = (await replays()) - replaysBefore;
  const idleRequests = Object.values(fixture.sim.sim.apiRequestCounts()).reduce((sum, counts) => sum + counts.total, 0);
  // Let the worker settle with everyone asleep, then read its memory.
  await sleep(10_000);
  const rssIdle = rssMb();
  notePeak();

  let events = 0;
  let actions = 0;
  let measured = 0;
  for (const tenantId of sample) {
    const before = lengthsBefore.get(tenantId)!;
    const history = await client.workflow.getHandle(tenantWorkflowId(tenantId), before.runId).fetchHistory();
    const passEvents = (history.events ?? []).slice(before.length);
    // A run that continued as new meanwhile has its idle pass in the next run: left out.
    if (passEvents.some((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW))
      continue;
    const passes = (await passCounts(db, 'incremental')).get(tenantId)! - beforeIdle.get(tenantId)!;
    events += passEvents.length / passes;
    actions += billedActions(passEvents) / passes;
    measured += 1;
  }
  const eventsPerIdlePass = events / measured;
  const actionsPerIdlePass = actions / measured;
  const webhookPollSeconds = Number(values['webhook-poll-seconds']);
  say(
    `idle round: ${idlePasses} passes, ${idleRequests} QBO requests, ${idleReplays} replays; ${eventsPerIdlePass.toFixed(1)} events and ${actionsPerIdlePass.toFixed(1)} actions a pass (${measured} tenants' histories)`,
  );
  console.log(
    figuresLine({
      tenants: tenantCount,
      max_cached_workflows: values['max-cached-workflows'] ?? 'default',
      reuse_v8_context: values['reuse-v8-context'] ?? 'default',
      backfill_s: backfillSeconds.toFixed(0),
      replays_during_backfill: backfillReplays,
      rss_mb_after_backfill: rssAfterBackfill.toFixed(0),
      rss_mb_idle: rssIdle.toFixed(0),
      peak_rss_mb: peakRssMb.toFixed(0),
      round_s: roundSeconds.toFixed(1),
      requests_per_idle_pass: (idleRequests / idlePasses).toFixed(2),
      replays_per_idle_pass: (idleReplays / idlePasses).toFixed(2),
      events_per_idle_pass: eventsPerIdlePass.toFixed(1),
      actions_per_idle_pass: actionsPerIdlePass.toFixed(1),
      actions_per_idle_tenant_day: ((actionsPerIdlePass * 86_400) / webhookPollSeconds).toFixed(0),
      actions_per_idle_tenant_day_polling: ((actionsPerIdlePass * 86_400) / defaultPollIntervalSeconds).toFixed(0),
    }),
  );
} finally {
  await terminateTenantWorkflows(client, tenantIds);
  await worker.kill();
  await client.connection.close();
  await fixture.stop();
  await server.stop();
}

/** Actions as Temporal Cloud counts them (see the header); local activities of one workflow task count once. */
function billedActions(events: readonly temporal.api.history.v1.IHistoryEvent[]): number {
  const billed = new Set<number>([
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
    EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
  ]);
  let count = 0;
  // A workflow task's commands follow its WorkflowTaskCompleted event: its markers sit between that
  // event and the next completed task.
  let markersInTask = false;
  for (const event of events) {
    const type = event.eventType ?? EventType.EVENT_TYPE_UNSPECIFIED;
    if (billed.has(type)) count += 1;
    if (type === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
      if (markersInTask) count += 1;
      markersInTask = false;
    }
    if (type === EventType.EVENT_TYPE_MARKER_RECORDED) markersInTask = true;
  }
  return count + (markersInTask ? 1 : 0);
}
