/**
 * Poison benchmark: a simulated company with a share of its records damaged in every way the
 * simulator can damage one (no Id, a field of the wrong type, an oversized field, a NUL byte), a
 * connected tenant, a real worker, Temporal dev server and PostgreSQL. It backfills, waits for the
 * incremental pass that follows, and checks that every pass completed, that each damaged record is
 * in sync_errors with its id (or place) and field, and that every other record landed (verify).
 * Ends with one line of key=value figures.
 *
 *   npx tsx bench/poison.ts [--customers N] [--transactions N] [--percent P]
 *
 * The defaults give invoices more than one QBO page (1,000), so a damaged record inside a full page
 * is covered, in the sync's paging and in verify's.
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { connectTenant, createQboClientForTenant } from '../activities/qbo/qbo-auth.js';
import { verifyTenant } from '../client/verify.js';
import { syncedEntities } from '../common/sync-types.js';
import { latestSucceededPass } from '../db/repositories/sync-passes.js';
import { loadConfig } from '../worker/config.js';
import { startWorker } from '../worker/main.js';
import { tenantSyncWorkflowType, tenantWorkflowId } from '../workflows/definitions.js';
import { startTestTemporal } from '../test/global-setup.js';
import { consent, createTenant, startQboFixture } from '../test/onboarding-helpers.js';

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '1500' },
    transactions: { type: 'string', default: '4000' },
    percent: { type: 'string', default: '1' },
    'start-date': { type: 'string', default: '2000-01-01' },
  },
});
const customers = Number(values.customers);
const transactions = Number(values.transactions);
const every = Math.max(1, Math.round(100 / Number(values.percent)));

/** A way of damaging a record, and the field its sync error must name, per entity. */
interface Poison {
  readonly kind: 'missing' | 'wrongType' | 'oversized' | 'nulByte';
  readonly field?: string;
  readonly expected: (entity: string) => string;
}
const poisons: readonly Poison[] = [
  { kind: 'missing', field: 'Id', expected: () => 'Id' },
  {
    kind: 'wrongType',
    expected: (entity) => (entity === 'Customer' ? 'DisplayName' : entity === 'Item' ? 'Name' : 'CustomerRef'),
  },
  {
    kind: 'oversized',
    expected: (entity) => (entity === 'Customer' ? 'DisplayName' : entity === 'Item' ? 'Name' : 'DocNumber'),
  },
  {
    kind: 'nulByte',
    expected: (entity) => (entity === 'Customer' ? 'DisplayName' : entity === 'Item' ? 'Name' : 'DocNumber'),
  },
];

interface Damaged {
  readonly entity: string;
  readonly id: string;
  readonly kind: Poison['kind'];
  readonly field: string;
}

const server = await startTestTemporal();
const fixture = await startQboFixture({ customers, transactions, items: 60, seed: 17 }, {}, { limited: true });
const tenantId = 'poison';
await createTenant(fixture, tenantId, values['start-date']);
const { realmId } = await connectTenant(fixture.deps, tenantId, await consent(fixture));

const { sim } = fixture.sim;
const state = sim.adminState(realmId) as { entities: Record<string, Array<{ Id: string }>> };
const damaged: Damaged[] = [];
let records = 0;
for (const entity of syncedEntities) {
  const list = state.entities[entity] ?? [];
  records += list.length;
  for (let index = every - 1, turn = 0; index < list.length; index += every, turn++) {
    const poison = poisons[(turn + syncedEntities.indexOf(entity)) % poisons.length]!;
    const id = list[index]!.Id;
    sim.adminCorrupt(realmId, entity, id, poison.kind, poison.field === undefined ? {} : { field: poison.field });
    damaged.push({ entity, id, kind: poison.kind, field: poison.expected(entity) });
  }
}

const taskQueue = 'poison';
const config = loadConfig({ TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: taskQueue });
const worker = await startWorker({
  config,
  db: fixture.database.db,
  qboClientFor: (id) => createQboClientForTenant(fixture.deps, id),
});
const client = new Client({ connection: await Connection.connect({ address: server.address }) });
const db = fixture.database.db;
try {
  const started = Date.now();
  const handle = await client.workflow.start(tenantSyncWorkflowType, {
    taskQueue,
    workflowId: tenantWorkflowId(tenantId),
    args: [{ tenantId, realmId, mode: 'two_way', pollIntervalSeconds: 3600 }],
  });
  // The damage is an edit made just now: the incremental pass after the backfill reads what the
  // backfill's end (a few seconds before now) left out.
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    const backfill = await latestSucceededPass(db, tenantId, 'backfill');
    const incremental = await latestSucceededPass(db, tenantId, 'incremental');
    if (backfill?.finished_at && incremental && incremental.id > backfill.id) break;
    if (Date.now() > deadline) throw new Error('no backfill and incremental pass succeeded within 15 minutes');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const seconds = (Date.now() - started) / 1000;
  await handle.cancel();

  const passes = await db
    .selectFrom('sync_passes')
    .select(['kind', 'status', 'error'])
    .where('tenant_id', '=', tenantId)
    .execute();
  const notSucceeded = passes.filter((pass) => pass.status !== 'succeeded' && pass.status !== 'running');
  const errors = await db
    .selectFrom('sync_errors')
    .select(['entity_type', 'qbo_id', 'error_type', 'field'])
    .where('tenant_id', '=', tenantId)
    .where('resolved_at', 'is', null)
    .execute();
  const byId = new Map(errors.map((error) => [`${error.entity_type}:${error.qbo_id}`, error]));
  let inSyncErrors = 0;
  let wrongField = 0;
  const idless = new Map<string, number>();
  for (const error of errors)
    if (error.qbo_id.startsWith('#') && error.field === 'Id')
      idless.set(error.entity_type, (idless.get(error.entity_type) ?? 0) + 1);
  for (const record of damaged) {
    if (record.kind === 'missing') {
      const left = idless.get(record.entity) ?? 0;
      if (left > 0) {
        inSyncErrors++;
        idless.set(record.entity, left - 1);
      }
      continue;
    }
    const error = byId.get(`${record.entity}:${record.id}`);
    if (!error) continue;
    inSyncErrors++;
    if (error.error_type !== 'MappingError' || error.field !== record.field) {
      wrongField++;
      console.log(`wrong error for ${record.entity} ${record.id} (${record.kind}): ${JSON.stringify(error)}`);
    }
  }
  const blocked = errors.filter((error) => error.error_type === 'MissingReference').length;

  const report = await verifyTenant(db, await createQboClientForTenant(fixture.deps, tenantId), tenantId);
  console.log(`company: ${customers} customers, ${transactions} transactions, ${records} records in all`);
  console.log(
    `per entity: ${syncedEntities.map((entity) => `${entity} ${state.entities[entity]?.length ?? 0}`).join(', ')}`,
  );
  const differences = new Map<string, number>();
  const unsettled = report.records.filter((record) => record.kind !== 'failed');
  for (const record of unsettled) {
    const key = `${record.kind} ${record.entity}`;
    differences.set(key, (differences.get(key) ?? 0) + 1);
  }
  if (differences.size > 0)
    console.log(`verify differences: ${[...differences].map(([key, count]) => `${count} ${key}`).join(', ')}`);
  for (const poison of poisons) {
    const count = damaged.filter((record) => record.kind === poison.kind).length;
    console.log(`damaged ${poison.kind}${poison.field ? ` ${poison.field}` : ''}: ${count}`);
  }
  console.log(
    `passes: ${passes.length} (${notSucceeded.length} not succeeded${notSucceeded.length ? `: ${notSucceeded.map((pass) => pass.error).join('; ')}` : ''}), backfill and first incremental in ${seconds.toFixed(1)} s`,
  );
  console.log(
    `sync_errors: ${errors.length} open, ${inSyncErrors} of ${damaged.length} damaged records (${wrongField} with the wrong field), ${blocked} records referring to a damaged one`,
  );
  console.log(
    `verify: ${report.missing} missing, ${report.extra} extra, ${report.different} different, ${report.failed} failed (held in sync_errors)`,
  );
  console.log(
    `records=${records} damaged=${damaged.length} in_sync_errors=${inSyncErrors} wrong_field=${wrongField} blocked=${blocked} passes=${passes.length} failed_passes=${notSucceeded.length} missing=${report.missing} extra=${report.extra} different=${report.different} failed=${report.failed}`,
  );
  if (notSucceeded.length > 0 || inSyncErrors !== damaged.length || wrongField > 0 || unsettled.length > 0)
    process.exitCode = 1;
} finally {
  await worker.stop();
  await client.connection.close();
  await fixture.stop();
  await server.stop();
}
