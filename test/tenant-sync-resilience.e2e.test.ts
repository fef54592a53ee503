import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectTenant, createQboClientForTenant } from '../activities/qbo/qbo-auth.js';
import { verifyTenant } from '../client/verify.js';
import type { TenantStatus } from '../common/sync-types.js';
import { loadConfig } from '../worker/config.js';
import { startWorker, type WorkerHandle } from '../worker/main.js';
import {
  pauseSignal,
  resumeSignal,
  statusQuery,
  syncNowSignal,
  tenantSyncWorkflowType,
  tenantWorkflowId,
  type TenantSyncInput,
} from '../workflows/definitions.js';
import { consent, createTenant, startQboFixture, type QboFixture } from './onboarding-helpers.js';

const byEntity = (a: { entity: string }, b: { entity: string }) => a.entity.localeCompare(b.entity);

interface CompanyRecord {
  Id: string;
  Active?: boolean;
  Job?: boolean;
  Type?: string;
}

describe('tenant sync under load and damage (R20, R23, R24)', () => {
  let fixture: QboFixture;
  let worker: WorkerHandle;
  let client: Client;
  let handle: WorkflowHandle;
  let realmId: string;
  const tenantId = 'resilience';
  const taskQueue = `tenant-sync-resilience-${Date.now()}`;
  const damaged: Array<{ entity: string; id: string }> = [];

  beforeAll(async () => {
    fixture = await startQboFixture({ customers: 1500, transactions: 6000, items: 40, seed: 33 });
    // A start date before every record: the whole company is in scope.
    await createTenant(fixture, tenantId, '2000-01-01');
    realmId = (await connectTenant(fixture.deps, tenantId, await consent(fixture))).realmId;
    const entities = company();
    const customer = entities['Customer']!.find((c) => !c.Job && c.Active !== false)!;
    const invoice = entities['Invoice']![3]!;
    const product = entities['Item']!.find((i) => i.Type !== 'Category')!;
    fixture.sim.sim.adminCorrupt(realmId, 'Customer', customer.Id, 'oversized', { field: 'CompanyName', length: 5000 });
    fixture.sim.sim.adminCorrupt(realmId, 'Invoice', invoice.Id, 'missing', { field: 'TxnDate' });
    fixture.sim.sim.adminCorrupt(realmId, 'Item', product.Id, 'wrongType', { field: 'Name' });
    damaged.push(
      { entity: 'Customer', id: customer.Id },
      { entity: 'Invoice', id: invoice.Id },
      { entity: 'Item', id: product.Id },
    );

    const config = loadConfig({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TASK_QUEUE: taskQueue });
    worker = await startWorker({
      config,
      db: fixture.database.db,
      qboClientFor: (id) => createQboClientForTenant(fixture.deps, id),
    });
    client = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
    const input: TenantSyncInput = { tenantId, realmId, mode: 'two_way', incrementalEverySeconds: 3600 };
    handle = await client.workflow.start(tenantSyncWorkflowType, {
      taskQueue,
      workflowId: tenantWorkflowId(tenantId),
      args: [input],
    });
  });

  afterAll(async () => {
    await handle?.cancel().catch(() => undefined);
    await worker?.stop();
    await client?.connection.close();
    await fixture?.stop();
  });

  function company() {
    return (fixture.sim.sim.adminState(realmId) as { entities: Record<string, CompanyRecord[]> }).entities;
  }

  async function waitFor(what: string, done: (status: TenantStatus) => boolean, timeoutMs = 240_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await handle.query(statusQuery);
      if (done(status)) return status;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(status)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function expectInStep() {
    const report = await verifyTenant(
      fixture.database.db,
      await createQboClientForTenant(fixture.deps, tenantId),
      tenantId,
    );
    if (report.records.length > 0) {
      // Say why, to make a failure readable: the error table and what QBO holds for the first few.
      const errors = await fixture.database.db
        .selectFrom('sync_errors')
        .selectAll()
        .where('resolved_at', 'is', null)
        .execute();
      const records = report.records.slice(0, 5).map((r) => {
        const body = fixture.sim.sim.read(realmId, r.entity, r.qboId) as Record<string, Record<string, unknown>>;
        return { ...r, metaData: body[r.entity]?.['MetaData'], txnDate: body[r.entity]?.['TxnDate'] };
      });
      console.log(JSON.stringify({ records, errors }));
    }
    expect(report.records.slice(0, 5)).toEqual([]);
    expect({ missing: report.missing, extra: report.extra, different: report.different }).toEqual({
      missing: 0,
      extra: 0,
      different: 0,
    });
  }

  it('R23: edits made during the backfill, a 5,000-record burst in one second among them, all arrive; damaged records go to the error table', async () => {
    await waitFor('the backfill to be under way', (s) => s.phase === 'backfill' && s.entities.Customer.done > 0);
    const burst = fixture.sim.sim.adminBulkEdit(realmId, 5000);
    expect(new Set(burst.edited.map((e) => e.entity)).size).toBeGreaterThan(1);
    const customers = company()['Customer']!.filter((c) => !c.Job && c.Active !== false);
    fixture.sim.sim.adminEditCustomer(realmId, customers[1]!.Id, { CompanyName: 'Édité pendant le rattrapage' });
    fixture.sim.sim.adminSetActive(realmId, 'Customer', customers[2]!.Id, false);

    await waitFor('the backfill', (s) => s.phase === 'incremental' && s.lastPass !== null);
    // Passes read up to a few seconds before QBO's clock: run one more to be past the burst's second.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const before = (await handle.query(statusQuery)).lastPass?.finishedAt ?? '';
    await handle.signal(syncNowSignal, { reason: 'test' });
    const status = await waitFor('a pass after the burst', (s) => (s.lastPass?.finishedAt ?? '') > before);
    expect(status.lastError).toBeNull();
    await expectInStep();

    const errors = await fixture.database.db
      .selectFrom('sync_errors')
      .select(['entity_type', 'qbo_id', 'field', 'error_type'])
      .where('tenant_id', '=', tenantId)
      .where('resolved_at', 'is', null)
      .execute();
    // The three damaged records fail to map, each named with its field; documents of the damaged
    // customer cannot be placed and say so. Nothing else is in error.
    const mappingErrors = errors.filter((e) => e.error_type === 'MappingError');
    expect(mappingErrors.map((e) => ({ entity: e.entity_type, id: e.qbo_id })).sort(byEntity)).toEqual(
      [...damaged].sort(byEntity),
    );
    expect(mappingErrors.every((e) => (e.field ?? '') !== '')).toBe(true);
    const others = errors.filter((e) => e.error_type !== 'MappingError');
    expect(others.every((e) => e.error_type === 'MissingReference' && e.field === 'CustomerRef')).toBe(true);
    expect(status.openErrors).toBe(errors.length);
  }, 300_000);

  it('R24: a paused tenant sends 0 requests to QBO, and loses nothing changed meanwhile', async () => {
    await handle.signal(pauseSignal, { reason: 'support' });
    await waitFor('pause', (s) => s.paused);
    // A pass that had started finishes its activity; then nothing more goes out.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    fixture.sim.sim.resetApiRequestCounts(realmId);
    const customers = company()['Customer']!.filter((c) => !c.Job && c.Active !== false);
    fixture.sim.sim.adminEditCustomer(realmId, customers[5]!.Id, { CompanyName: 'Modifié pendant la pause' });
    await handle.signal(syncNowSignal, { reason: 'ignored while paused' });
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(fixture.sim.sim.apiRequestCount(realmId)).toBe(0);

    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const before = (await handle.query(statusQuery)).lastPass?.finishedAt ?? '';
    await handle.signal(resumeSignal);
    const status = await waitFor('the catch-up pass', (s) => !s.paused && (s.lastPass?.finishedAt ?? '') > before);
    expect(status.lastError).toBeNull();
    expect(fixture.sim.sim.apiRequestCount(realmId)).toBeGreaterThan(0);
    await expectInStep();
  }, 120_000);
});
