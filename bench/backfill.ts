/**
 * Backfill benchmark: a simulated company, a connected tenant, a real worker, Temporal dev server
 * and PostgreSQL. Prints records per second, history bytes per 1,000 records, events per run and
 * the largest payload in the history, then verifies the CRM against the company.
 *
 *   npx tsx bench/backfill.ts [--customers N] [--transactions N] [--continue-as-new-after EVENTS]
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { connectTenant, createQboClientForTenant } from '../activities/qbo/qbo-auth.js';
import { verifyTenant } from '../client/verify.js';
import { latestSucceededPass } from '../db/repositories/sync-passes.js';
import { loadConfig } from '../worker/config.js';
import { startWorker } from '../worker/main.js';
import { tenantSyncWorkflowType, tenantWorkflowId } from '../workflows/definitions.js';
import { startTestTemporal } from '../test/global-setup.js';
import { consent, createTenant, startQboFixture } from '../test/onboarding-helpers.js';
import { historyFigures } from '../test/history.js';

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '2000' },
    transactions: { type: 'string', default: '8000' },
    'start-date': { type: 'string', default: '2015-01-01' },
    'continue-as-new-after': { type: 'string' },
  },
});
const customers = Number(values.customers);
const transactions = Number(values.transactions);

const server = await startTestTemporal();
const fixture = await startQboFixture({ customers, transactions, items: 60, seed: 11 }, {}, { limited: true });
const tenantId = 'bench';
await createTenant(fixture, tenantId, values['start-date']);
const { realmId } = await connectTenant(fixture.deps, tenantId, await consent(fixture));
const taskQueue = 'bench';
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
    args: [
      {
        tenantId,
        realmId,
        mode: 'two_way',
        pollIntervalSeconds: 3600,
        ...(values['continue-as-new-after']
          ? { continueAsNewAfterEvents: Number(values['continue-as-new-after']) }
          : {}),
      },
    ],
  });
  let backfill: Awaited<ReturnType<typeof latestSucceededPass>>;
  for (;;) {
    backfill = await latestSucceededPass(fixture.database.db, tenantId, 'backfill');
    if (backfill?.finished_at) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const seconds = (backfill.finished_at!.getTime() - started) / 1000;
  const requests = fixture.sim.sim.apiRequestCounts()[realmId] ?? { total: 0 };
  const counts = backfill.counts as { written: number; unchanged: number; deleted: number };
  const records = counts.written + counts.unchanged + counts.deleted;
  const figures = await historyFigures(client, handle.workflowId);
  const verifyStarted = Date.now();
  const report = await verifyTenant(
    fixture.database.db,
    await createQboClientForTenant(fixture.deps, tenantId),
    tenantId,
  );
  console.log(`company: ${customers} customers, ${transactions} transactions`);
  console.log(`backfill: ${records} records in ${seconds.toFixed(1)} s = ${(records / seconds).toFixed(0)} records/s`);
  console.log(
    `requests: ${JSON.stringify(requests)} = ${((requests.total / records) * 1000).toFixed(2)} QBO requests per 1,000 records`,
  );
  console.log(
    `history: ${figures.runs} run(s), at most ${figures.maxEventsPerRun} events in a run, ${figures.totalBytes} bytes = ${((figures.totalBytes / records) * 1000).toFixed(0)} bytes per 1,000 records; largest payload ${figures.largestPayloadBytes} bytes`,
  );
  console.log(
    `verify: ${report.missing} missing, ${report.extra} extra, ${report.different} different, in ${((Date.now() - verifyStarted) / 1000).toFixed(1)} s`,
  );
  await handle.cancel();
} finally {
  await worker.stop();
  await client.connection.close();
  await fixture.stop();
  await server.stop();
}
