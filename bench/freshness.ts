/**
 * freshness: how long a change made in QuickBooks takes to reach the CRM with webhooks on (issue
 * 15; target p95 ≤ 2 s). A simulated company sends signed CloudEvents webhooks, as Intuit's
 * sandbox does (no aggregation), to the receiver; the tenant's passes on a timer are an hour
 * apart, so only webhooks can bring the edits. --edits customers are renamed one after another,
 * --interval-ms apart (edits overlap passes, as a busy company's do); each one is timed from the
 * edit to its CRM account carrying the new name.
 *
 *   npm run bench -- freshness [--edits 200] [--interval-ms 250] [--customers 300] [--transactions 600]
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { connectTenant, createQboClientForTenant } from '../activities/qbo/qbo-auth.js';
import { startWebhookReceiver } from '../client/webhooks/receiver.js';
import { latestSucceededPass } from '../db/repositories/sync-passes.js';
import { loadConfig } from '../worker/config.js';
import { startWorker } from '../worker/main.js';
import { tenantSyncWorkflowType, tenantWorkflowId } from '../workflows/definitions.js';
import { accountNamesOf } from '../test/account-names.js';
import { startTestTemporal } from '../test/global-setup.js';
import { consent, createTenant, startQboFixture } from '../test/onboarding-helpers.js';
import { figuresLine, sleep } from './support.js';

const { values } = parseArgs({
  options: {
    edits: { type: 'string', default: '200' },
    'interval-ms': { type: 'string', default: '250' },
    customers: { type: 'string', default: '300' },
    transactions: { type: 'string', default: '600' },
  },
});
const edits = Number(values.edits);
const intervalMs = Number(values['interval-ms']);
const customers = Number(values.customers);
const transactions = Number(values.transactions);
if (!Number.isInteger(edits) || edits < 1 || !(intervalMs >= 0) || !(customers >= edits) || !(transactions >= 0)) {
  throw new Error('--edits must be a positive integer, --interval-ms >= 0, --customers at least --edits');
}
/** An edit that has not reached the CRM after this long counts as lost, and fails the run. */
const giveUpMs = 60_000;

const verifierToken = 'freshness-bench-verifier-token';
const server = await startTestTemporal();
process.once('SIGINT', () => {
  server.process.kill('SIGKILL');
  process.exit(130);
});
const fixture = await startQboFixture(
  { customers, transactions, items: 40, seed: 15, verifierToken },
  {},
  { limited: true },
);
const tenantId = 'freshness';
const taskQueue = `freshness-${Date.now()}`;
const worker = await startWorker({
  config: loadConfig({ TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: taskQueue }),
  db: fixture.database.db,
  qboClientFor: (id) => createQboClientForTenant(fixture.deps, id),
});
const client = new Client({ connection: await Connection.connect({ address: server.address }) });
const db = fixture.database.db;
const receiver = await startWebhookReceiver({
  db,
  temporal: client,
  verifierToken,
  environment: 'sandbox',
  host: '127.0.0.1',
  port: 0,
  log: (line) => console.log(`  ${line}`),
});
const latencies: number[] = [];
let passes = 0;
try {
  await createTenant(fixture, tenantId, '2000-01-01');
  const { realmId } = await connectTenant(fixture.deps, tenantId, await consent(fixture));
  const handle = await client.workflow.start(tenantSyncWorkflowType, {
    taskQueue,
    workflowId: tenantWorkflowId(tenantId),
    args: [{ tenantId, realmId, mode: 'two_way', pollIntervalSeconds: 3600 }],
  });
  const started = Date.now();
  while (!(await latestSucceededPass(db, tenantId, 'backfill'))?.finished_at) {
    if (Date.now() - started > 600_000) throw new Error('the backfill did not finish within 10 minutes');
    await sleep(250);
  }
  // The backfill asks for a catch-up pass at once; let it end so the first edit does not ride on it.
  await sleep(3_000);
  const { sim } = fixture.sim;
  sim.webhooks.configure({ url: receiver.url, aggregationMs: 0 });
  const company = sim.adminState(realmId) as {
    entities: { Customer: Array<{ Id: string; Active?: boolean; Job?: boolean }> };
  };
  const chosen = company.entities.Customer.filter((c) => c.Active !== false && !c.Job)
    .slice(0, edits)
    .map((c) => c.Id);
  if (chosen.length < edits) throw new Error(`the company has ${chosen.length} active customers, fewer than --edits`);
  const since = new Date();
  console.log(`freshness: ${edits} edits, one every ${intervalMs} ms, passes on a timer an hour apart`);

  // Each edit: customer id → [new name, when it was made]; the watcher times each one's arrival.
  const pending = new Map<string, { name: string; at: number }>();
  let editing = true;
  const watcher = (async () => {
    while (editing || pending.size > 0) {
      if (pending.size > 0) {
        const names = await accountNamesOf(db, tenantId, [...pending.keys()]);
        const now = Date.now();
        for (const [id, name] of names) {
          const edit = pending.get(id);
          if (edit && name === edit.name) {
            latencies.push(now - edit.at);
            pending.delete(id);
          }
        }
        for (const [id, edit] of pending) {
          if (now - edit.at > giveUpMs)
            throw new Error(`the edit of customer ${id} had not reached the CRM after ${giveUpMs} ms`);
        }
      }
      await sleep(20);
    }
  })();
  for (const [index, id] of chosen.entries()) {
    const name = `Fraîcheur ${index} ${Date.now().toString(36)} inc.`;
    pending.set(id, { name, at: Date.now() });
    sim.adminEditCustomer(realmId, id, { CompanyName: name });
    await sleep(intervalMs);
  }
  editing = false;
  await watcher;
  passes = (
    await db
      .selectFrom('sync_passes')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('kind', '=', 'incremental')
      .where('started_at', '>=', since)
      .execute()
  ).length;
  await handle.cancel();
} finally {
  await receiver.close();
  await worker.stop();
  await client.connection.close();
  await fixture.stop();
  await server.stop();
}

const sorted = [...latencies].sort((a, b) => a - b);
const percentile = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
console.log(
  `edit → CRM: p50 ${percentile(50)} ms, p95 ${percentile(95)} ms, max ${sorted[sorted.length - 1]} ms ` +
    `(target p95 ≤ 2000 ms); ${passes} incremental passes for ${edits} edits`,
);
console.log(
  figuresLine({
    edits,
    p50_ms: percentile(50),
    p95_ms: percentile(95),
    max_ms: sorted[sorted.length - 1]!,
    passes,
    interval_ms: intervalMs,
  }),
);
