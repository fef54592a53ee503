import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { expect, inject } from 'vitest';
import { connectTenant, createQboClientForTenant } from '../activities/qbo/qbo-auth.js';
import type { QboClient } from '../activities/qbo/qbo-client.js';
import { latestSucceededPass } from '../db/repositories/sync-passes.js';
import { verifyTenant, type VerifyReport } from '../client/verify.js';
import type { TenantStatus } from '../common/sync-types.js';
import type { StartOptions } from '../sandbox/index.js';
import { loadConfig } from '../worker/config.js';
import { startWorker, type WorkerHandle } from '../worker/main.js';
import {
  statusQuery,
  syncNowUpdate,
  tenantSyncWorkflowType,
  tenantWorkflowId,
  type TenantSyncInput,
} from '../workflows/definitions.js';
import { consent, createTenant, startQboFixture, type QboFixture } from './onboarding-helpers.js';

/** A record as the simulator's full state lists it. */
export interface CompanyRecord {
  readonly Id: string;
  readonly Active?: boolean;
  readonly Job?: boolean;
  readonly Type?: string;
  readonly TxnDate?: string;
  readonly CompanyName?: string;
  readonly DisplayName?: string;
}

/**
 * One tenant synced end to end for a test: a simulated company, a throw-away database, a connected
 * tenant, a worker on its own task queue (unless the test runs its own) and the tenant's workflow.
 */
export interface TenantHarness {
  readonly fixture: QboFixture;
  readonly client: Client;
  readonly tenantId: string;
  readonly realmId: string;
  readonly taskQueue: string;
  /** The workflow's latest run (continue-as-new starts new ones). */
  handle(): WorkflowHandle;
  status(): Promise<TenantStatus>;
  waitFor(what: string, done: (status: TenantStatus) => boolean, timeoutMs?: number): Promise<TenantStatus>;
  /** Waits for the backfill to end; its pass's records and duration, from the audit log. */
  backfilled(timeoutMs?: number): Promise<{ readonly records: number; readonly seconds: number }>;
  /** Asks for a pass now and waits for it to finish; fails on a pass that ended in error. */
  pass(): Promise<TenantStatus>;
  verify(): Promise<VerifyReport>;
  /** verify, expecting 0 missing, 0 extra and 0 different; says why when it is not so. */
  expectInStep(): Promise<VerifyReport>;
  company(): Record<string, CompanyRecord[]>;
  stop(): Promise<void>;
}

export async function startTenantHarness(options: {
  /** A readable prefix; the harness makes the tenant id unique. */
  readonly tenantId: string;
  readonly company: StartOptions;
  readonly startDate?: string;
  readonly input?: Partial<TenantSyncInput>;
  /** False when the test runs workers itself (as processes, say). */
  readonly worker?: boolean;
  /** Runs before the workflow starts, e.g. to damage records. */
  readonly beforeStart?: (fixture: QboFixture, realmId: string) => void;
  /** Wraps the worker's QBO client, e.g. to fail after a call as a worker dying there would. */
  readonly wrapQboClient?: (client: QboClient) => QboClient;
}): Promise<TenantHarness> {
  const fixture = await startQboFixture(options.company, {}, { limited: true });
  // The Temporal server is shared by every test file: a unique id keeps workflow ids apart.
  const tenantId = `${options.tenantId}-${Math.random().toString(36).slice(2, 8)}`;
  const taskQueue = `${tenantId}-${Date.now()}`;
  let worker: WorkerHandle | undefined;
  let client: Client | undefined;
  try {
    await createTenant(fixture, tenantId, options.startDate ?? '2024-01-01');
    const { realmId } = await connectTenant(fixture.deps, tenantId, await consent(fixture));
    options.beforeStart?.(fixture, realmId);
    if (options.worker !== false) {
      const config = loadConfig({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TASK_QUEUE: taskQueue });
      worker = await startWorker({
        config,
        db: fixture.database.db,
        qboClientFor: async (id) => {
          const qboClient = await createQboClientForTenant(fixture.deps, id);
          return options.wrapQboClient ? options.wrapQboClient(qboClient) : qboClient;
        },
      });
    }
    const connected = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
    client = connected;
    const input: TenantSyncInput = {
      tenantId,
      realmId,
      mode: 'two_way',
      pollIntervalSeconds: 3600,
      ...options.input,
    };
    await connected.workflow.start(tenantSyncWorkflowType, {
      taskQueue,
      workflowId: tenantWorkflowId(tenantId),
      args: [input],
    });

    const handle = () => connected.workflow.getHandle(tenantWorkflowId(tenantId));
    const status = () => handle().query(statusQuery);
    const waitFor = async (what: string, done: (status: TenantStatus) => boolean, timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const current = await status();
        if (done(current)) return current;
        if (Date.now() > deadline) {
          const pending = ((await handle().describe()).raw.pendingActivities ?? []).map((activity) => ({
            type: activity.activityType?.name,
            attempt: activity.attempt,
            failure: activity.lastFailure?.message,
          }));
          throw new Error(
            `timed out waiting for ${what}: ${JSON.stringify(current)}; pending: ${JSON.stringify(pending)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const verify = async () =>
      verifyTenant(fixture.database.db, await createQboClientForTenant(fixture.deps, tenantId), tenantId);
    const company = () =>
      (fixture.sim.sim.adminState(realmId) as { entities: Record<string, CompanyRecord[]> }).entities;
    return {
      fixture,
      client: connected,
      tenantId,
      realmId,
      taskQueue,
      handle,
      status,
      waitFor,
      async backfilled(timeoutMs = 240_000) {
        await waitFor('the backfill', (s) => s.phase === 'incremental' && s.lastPass !== null, timeoutMs);
        const pass = await latestSucceededPass(fixture.database.db, tenantId, 'backfill');
        if (!pass?.finished_at) throw new Error('the backfill finished no pass');
        const counts = pass.counts as { written: number; unchanged: number; deleted: number };
        return {
          records: counts.written + counts.unchanged + counts.deleted,
          seconds: (pass.finished_at.getTime() - pass.started_at.getTime()) / 1000,
        };
      },
      async pass() {
        for (;;) {
          const result = await handle().executeUpdate(syncNowUpdate, { args: [{ reason: 'test', wait: true }] });
          // 'requested': the run continued as new before the pass ended; ask the next run.
          if (result.outcome === 'requested') continue;
          expect(result.lastError).toBeNull();
          expect(result.outcome).toBe('succeeded');
          return status();
        }
      },
      verify,
      async expectInStep() {
        const report = await verify();
        // Records held in the error table are counted apart (report.failed), not differences.
        const unsettled = report.records.filter((r) => r.kind !== 'failed');
        if (unsettled.length > 0) {
          // Say why: what the error table holds and what QBO holds for the first few.
          const errors = await fixture.database.db
            .selectFrom('sync_errors')
            .selectAll()
            .where('resolved_at', 'is', null)
            .execute();
          const records = unsettled.slice(0, 5).map((r) => {
            const body = fixture.sim.sim.read(realmId, r.entity, r.qboId) as Record<string, Record<string, unknown>>;
            return { ...r, metaData: body[r.entity]?.['MetaData'], txnDate: body[r.entity]?.['TxnDate'] };
          });
          console.log(JSON.stringify({ records, errors }));
        }
        expect(unsettled.slice(0, 5)).toEqual([]);
        expect({ missing: report.missing, extra: report.extra, different: report.different }).toEqual({
          missing: 0,
          extra: 0,
          different: 0,
        });
        return report;
      },
      company,
      async stop() {
        await handle()
          .cancel()
          .catch(() => undefined);
        await worker?.stop();
        await connected.connection.close();
        await fixture.stop();
      },
    };
  } catch (error) {
    await worker?.stop();
    await client?.connection.close();
    await fixture.stop();
    throw error;
  }
}
