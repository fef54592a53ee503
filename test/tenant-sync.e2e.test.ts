import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createQboClientForTenant } from '../activities/qbo/qbo-auth.js';
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
import { connectedTenant, startQboFixture, type QboFixture } from './onboarding-helpers.js';

async function waitFor(
  handle: WorkflowHandle,
  what: string,
  done: (status: TenantStatus) => boolean,
  timeoutMs = 90_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await handle.query(statusQuery);
    if (done(status)) return status;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('tenant sync workflow, end to end (simulator + worker + Temporal + PostgreSQL)', () => {
  let fixture: QboFixture;
  let worker: WorkerHandle;
  let client: Client;
  let handle: WorkflowHandle;
  let realmId: string;
  const tenantId = 'acme';
  const taskQueue = `tenant-sync-${Date.now()}`;

  beforeAll(async () => {
    fixture = await startQboFixture({ customers: 400, transactions: 1500, items: 25, seed: 7 });
    realmId = (await connectedTenant(fixture, tenantId)).realmId;
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

  function companyState() {
    return (
      fixture.sim.sim.adminState(realmId) as {
        entities: { Customer: Array<{ Id: string; Active?: boolean; Job?: boolean }>; Invoice: Array<{ Id: string }> };
      }
    ).entities;
  }

  async function verify() {
    return verifyTenant(fixture.database.db, await createQboClientForTenant(fixture.deps, tenantId), tenantId);
  }

  async function syncNowAndWait() {
    const before = (await handle.query(statusQuery)).lastPass?.finishedAt ?? '';
    await handle.signal(syncNowSignal, { reason: 'test' });
    return waitFor(handle, 'the next pass', (s) => (s.lastPass?.finishedAt ?? '') > before);
  }

  it('R5/R23: backfills from the start date, then verify finds 0 missing, 0 extra, 0 different', async () => {
    const status = await waitFor(handle, 'the backfill', (s) => s.phase === 'incremental' && s.lastPass !== null);
    expect(status.lastError).toBeNull();
    expect(status.entities.Customer.done).toBeGreaterThan(0);
    const report = await verify();
    expect(report.records.slice(0, 5)).toEqual([]);
    expect({ missing: report.missing, extra: report.extra, different: report.different }).toEqual({
      missing: 0,
      extra: 0,
      different: 0,
    });
    expect(report.counts.Invoice.qbo).toBeGreaterThan(0);
  });

  it('R20/R22: edits, deactivations and hard deletes in QBO arrive on the next pass', async () => {
    const state = companyState();
    const customerIds = state.Customer.filter((c) => c.Active !== false).map((c) => c.Id);
    fixture.sim.sim.adminEditCustomer(realmId, customerIds[0]!, { CompanyName: "Les Entreprises d'Édouard inc." });
    fixture.sim.sim.adminSetActive(realmId, 'Customer', customerIds[1]!, false);
    fixture.sim.sim.adminDelete(realmId, 'Invoice', state.Invoice[0]!.Id);
    const status = await syncNowAndWait();
    expect(status.lastError).toBeNull();
    const report = await verify();
    expect(report.records.slice(0, 5)).toEqual([]);
    expect(report.missing + report.extra + report.different).toBe(0);
  });

  it('R24: a paused tenant runs no pass, and catches up after resume', async () => {
    await handle.signal(pauseSignal, { reason: 'support' });
    const paused = await waitFor(handle, 'pause', (s) => s.paused);
    expect(paused.pausedReason).toBe('support');
    const state = companyState();
    fixture.sim.sim.adminEditCustomer(realmId, state.Customer.find((c) => c.Active !== false)!.Id, {
      CompanyName: 'Changed While Paused Ltd',
    });
    await handle.signal(syncNowSignal, { reason: 'ignored while paused' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await verify()).different).toBe(1);
    const before = (await handle.query(statusQuery)).lastPass?.finishedAt ?? '';
    await handle.signal(resumeSignal);
    const resumed = await waitFor(
      handle,
      'the catch-up pass',
      (s) => !s.paused && (s.lastPass?.finishedAt ?? '') > before,
    );
    expect(resumed.lastError).toBeNull();
    const report = await verify();
    expect(report.missing + report.extra + report.different).toBe(0);
  });
});
