import type { Command } from 'commander';
import type { WorkflowHandle, WorkflowUpdateHandle } from '@temporalio/client';
import { OperatorError } from '../../common/errors.js';
import type { MergePair } from '../../common/repair-types.js';
import type { SyncMode } from '../../common/sync-types.js';
import type { Kysely } from 'kysely';
import type { QboClient } from '../../activities/qbo/qbo-client.js';
import type { Database } from '../../db/schema.js';
import { loadConfig, type Config } from '../../worker/config.js';
import { UsageError } from '../cli-errors.js';
import { tenantArg } from './args.js';
import {
  describeSyncNow,
  formatDuration,
  formatInterval,
  formatStatus,
  formatStatusLine,
  formatVerifyReport,
  modeArg,
  modeLabel,
  pollIntervalArg,
  mergeArg,
  reconcileDaysArg,
  describeRepairOutcome,
  renderBackfillProgress,
  verifyJson,
} from '../tenant-status.js';
import type { RunningWorkflow, TenantContext } from '../tenant-control.js';

// `qbsync status|pause|resume|mode|sync-now|repair|watch|verify`: the support and engineer commands
// of the tenant sync workflow (issue 7). Temporal, pg and the QBO client load inside the actions.

const log = (line: string) => process.stdout.write(`${line}\n`);

export class VerifyDifferencesError extends OperatorError {
  override readonly name = 'VerifyDifferencesError';
}

/** repair: the repair failed, or did not end in this run of the workflow. */
export class RepairNotDoneError extends OperatorError {
  override readonly name = 'RepairNotDoneError';
}

/** sync-now --wait: the pass failed, or the tenant was paused before it ran. */
export class PassNotDoneError extends OperatorError {
  override readonly name = 'PassNotDoneError';
}

/** Runs a support command with the database open (Temporal on first use), closing both after. */
export async function withContext<T>(run: (context: TenantContext) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  const { openTenantContext } = await import('../tenant-control.js');
  const context = await openTenantContext(config);
  try {
    return await run(context);
  } finally {
    await context.close();
  }
}

async function runningWorkflow(context: TenantContext, tenantId: string): Promise<RunningWorkflow> {
  const { requireRunningWorkflow } = await import('../tenant-control.js');
  return requireRunningWorkflow(context, tenantId);
}

/** A control update on the tenant's workflow, in its own context; see runUpdate for the deadlines. */
async function controlUpdate<Ret>(
  tenantId: string,
  name: string,
  start: (handle: WorkflowHandle) => Promise<WorkflowUpdateHandle<Ret>>,
  answerMs?: number,
): Promise<Ret> {
  return withContext((context) => controlUpdateIn(context, tenantId, name, start, answerMs));
}

async function controlUpdateIn<Ret>(
  context: TenantContext,
  tenantId: string,
  name: string,
  start: (handle: WorkflowHandle) => Promise<WorkflowUpdateHandle<Ret>>,
  answerMs = 10_000,
): Promise<Ret> {
  const { runUpdate } = await import('../tenant-control.js');
  const workflow = await runningWorkflow(context, tenantId);
  return runUpdate(context, workflow, name, start, { acceptMs: 10_000, answerMs });
}

function operator(): string {
  const user = process.env['USER'] ?? process.env['LOGNAME'];
  return `qbsync CLI${user ? ` (${user})` : ''}`;
}

export function registerTenantCommands(program: Command): void {
  program
    .command('status')
    .description("a tenant's sync status (phase, mode, pause, progress per entity, last pass, errors)")
    .argument('[tenant]', 'tenant id', tenantArg)
    .option('--all', 'one line per tenant in the database')
    .option('--json', "print the workflow's status query result as JSON")
    .action(async (tenantId: string | undefined, options: { all?: boolean; json?: boolean }) => {
      if (options.all && tenantId !== undefined) throw new UsageError('give either a tenant or --all, not both');
      if (!options.all && tenantId === undefined) throw new UsageError('give a tenant id, or --all for every tenant');
      await withContext(async (context) => {
        const control = await import('../tenant-control.js');
        if (tenantId !== undefined) {
          const workflow = await runningWorkflow(context, tenantId);
          const status = await control.queryStatus(workflow);
          log(options.json ? JSON.stringify(status, null, 2) : formatStatus(status, workflow.workflowId, new Date()));
          return;
        }
        const tenants = await control.listTenants(context);
        const client = await context.temporal();
        const views = await Promise.all(
          tenants.map(async (id) => {
            const found = await control.findRunningWorkflow(client, id);
            if ('notRunning' in found) return { tenantId: id, notRunning: found.notRunning };
            try {
              return { tenantId: id, status: await control.queryStatus(found, 5_000) };
            } catch (error) {
              if (error instanceof control.WorkflowUnresponsiveError) {
                return { tenantId: id, notRunning: 'running, but no worker answered the status query' };
              }
              throw error;
            }
          }),
        );
        if (options.json) {
          log(
            JSON.stringify(
              views.map((v) =>
                'status' in v ? { tenantId: v.tenantId, running: true, status: v.status } : { ...v, running: false },
              ),
              null,
              2,
            ),
          );
          return;
        }
        if (views.length === 0) log('No tenants in the database.');
        const now = new Date();
        for (const view of views) log(formatStatusLine(view.tenantId, view, now));
      });
    });

  program
    .command('pause')
    .description('pause a tenant: its workflow makes no QuickBooks calls until resumed')
    .argument('<tenant>', 'tenant id', tenantArg)
    .option('--reason <text>', 'why, shown by qbsync status', 'paused by support')
    .action(async (tenantId: string, options: { reason: string }) => {
      const { pauseUpdate } = await import('../../workflows/definitions.js');
      const state = await controlUpdate(tenantId, 'pause', (handle) =>
        handle.startUpdate(pauseUpdate, { args: [{ reason: options.reason }], waitForStage: 'ACCEPTED' }),
      );
      log(
        `Tenant ${tenantId} is paused (${state.pausedReason}): no QuickBooks calls until "qbsync resume ${tenantId}".`,
      );
    });

  program
    .command('resume')
    .description('resume a paused tenant: it catches up from its cursors')
    .argument('<tenant>', 'tenant id', tenantArg)
    .action(async (tenantId: string) => {
      const { resumeUpdate } = await import('../../workflows/definitions.js');
      await controlUpdate(tenantId, 'resume', (handle) =>
        handle.startUpdate(resumeUpdate, { waitForStage: 'ACCEPTED' }),
      );
      log(`Tenant ${tenantId} is running: it catches up from its cursors.`);
    });

  program
    .command('mode')
    .description("switch a tenant's sync mode; the CRM's one-way lock follows at once, the sync at its next pass")
    .argument('<tenant>', 'tenant id', tenantArg)
    .argument('<mode>', 'one-way or two-way', modeArg)
    .action(async (tenantId: string, mode: SyncMode) => {
      const { setModeUpdate } = await import('../../workflows/definitions.js');
      await withContext(async (context) => {
        const { requireTenant } = await import('../tenant-control.js');
        const state = await controlUpdateIn(context, tenantId, 'setMode', (handle) =>
          handle.startUpdate(setModeUpdate, { args: [{ mode }], waitForStage: 'ACCEPTED' }),
        );
        const row = await requireTenant(context, tenantId);
        log(
          `Tenant ${tenantId} is ${modeLabel(state.mode)}: the tenants table says ${row.sync_mode}${
            row.sync_mode === 'one_way' ? ' (CRM edits to QuickBooks data are locked, R8)' : ''
          }; the sync follows at its next pass.`,
        );
      });
    });

  program
    .command('poll-interval')
    .description('set how often the tenant polls QuickBooks between passes (10s to 24h; default 15m)')
    .argument('<tenant>', 'tenant id', tenantArg)
    .argument('<duration>', 'like 90s, 15m, 1h, or a number of seconds', pollIntervalArg)
    .action(async (tenantId: string, seconds: number) => {
      const { setPollIntervalUpdate } = await import('../../workflows/definitions.js');
      const state = await controlUpdate(tenantId, 'setPollInterval', (handle) =>
        handle.startUpdate(setPollIntervalUpdate, { args: [{ seconds }], waitForStage: 'ACCEPTED' }),
      );
      log(`Tenant ${tenantId} polls QuickBooks every ${formatInterval(state.pollIntervalSeconds)}.`);
    });

  program
    .command('sync-now')
    .description('ask the tenant for an incremental pass now (refused while it is paused)')
    .argument('<tenant>', 'tenant id', tenantArg)
    .option('--wait', 'wait for the pass to end and print how it ended')
    .option('--timeout <seconds>', 'with --wait, give up after this many seconds', '300')
    .action(async (tenantId: string, options: { wait?: boolean; timeout: string }) => {
      const timeoutSeconds = Number(options.timeout);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
        throw new UsageError('--timeout must be a positive number of seconds');
      }
      const { syncNowUpdate } = await import('../../workflows/definitions.js');
      const wait = options.wait === true;
      const result = await controlUpdate(
        tenantId,
        'syncNow',
        (handle) =>
          handle.startUpdate(syncNowUpdate, {
            args: [{ reason: `sync-now from ${operator()}`, wait }],
            waitForStage: 'ACCEPTED',
          }),
        wait ? timeoutSeconds * 1000 : undefined,
      );
      const ended = describeSyncNow(tenantId, result);
      if (!ended.ok) throw new PassNotDoneError(ended.text);
      log(ended.text);
    });

  program
    .command('repair')
    .description(
      'repair the tenant after a QuickBooks customer merge, or compare everything with QuickBooks and fix what differs (--full); waits and prints what was fixed',
    )
    .argument('<tenant>', 'tenant id', tenantArg)
    .option(
      '--merge <survivor:merged>',
      'the QuickBooks customer that survived the merge and the one merged into it (without: the merges the sync recorded)',
      mergeArg,
    )
    .option(
      '--full',
      'a full reconcile: every entity compared with QuickBooks, what differs rewritten (then the merges)',
    )
    .option('--timeout <seconds>', 'give up waiting after this many seconds (the repair goes on)', '600')
    .action(async (tenantId: string, options: { merge?: MergePair; full?: boolean; timeout: string }) => {
      const timeoutSeconds = Number(options.timeout);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
        throw new UsageError('--timeout must be a positive number of seconds');
      }
      const { repairUpdate } = await import('../../workflows/definitions.js');
      const outcome = await controlUpdate(
        tenantId,
        'repair',
        (handle) =>
          handle.startUpdate(repairUpdate, {
            args: [
              {
                kind: options.full ? 'full' : 'merge',
                requestedBy: operator(),
                survivorQboId: options.merge?.survivorQboId ?? null,
                mergedQboId: options.merge?.mergedQboId ?? null,
              },
            ],
            waitForStage: 'ACCEPTED',
          }),
        timeoutSeconds * 1000,
      );
      const ended = describeRepairOutcome(tenantId, outcome);
      if (!ended.ok) throw new RepairNotDoneError(ended.text);
      log(ended.text);
    });

  program
    .command('reconcile-every')
    .description("set the days between a tenant's scheduled full reconciles (default 7; 0: only when asked)")
    .argument('<tenant>', 'tenant id', tenantArg)
    .argument('<days>', 'whole days from 0 to 365', reconcileDaysArg)
    .action(async (tenantId: string, days: number) => {
      const { setFullReconcileDaysUpdate } = await import('../../workflows/definitions.js');
      await withContext(async (context) => {
        const { saveFullReconcileDays } = await import('../../db/repositories/tenants.js');
        const { requireTenant } = await import('../tenant-control.js');
        await requireTenant(context, tenantId);
        await saveFullReconcileDays(context.database.db, tenantId, days);
        await controlUpdateIn(context, tenantId, 'setFullReconcileDays', (handle) =>
          handle.startUpdate(setFullReconcileDaysUpdate, { args: [{ days }], waitForStage: 'ACCEPTED' }),
        );
        log(
          days === 0
            ? `Tenant ${tenantId} has no scheduled full reconcile any more (qbsync repair --full runs one).`
            : `Tenant ${tenantId} runs a full reconcile every ${days} ${days === 1 ? 'day' : 'days'}.`,
        );
      });
    });

  program
    .command('watch')
    .description('follow a backfill: a progress bar per entity with counts and an ETA (Ctrl-C stops watching)')
    .argument('<tenant>', 'tenant id', tenantArg)
    .option('--every <seconds>', 'refresh interval', '1')
    .action(async (tenantId: string, options: { every: string }) => {
      const everyMs = Number(options.every) * 1000;
      if (!Number.isFinite(everyMs) || everyMs < 100) throw new UsageError('--every must be at least 0.1 seconds');
      await withContext(async (context) => {
        const workflow = await runningWorkflow(context, tenantId);
        await watchBackfill(context, workflow, everyMs);
      });
    });

  program
    .command('verify')
    .description('compare QuickBooks (through its API) with the CRM; exits 1 when they differ')
    .argument('<tenant>', 'tenant id', tenantArg)
    .option('--json', 'print {"failed", "missing", "extra", "different", "records"} as JSON')
    .action(async (tenantId: string, options: { json?: boolean }) => {
      await withContext(async (context) => {
        const { requireQboApp, requireTokenKey } = await import('../../worker/config.js');
        const { requireTenant } = await import('../tenant-control.js');
        await requireTenant(context, tenantId);
        requireQboApp(context.config);
        requireTokenKey(context.config);
        const { findConnectedRealm } = await import('../../db/repositories/tenants.js');
        if ((await findConnectedRealm(context.database.db, tenantId)) === undefined)
          throw new OperatorError(`tenant "${tenantId}" is not connected to QuickBooks`);
        const { verifyTenant } = await import('../verify.js');
        const db = context.database.db;
        const qbo = await qboClientFromConfig(context.config, db, tenantId);
        const report = await verifyTenant(db, qbo, tenantId);
        log(options.json ? verifyJson(report) : formatVerifyReport(report));
        if (report.missing + report.extra + report.different > 0) {
          throw new VerifyDifferencesError(
            `QuickBooks and the CRM differ for tenant ${tenantId}: ${report.missing} missing, ${report.extra} extra, ${report.different} different`,
          );
        }
      });
    });
}

/** The tenant's QBO client as a worker builds it (worker/qbo-deps.ts), without loading the worker. */
async function qboClientFromConfig(config: Config, db: Kysely<Database>, tenantId: string): Promise<QboClient> {
  const { requireQboAuthDeps } = await import('../../worker/qbo-deps.js');
  const { createQboClientForTenant } = await import('../../activities/qbo/qbo-auth.js');
  return createQboClientForTenant(
    requireQboAuthDeps(config, db, () => new Date()),
    tenantId,
  );
}

async function watchBackfill(context: TenantContext, workflow: RunningWorkflow, everyMs: number): Promise<void> {
  const { queryStatus, findRunningWorkflow, WorkflowNotRunningError } = await import('../tenant-control.js');
  const { createProgressView } = await import('../progress-view.js');
  const tty = process.stdout.isTTY === true;
  const first = await queryStatus(workflow);
  // The rate is measured from the backfill's first pass when the database knows it, else from now.
  const { backfillStartedAt } = await import('../../db/repositories/sync-passes.js');
  const started = (await backfillStartedAt(context.database.db, first.tenantId))?.getTime();
  const baseline =
    started !== undefined
      ? { sinceMs: started, doneAtStart: 0 }
      : { sinceMs: Date.now(), doneAtStart: Object.values(first.entities).reduce((sum, p) => sum + p.done, 0) };
  if (first.phase !== 'backfill') {
    for (const line of renderBackfillProgress(first, baseline, Date.now())) log(line);
    log(
      `The backfill of tenant ${first.tenantId} has finished; it is in incremental passes${first.lastPass ? ` (last ${first.lastPass.records} records, ${formatDuration(first.lastPass.durationMs)})` : ''}.`,
    );
    return;
  }

  let stopped = false;
  let wake: (() => void) | undefined;
  const onSignal = () => {
    stopped = true;
    wake?.();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const view = createProgressView({ baseline, tty, stream: process.stdout, log });
  try {
    for (let status = first, round = 1; ; round++) {
      view.show(status, Date.now());
      if (status.phase !== 'backfill') {
        view.stop();
        log(`Backfill of tenant ${status.tenantId} finished.`);
        return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, everyMs);
      });
      if (stopped) {
        view.stop();
        log('Stopped watching; the backfill goes on.');
        return;
      }
      if (round % 10 === 0) {
        // A closed workflow may still answer queries (with its last state): check it still runs.
        const found = await findRunningWorkflow(await context.temporal(), status.tenantId);
        if ('notRunning' in found) {
          throw new WorkflowNotRunningError(`the backfill stopped: ${found.notRunning}`);
        }
      }
      status = await queryStatus(workflow);
    }
  } finally {
    view.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
