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
import { historyFigures } from './history.js';
import { connectedTenant, startQboFixture, type QboFixture } from './onboarding-helpers.js';

const day = 86_400_000;

interface CompanyRecord {
  Id: string;
  Active?: boolean;
  Job?: boolean;
  Type?: string;
  TxnDate?: string;
  CompanyName?: string;
  DisplayName?: string;
}

describe('a tenant over 30 simulated days and a 45-day pause (R20, R22, R23, R24)', () => {
  let fixture: QboFixture;
  let worker: WorkerHandle;
  let client: Client;
  let realmId: string;
  let simClock = Date.now();
  const tenantId = 'longlife';
  const taskQueue = `tenant-sync-long-${Date.now()}`;

  beforeAll(async () => {
    fixture = await startQboFixture({ customers: 300, transactions: 1200, items: 25, seed: 21, now: () => simClock });
    realmId = (await connectedTenant(fixture, tenantId)).realmId;
    const config = loadConfig({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TASK_QUEUE: taskQueue });
    worker = await startWorker({
      config,
      db: fixture.database.db,
      qboClientFor: (id) => createQboClientForTenant(fixture.deps, id),
    });
    client = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
    const input: TenantSyncInput = {
      tenantId,
      realmId,
      mode: 'two_way',
      incrementalEverySeconds: 3600,
      // Small, so that this test's 30 passes cross at least one continue-as-new.
      continueAsNewAfterEvents: 150,
    };
    await client.workflow.start(tenantSyncWorkflowType, {
      taskQueue,
      workflowId: tenantWorkflowId(tenantId),
      args: [input],
    });
  });

  afterAll(async () => {
    await client?.workflow
      .getHandle(tenantWorkflowId(tenantId))
      .cancel()
      .catch(() => undefined);
    await worker?.stop();
    await client?.connection.close();
    await fixture?.stop();
  });

  function current(): WorkflowHandle {
    return client.workflow.getHandle(tenantWorkflowId(tenantId));
  }

  async function waitFor(what: string, done: (status: TenantStatus) => boolean, timeoutMs = 90_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await current().query(statusQuery);
      if (done(status)) return status;
      if (Date.now() > deadline) {
        const described = await current().describe();
        const pending = (described.raw.pendingActivities ?? []).map((activity) => ({
          type: activity.activityType?.name,
          attempt: activity.attempt,
          failure: activity.lastFailure?.message,
        }));
        throw new Error(
          `timed out waiting for ${what}: ${JSON.stringify(status)}; pending: ${JSON.stringify(pending)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async function pass() {
    const before = (await current().query(statusQuery)).lastPass?.finishedAt ?? '';
    await current().signal(syncNowSignal, { reason: 'test' });
    const status = await waitFor('a pass', (s) => (s.lastPass?.finishedAt ?? '') > before);
    expect(status.lastError).toBeNull();
    return status;
  }

  function company() {
    return (fixture.sim.sim.adminState(realmId) as { entities: Record<string, CompanyRecord[]> }).entities;
  }

  async function expectInStep() {
    const report = await verifyTenant(
      fixture.database.db,
      await createQboClientForTenant(fixture.deps, tenantId),
      tenantId,
    );
    expect(report.records.slice(0, 5)).toEqual([]);
    expect({ missing: report.missing, extra: report.extra, different: report.different }).toEqual({
      missing: 0,
      extra: 0,
      different: 0,
    });
    return report;
  }

  function churn(dayNumber: number) {
    const state = company();
    const active = state['Customer']!.filter((c) => c.Active !== false && !c.Job);
    fixture.sim.sim.adminEditCustomer(realmId, active[dayNumber % active.length]!.Id, {
      CompanyName: `Client du jour ${dayNumber}`,
    });
    if (dayNumber % 3 === 0) {
      const invoices = state['Invoice']!.filter((i) => (i.TxnDate ?? '') >= '2024-01-01');
      fixture.sim.sim.adminDelete(realmId, 'Invoice', invoices[dayNumber % invoices.length]!.Id);
    }
    if (dayNumber % 5 === 0)
      fixture.sim.sim.adminSetActive(realmId, 'Customer', active[(dayNumber * 7) % active.length]!.Id, false);
    if (dayNumber % 10 === 0) {
      const categories = state['Item']!.filter((i) => i.Type === 'Category' && i.Active !== false);
      if (categories[0]) fixture.sim.sim.adminSetActive(realmId, 'Item', categories[0].Id, false);
    }
  }

  it('stays in step through 30 days of edits, deactivations and hard deletes, with a short history', async () => {
    await waitFor('the backfill', (s) => s.phase === 'incremental' && s.lastPass !== null);
    await expectInStep();
    for (let dayNumber = 1; dayNumber <= 30; dayNumber += 1) {
      simClock += day;
      churn(dayNumber);
      await pass();
    }
    await expectInStep();
    const status = await current().query(statusQuery);
    expect(status.run).toBeGreaterThan(1);

    const figures = await historyFigures(client, tenantWorkflowId(tenantId));
    expect(figures.maxEventsPerRun).toBeLessThan(4096);
    expect(figures.largestPayloadBytes).toBeLessThan(16 * 1024);
    const customers = company()['Customer']!;
    const names = customers.map((c) => c.CompanyName ?? c.DisplayName).filter((n): n is string => !!n && n.length > 6);
    const leaked = names.filter((name) => figures.payloadTexts.some((text) => text.includes(name)));
    expect(leaked).toEqual([]);
  });

  it('catches up after a 45-day pause, past CDC reach, finding hard deletes by reconciliation', async () => {
    await current().signal(pauseSignal, { reason: 'support: long pause' });
    await waitFor('pause', (s) => s.paused);
    simClock += 45 * day;
    for (let dayNumber = 31; dayNumber <= 36; dayNumber += 1) churn(dayNumber);
    fixture.sim.sim.adminBulkEdit(realmId, 1500);
    // Passes read up to a few seconds before QBO's now (records may still be committing there): let
    // the simulated clock move on past the edits, as a real one would.
    simClock += 10_000;
    const before = (await current().query(statusQuery)).lastPass?.finishedAt ?? '';
    await current().signal(resumeSignal);
    const resumed = await waitFor(
      'the catch-up pass',
      (s) => !s.paused && (s.lastPass?.finishedAt ?? '') > before,
      180_000,
    );
    expect(resumed.lastError).toBeNull();
    await expectInStep();
  }, 300_000);
});
