/**
 * Two-way push benchmark (R7): CRM users edit 1,000 distinct customers at once; the next pass
 * carries every edit to QuickBooks. Runs against the simulator with QuickBooks's limits enforced
 * (500 requests a minute and 10 at once per company), a real worker, Temporal and PostgreSQL.
 * Prints the time from the edits' commit to the end of the pass that pushed them, the requests per
 * edit, the simulator's 429 answers, and verify.
 *
 *   npm run bench -- push [--edits N]
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'kysely';
import { connectTenant, createQboClientForTenant } from '../activities/qbo/qbo-auth.js';
import { verifyTenant } from '../client/verify.js';
import { latestSucceededPass } from '../db/repositories/sync-passes.js';
import { loadConfig } from '../worker/config.js';
import { startWorker } from '../worker/main.js';
import { tenantSyncWorkflowType, tenantWorkflowId } from '../workflows/definitions.js';
import { startTestTemporal } from '../test/global-setup.js';
import { consent, createTenant, startQboFixture } from '../test/onboarding-helpers.js';
import { figuresLine, passNow, sleep } from './support.js';

const { values } = parseArgs({ options: { edits: { type: 'string', default: '1000' } } });
const edits = Number(values.edits);
if (!Number.isInteger(edits) || edits < 1) throw new Error('--edits must be a positive whole number');

const server = await startTestTemporal();
// Sub-customers are no accounts of their own: a company a third larger holds enough customers.
const fixture = await startQboFixture(
  { customers: Math.ceil(edits * 1.4) + 20, transactions: 200, items: 10, seed: 17 },
  {},
  { limited: true },
);
const tenantId = 'bench-push';
const { db } = fixture.database;
await createTenant(fixture, tenantId, '2015-01-01');
const { realmId } = await connectTenant(fixture.deps, tenantId, await consent(fixture));
const taskQueue = 'bench-push';
const config = loadConfig({ TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: taskQueue });
const worker = await startWorker({
  config,
  db,
  qboClientFor: (id) => createQboClientForTenant(fixture.deps, id),
});
const client = new Client({ connection: await Connection.connect({ address: server.address }) });
try {
  await client.workflow.start(tenantSyncWorkflowType, {
    taskQueue,
    workflowId: tenantWorkflowId(tenantId),
    args: [{ tenantId, realmId, mode: 'two_way', pollIntervalSeconds: 3600 }],
  });
  while (!(await latestSucceededPass(db, tenantId, 'backfill'))?.finished_at) await sleep(500);
  await db.updateTable('tenants').set({ allow_crm_edits: true }).where('id', '=', tenantId).execute();
  const accounts = await db
    .selectFrom('qbo_links')
    .select('account_id')
    .where('tenant_id', '=', tenantId)
    .where('entity_type', '=', 'Customer')
    .where('parent_qbo_id', 'is', null)
    .orderBy('account_id')
    .limit(edits)
    .execute();
  if (accounts.length < edits)
    throw new Error(`the company has ${accounts.length} customers of their own, fewer than ${edits}`);
  // Let the pass after the backfill end before counting.
  await passNow(() => client.workflow.getHandle(tenantWorkflowId(tenantId)));

  const sim = fixture.sim.sim;
  sim.resetApiRequestCounts(realmId);
  const refusedBefore = sim.rateLimiter.refused(realmId);
  const started = Date.now();
  // The CRM's users, one statement: a plain transaction, as a CRM writes (the outbox triggers fire per row).
  await sql`UPDATE accounts SET website = 'https://edited-' || id || '.example'
            WHERE id = ANY(${accounts.map((a) => a.account_id)}::int8[])`.execute(db);
  const outcome = await passNow(() => client.workflow.getHandle(tenantWorkflowId(tenantId)));
  const seconds = (Date.now() - started) / 1000;
  if (outcome.outcome !== 'succeeded') throw new Error(`the pass ${outcome.outcome}: ${outcome.lastError}`);
  const writes = sim.apiRequestCount(realmId, 'write');
  const requests = sim.apiRequestCount(realmId);
  const throttled = sim.rateLimiter.refused(realmId) - refusedBefore;
  const pending = await db
    .selectFrom('crm_outbox')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('tenant_id', '=', tenantId)
    .where('state', '!=', 'pushed')
    .executeTakeFirstOrThrow();
  const report = await verifyTenant(db, await createQboClientForTenant(fixture.deps, tenantId), tenantId);
  console.log(`push: ${edits} CRM edits to distinct customers reached QuickBooks in ${seconds.toFixed(1)} s`);
  console.log(
    `requests: ${requests} in the pass (${writes} writes: batches of up to 30 updates) = ${(requests / edits).toFixed(3)} per edit; ${throttled} answered 429`,
  );
  console.log(
    `outbox rows not pushed: ${pending.n}; verify: ${report.missing} missing, ${report.extra} extra, ${report.different} different`,
  );
  console.log(
    figuresLine({
      edits,
      seconds: seconds.toFixed(1),
      requests,
      write_requests: writes,
      requests_per_edit: (requests / edits).toFixed(3),
      throttled_429: throttled,
      not_pushed: Number(pending.n),
      missing: report.missing,
      extra: report.extra,
      different: report.different,
    }),
  );
} finally {
  await worker.stop();
  await client.connection.close();
  await fixture.stop();
  await server.stop();
}
