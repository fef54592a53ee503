/**
 * flaky-qbo: the same simulated company (same seed) backfilled twice, once from a well-behaved QBO
 * and once from one that answers 10 % of API requests with 429 (about half of them with Intuit's
 * XML body), 5 % with 500/503, drops 2 % of connections without an answer and delays 10 % by
 * --slow-ms, while access tokens expire every --token-expiry seconds. Each run must verify 0/0/0;
 * the wall times are compared.
 *
 * Token expiry: Intuit's access tokens live an hour and qbsync refreshes them 5 minutes early, so a
 * 5-minute lifetime would mean a refresh before every request, and a run shorter than 5 minutes
 * would see no expiry at all. Instead the simulator expires every access token of the company
 * every --token-expiry seconds (default 60), which the worker only learns from a 401: the
 * refresh-after-rejection path, the one that matters when tokens die early.
 *
 *   npx tsx bench/flaky-qbo.ts [--records N] [--seed N] [--token-expiry SECONDS] [--slow-ms MS]
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { connectTenant, createQboClientForTenant, type QboAuthDeps } from '../activities/qbo/qbo-auth.js';
import { verifyTenant } from '../client/verify.js';
import { latestSucceededPass } from '../db/repositories/sync-passes.js';
import type { FaultRates } from '../sandbox/index.js';
import { loadConfig } from '../worker/config.js';
import { startWorker } from '../worker/main.js';
import type { RunningDevServer } from '../worker/temporal-server.js';
import { statusQuery, tenantSyncWorkflowType, tenantWorkflowId } from '../workflows/definitions.js';
import { startTestTemporal } from '../test/global-setup.js';
import { duplicateCounts } from '../test/duplicate-counts.js';
import { consent, createTenant, startQboFixture } from '../test/onboarding-helpers.js';
import { figuresLine, sleep } from './support.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '12' },
    'token-expiry': { type: 'string', default: '60' },
    'slow-ms': { type: 'string', default: '5000' },
    'timeout-minutes': { type: 'string', default: '60' },
  },
});
const records = Number(values.records);
const seed = Number(values.seed);
const tokenExpirySeconds = Number(values['token-expiry']);
const slowMs = Number(values['slow-ms']);
const timeoutMs = Number(values['timeout-minutes']) * 60_000;
if (!(records >= 10) || !Number.isInteger(seed) || !(tokenExpirySeconds > 0) || !(slowMs >= 0) || !(timeoutMs > 0))
  throw new Error(
    '--records must be at least 10, --seed an integer, --token-expiry and --timeout-minutes > 0, --slow-ms >= 0',
  );
const company = {
  customers: Math.round(records / 5),
  transactions: records - Math.round(records / 5),
  items: 60,
  seed,
};
const faultRates: FaultRates = { rate429: 0.1, rate5xx: 0.05, rateDrop: 0.02, rateSlow: 0.1, slowMs };

interface Injected {
  throttled: number;
  throttledXml: number;
  serverFaults: number;
  dropped: number;
  slow: number;
  tokenExpiries: number;
  tokenRefreshes: number;
}

interface RunResult {
  /** False when the backfill had not finished within --timeout-minutes: the figures are as far as it got. */
  readonly converged: boolean;
  readonly seconds: number;
  readonly records: number;
  readonly requests: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
  readonly failed: number;
  readonly duplicates: number;
  readonly injected: Injected;
}

async function backfill(server: RunningDevServer, name: string, flaky: boolean): Promise<RunResult> {
  const injected: Injected = {
    throttled: 0,
    throttledXml: 0,
    serverFaults: 0,
    dropped: 0,
    slow: 0,
    tokenExpiries: 0,
    tokenRefreshes: 0,
  };
  const authDeps: Partial<QboAuthDeps> = { onRefresh: () => (injected.tokenRefreshes += 1) };
  const fixture = await startQboFixture(company, authDeps, { limited: true });
  const tenantId = `flaky-${name}`;
  const taskQueue = `flaky-${name}-${Date.now()}`;
  await createTenant(fixture, tenantId, '2000-01-01');
  const { realmId } = await connectTenant(fixture.deps, tenantId, await consent(fixture));
  const { sim } = fixture.sim;
  // Counts what the simulator draws, as it draws it: the figures are what was injected, not a guess.
  const drawFault = sim.drawFault.bind(sim);
  sim.drawFault = (realm) => {
    const decision = drawFault(realm);
    if (decision.kind === 'drop') injected.dropped += 1;
    if (decision.kind === 'slow') injected.slow += 1;
    if (decision.kind === 'fault' && decision.fault.status === 429) {
      injected.throttled += 1;
      if (decision.xml) injected.throttledXml += 1;
    } else if (decision.kind === 'fault') injected.serverFaults += 1;
    return decision;
  };
  let expiring: NodeJS.Timeout | undefined;
  if (flaky) {
    sim.setFaults(realmId, faultRates);
    expiring = setInterval(() => {
      sim.oauth.expireAccessTokens(realmId);
      injected.tokenExpiries += 1;
    }, tokenExpirySeconds * 1000);
  }
  const config = loadConfig({ TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: taskQueue });
  const worker = await startWorker({
    config,
    db: fixture.database.db,
    qboClientFor: (id) => createQboClientForTenant(fixture.deps, id),
  });
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  try {
    const started = Date.now();
    const handle = await client.workflow.start(tenantSyncWorkflowType, {
      taskQueue,
      workflowId: tenantWorkflowId(tenantId),
      args: [{ tenantId, realmId, mode: 'two_way', pollIntervalSeconds: 3600 }],
    });
    let pass: Awaited<ReturnType<typeof latestSucceededPass>>;
    let progress: Record<string, number> = {};
    for (let shown = Date.now(); ;) {
      pass = await latestSucceededPass(fixture.database.db, tenantId, 'backfill');
      if (pass?.finished_at || Date.now() - started > timeoutMs) break;
      if (Date.now() - shown > 30_000) {
        shown = Date.now();
        progress = progressOf(await handle.query(statusQuery).catch(() => undefined));
        const pending = ((await handle.describe()).raw.pendingActivities ?? []).map(
          (activity) => `${activity.activityType?.name} attempt ${activity.attempt}`,
        );
        console.log(
          `  ${name}: ${Math.round((Date.now() - started) / 1000)} s, ${sim.apiRequestCount(realmId)} QBO requests, ` +
            `done ${JSON.stringify(progress)}; pending: ${pending.join(', ') || 'none'}`,
        );
      }
      await sleep(500);
    }
    const converged = pass?.finished_at !== undefined && pass.finished_at !== null;
    if (!converged) console.log(`  ${name}: no finished backfill within ${values['timeout-minutes']} minutes`);
    const seconds = ((pass?.finished_at?.getTime() ?? Date.now()) - started) / 1000;
    const counts = (pass?.counts ?? { written: Object.values(progress).reduce((a, b) => a + b, 0) }) as {
      written: number;
      unchanged?: number;
      deleted?: number;
    };
    const requests = sim.apiRequestCount(realmId);
    // verify reads QBO through the same client: it checks what the CRM holds, not the faults again.
    clearInterval(expiring);
    sim.clearFaults();
    const report = await verifyTenant(
      fixture.database.db,
      await createQboClientForTenant(fixture.deps, tenantId),
      tenantId,
    );
    const { duplicates } = await duplicateCounts(fixture.database.db, tenantId);
    await handle.cancel();
    return {
      converged,
      seconds,
      records: counts.written + (counts.unchanged ?? 0) + (counts.deleted ?? 0),
      requests,
      missing: report.missing,
      extra: report.extra,
      different: report.different,
      failed: report.failed,
      duplicates,
      injected,
    };
  } finally {
    clearInterval(expiring);
    await worker.stop();
    await client.connection.close();
    await fixture.stop();
  }
}

function progressOf(status: unknown): Record<string, number> {
  const entities = (status as { entities?: Record<string, { done: number }> } | undefined)?.entities ?? {};
  return Object.fromEntries(Object.entries(entities).map(([entity, progress]) => [entity, progress.done]));
}

const server = await startTestTemporal();
// The dev server runs in a process group of its own: Ctrl-C would leave it running.
process.once('SIGINT', () => {
  server.process.kill('SIGKILL');
  process.exit(130);
});
let clean: RunResult;
let flaky: RunResult;
try {
  console.log(`company: ${company.customers} customers, ${company.transactions} transactions, seed ${seed}`);
  clean = await backfill(server, 'clean', false);
  console.log(
    `clean: ${clean.records} records in ${clean.seconds.toFixed(1)} s, ${clean.requests} QBO requests; ` +
      `verify ${clean.missing}/${clean.extra}/${clean.different}, ${clean.duplicates} duplicates`,
  );
  flaky = await backfill(server, 'faulty', true);
  const i = flaky.injected;
  console.log(
    `flaky: ${flaky.records} records in ${flaky.seconds.toFixed(1)} s, ${flaky.requests} QBO requests; ` +
      `injected ${i.throttled} 429 (${i.throttledXml} XML), ${i.serverFaults} 5xx, ${i.dropped} dropped, ${i.slow} slow (${slowMs} ms); ` +
      `${i.tokenExpiries} token expiries, ${i.tokenRefreshes} refreshes; ` +
      `verify ${flaky.missing}/${flaky.extra}/${flaky.different}, ${flaky.duplicates} duplicates`,
  );
} finally {
  await server.stop();
}
const inStep = (run: RunResult) =>
  run.converged &&
  run.missing === 0 &&
  run.extra === 0 &&
  run.different === 0 &&
  run.failed === 0 &&
  run.duplicates === 0;
console.log(
  figuresLine({
    records: flaky.records,
    converged: flaky.converged ? 1 : 0,
    clean_s: clean.seconds.toFixed(1),
    flaky_s: flaky.seconds.toFixed(1),
    ratio: (flaky.seconds / clean.seconds).toFixed(2),
    injected_429: flaky.injected.throttled,
    injected_429_xml: flaky.injected.throttledXml,
    injected_5xx: flaky.injected.serverFaults,
    dropped: flaky.injected.dropped,
    slow: flaky.injected.slow,
    token_expiries: flaky.injected.tokenExpiries,
    token_refreshes: flaky.injected.tokenRefreshes,
    missing: flaky.missing,
    extra: flaky.extra,
    different: flaky.different,
    failed: flaky.failed,
    duplicates: flaky.duplicates,
    clean_missing: clean.missing,
    clean_extra: clean.extra,
    clean_different: clean.different,
  }),
);
process.exitCode = inStep(clean) && inStep(flaky) ? 0 : 1;
