import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { ensureWorkflowBundle } from '../worker/workflow-bundle.js';
import { temporalCliPath } from './global-setup.js';
import {
  pauseUpdate,
  repairSignal,
  repairUpdate,
  resumeUpdate,
  setModeUpdate,
  statusQuery,
  syncNowUpdate,
} from '../workflows/definitions.js';
import { startStubbedTenant, type StubbedTenant } from './workflow-scenarios.js';

/**
 * Records the histories that workflows/tenant-sync.replay.integration.test.ts replays: real runs
 * of the tenant workflow on a Temporal dev server, with stub activities. Run it after a deliberate,
 * versioned change to the workflow's decisions, and commit what it writes:
 *
 *   TEMPORAL_ADDRESS=127.0.0.1:7233 npx tsx test/record-histories.ts [NAME ...]
 *
 * With names, only those histories are recorded: the others stay as older code recorded them, which
 * is what proves that workflows started before a change still replay after it.
 */
export const historiesFolder = path.join(import.meta.dirname, '..', 'workflows', 'histories');

/** The recorded histories, named by file, as Worker.runReplayHistories takes them. */
export async function recordedHistories(): Promise<
  Array<{ workflowId: string; history: ReturnType<typeof historyFromJSON> }>
> {
  const files = (await readdir(historiesFolder)).filter((file) => file.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => ({
      workflowId: file.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(await readFile(path.join(historiesFolder, file), 'utf8'))),
    })),
  );
}

/**
 * Replays the recorded histories that `pick` chooses against today's workflow code; the
 * non-determinism failures, as `<history>: <message>`, and how many were replayed.
 */
export async function replayRecorded(
  pick: (name: string) => boolean,
): Promise<{ replayed: number; failures: string[] }> {
  const histories = (await recordedHistories()).filter(({ workflowId }) => pick(workflowId));
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: { codePath: await ensureWorkflowBundle() }, replayName: 'tenant-sync-replay' },
    histories,
  )) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  return { replayed: histories.length, failures };
}

async function until(what: string, done: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Saved by the Temporal CLI, in the JSON form every Temporal tool reads. */
async function save(name: string, tenant: StubbedTenant, address: string, runId?: string): Promise<void> {
  const args = [
    'workflow',
    'show',
    '--address',
    address,
    '--workflow-id',
    tenant.handle.workflowId,
    '--output',
    'json',
  ];
  if (runId) args.push('--run-id', runId);
  const json = execFileSync(temporalCliPath(), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  await writeFile(path.join(historiesFolder, `${name}.json`), json);
  console.log(`${name}: ${(JSON.parse(json) as { events: unknown[] }).events.length} events`);
}

export const historyNames = [
  'backfill-then-incremental',
  'pause-mid-backfill',
  'continue-as-new',
  'repair-child',
  'side-by-side-documents',
] as const;

export async function recordHistories(address: string, names: readonly string[] = historyNames): Promise<void> {
  await mkdir(historiesFolder, { recursive: true });
  for (const name of names) {
    if (!(historyNames as readonly string[]).includes(name)) {
      throw new Error(`no history scenario "${name}": use ${historyNames.join(', ')}`);
    }
  }
  if (names.includes('backfill-then-incremental')) await recordIncremental(address);
  if (names.includes('pause-mid-backfill')) await recordPause(address);
  if (names.includes('continue-as-new')) await recordContinueAsNew(address);
  if (names.includes('repair-child')) await recordRepair(address);
  if (names.includes('side-by-side-documents')) await recordSideBySide(address);
}

/** Issue 16: document entities read side by side; one fails mid-backfill (its siblings cancelled), the retry succeeds. */
async function recordSideBySide(address: string): Promise<void> {
  const tenant = await startStubbedTenant({
    address,
    behaviour: { pagesPerEntity: 3, pageDelayMs: 100, failPageCalls: new Map([[8, 'QboServerFault']]) },
    input: { pollIntervalSeconds: 3600, retryDelaySeconds: 1 },
  });
  try {
    await until('the backfill', async () => (await tenant.handle.query(statusQuery)).phase === 'incremental');
    await save('side-by-side-documents', tenant, address);
  } finally {
    await tenant.stop();
  }
}

async function recordIncremental(address: string): Promise<void> {
  const incremental = await startStubbedTenant({
    address,
    behaviour: {
      pagesPerEntity: 2,
      incremental: (call) =>
        call === 1 ? 'changes' : call === 2 ? { fail: 'QboServerFault' } : call === 3 ? 'by-query' : 'idle',
    },
    input: { pollIntervalSeconds: 1, retryDelaySeconds: 1 },
  });
  try {
    await until('five incremental passes', async () => incremental.calls.incremental >= 6);
    await incremental.handle.executeUpdate(setModeUpdate, { args: [{ mode: 'one_way' }] });
    await incremental.handle.executeUpdate(syncNowUpdate, { args: [{ reason: 'record', wait: true }] });
    await save('backfill-then-incremental', incremental, address);
  } finally {
    await incremental.stop();
  }
}

async function recordPause(address: string): Promise<void> {
  const paused = await startStubbedTenant({
    address,
    behaviour: { pagesPerEntity: 20, pageDelayMs: 50 },
    input: { pollIntervalSeconds: 3600 },
  });
  try {
    await until('a few pages', async () => paused.calls.pages.length >= 5);
    await paused.handle.executeUpdate(pauseUpdate, { args: [{ reason: 'record: pause mid-backfill' }] });
    await until('the pass to end', async () => paused.calls.finish.length > 0);
    await paused.handle.executeUpdate(resumeUpdate);
    await until('the backfill', async () => (await paused.handle.query(statusQuery)).phase === 'incremental');
    await save('pause-mid-backfill', paused, address);
  } finally {
    await paused.stop();
  }
}

async function recordContinueAsNew(address: string): Promise<void> {
  const continued = await startStubbedTenant({
    address,
    behaviour: { pagesPerEntity: 8 },
    input: { continueAsNewAfterEvents: 50, pollIntervalSeconds: 3600 },
  });
  try {
    await until('the backfill', async () => (await continued.handle.query(statusQuery)).phase === 'incremental');
    const runs: string[] = [];
    for await (const execution of continued.client.workflow.list({
      query: `WorkflowId = '${continued.handle.workflowId}'`,
    })) {
      runs.push(execution.runId);
    }
    // The oldest run (it continued as new mid-backfill) and a run that began mid-pass.
    await save('continue-as-new-first-run', continued, address, runs.at(-1));
    await save('continue-as-new-middle-run', continued, address, runs.at(-2));
  } finally {
    await continued.stop();
  }
}

/** R21: repairs as child workflows, asked by the update, by the repair signal and by a merge the pull detected. */
async function recordRepair(address: string): Promise<void> {
  const pair = { survivorQboId: '7', mergedQboId: '12' };
  const repaired = await startStubbedTenant({
    address,
    behaviour: {
      pagesPerEntity: 1,
      incremental: (call) => (call >= 1 ? 'changes' : 'idle'),
      mergesPendingAfter: (call) => (call === 1 ? 1 : 0),
      pendingMerges: (call) => (call === 0 || call === 2 ? [pair] : []),
    },
    input: { pollIntervalSeconds: 3600 },
  });
  try {
    await until('the backfill', async () => (await repaired.handle.query(statusQuery)).lastPass !== null);
    await repaired.handle.executeUpdate(repairUpdate, { args: [{ kind: 'merge', requestedBy: 'record', ...pair }] });
    await repaired.handle.signal(repairSignal, { requestedBy: 'record', ...pair });
    await until(
      'the signalled repair',
      async () => repaired.calls.repairs.filter((r) => r === 'findPendingMerges').length >= 2,
    );
    await repaired.handle.executeUpdate(syncNowUpdate, { args: [{ reason: 'record', wait: true }] });
    await until(
      'the detected merge repaired',
      async () => (await repaired.handle.query(statusQuery)).lastRepair?.result?.workflowId.endsWith('-3') === true,
    );
    await repaired.handle.executeUpdate(repairUpdate, { args: [{ kind: 'full', requestedBy: 'record' }] });
    await repaired.handle.executeUpdate(syncNowUpdate, { args: [{ reason: 'record', wait: true }] });
    await save('repair-child', repaired, address);
  } finally {
    await repaired.stop();
  }
}

if (process.argv[1] === import.meta.filename) {
  const address = process.env['TEMPORAL_ADDRESS'];
  if (!address) throw new Error('set TEMPORAL_ADDRESS to a running Temporal server (e.g. temporal server start-dev)');
  await recordHistories(address, process.argv.length > 2 ? process.argv.slice(2) : historyNames);
}
