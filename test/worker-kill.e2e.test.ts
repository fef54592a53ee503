import { spawn, type ChildProcess } from 'node:child_process';
import protos from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TenantStatus } from '../common/sync-types.js';
import { cliEnv, cliPath, repoRoot } from './cli.js';
import { duplicateCounts } from './duplicate-counts.js';
import { startTenantHarness, workerProcessEnv, type TenantHarness } from './tenant-harness.js';

/**
 * Workers die: deploys, crashes, machines taken away. A real worker process (`qbsync worker`) is
 * killed with SIGKILL at random moments during a backfill, ten times, and started again each time.
 */
const { temporal } = protos;

describe('R23: killing the worker mid-page', () => {
  let tenant: TenantHarness;
  let worker: ChildProcess | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    tenant = await startTenantHarness({
      tenantId: 'killed',
      company: { customers: 3000, transactions: 20000, items: 40, seed: 44 },
      startDate: '2000-01-01',
      // The workers here are real processes, started and killed by the test.
      worker: false,
    });
    // One page per activity: each kill strikes a page on its first attempt, ten of them in a backfill
    // this size (activities/sync/sync.activities.integration.test.ts covers a retry after several pages).
    env = { ...workerProcessEnv(tenant, inject('temporalAddress')), QBSYNC_PAGES_PER_ACTIVITY: '1' };
  });

  afterAll(async () => {
    worker?.kill('SIGKILL');
    await tenant?.stop();
  });

  function startWorkerProcess(): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [cliPath, 'worker'], { cwd: repoRoot, env: cliEnv(env) });
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Worker polling')) resolve(child);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code, signal) => {
        if (!output.includes('Worker polling'))
          reject(new Error(`qbsync worker exited (${code ?? signal}): ${output}`));
      });
    });
  }

  /**
   * A page on its first attempt, started by the worker now running: a page that a killed worker
   * left started still shows as started until its heartbeat times out, and striking then would hit
   * a worker that holds no page. The worker's default identity begins with its pid.
   */
  async function firstAttemptPageRunning(pid: number | undefined): Promise<boolean> {
    const described = await tenant.handle().describe();
    return (described.raw.pendingActivities ?? []).some(
      (activity) =>
        activity.activityType?.name === 'syncEntityPage' &&
        activity.attempt === 1 &&
        activity.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED &&
        (activity.lastWorkerIdentity ?? '').startsWith(`${pid}@`),
    );
  }

  function status(): Promise<TenantStatus> {
    return tenant.status();
  }

  it('ends with verify at 0 differences and no duplicate rows after 10 kills during the backfill', async () => {
    let kills = 0;
    worker = await startWorkerProcess();
    while (kills < 10) {
      // Kill it in the middle of a page: wait for a page on its first attempt to be running (so
      // each kill hits a new page, not the retry of the last one), then strike at a random moment.
      for (let waited = 0; !(await firstAttemptPageRunning(worker.pid)); waited += 50) {
        if (waited > 120_000) throw new Error('no page started on the restarted worker within 2 minutes');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
      const before = await status();
      expect(before.phase, `the backfill ended after ${kills} kills: make the company larger`).toBe('backfill');
      const exited = new Promise((resolve) => worker!.once('exit', resolve));
      worker.kill('SIGKILL');
      await exited;
      kills += 1;
      worker = await startWorkerProcess();
    }
    const deadline = Date.now() + 300_000;
    for (;;) {
      const current = await status();
      if (current.phase === 'incremental' && current.lastPass) {
        expect(current.lastError).toBeNull();
        break;
      }
      if (Date.now() > deadline) throw new Error(`the backfill did not finish: ${JSON.stringify(current)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await tenant.expectInStep();

    // No duplicates: every CRM row has exactly one link, and every link one row.
    const counts = await duplicateCounts(tenant.fixture.database.db, tenant.tenantId);
    expect(counts.accounts).toBe(counts.accountLinks);
    expect(counts.opportunities).toBe(counts.opportunityLinks);
    expect(counts.members).toBe(counts.accounts);
    expect(counts.contacts).toBeLessThanOrEqual(counts.accounts);
  }, 600_000);
});
