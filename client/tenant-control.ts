import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
  type WorkflowUpdateHandle,
} from '@temporalio/client';
import type { Kysely } from 'kysely';
import { OperatorError } from '../common/errors.js';
import type { TenantStatus } from '../common/sync-types.js';
import { findTenantById, listTenantIds, type TenantRow } from '../db/repositories/tenants.js';
import type { Database } from '../db/schema.js';
import type { Config } from '../worker/config.js';
import { statusQuery, tenantWorkflowId } from '../workflows/definitions.js';
import { connectClient, openDatabase } from './connections.js';

/**
 * What the tenant commands share: the database (to know the tenant exists), the Temporal client,
 * and the tenant's running workflow. Loaded only inside the commands' actions.
 */
export class UnknownTenantError extends OperatorError {
  override readonly name = 'UnknownTenantError';
}

export class WorkflowNotRunningError extends OperatorError {
  override readonly name = 'WorkflowNotRunningError';
}

export class WorkflowUnresponsiveError extends OperatorError {
  override readonly name = 'WorkflowUnresponsiveError';
}

export interface TenantContext {
  readonly config: Config;
  readonly database: { readonly db: Kysely<Database> };
  temporal(): Promise<Client>;
  close(): Promise<void>;
}

/** Opens the database now and Temporal on first use; close() closes what was opened. */
export async function openTenantContext(config: Config): Promise<TenantContext> {
  const database = await openDatabase(config, () => undefined);
  let client: Promise<Client> | undefined;
  return {
    config,
    database,
    temporal: () => (client ??= connectClient(config)),
    async close() {
      if (client) await (await client.catch(() => undefined))?.connection.close();
      await database.close();
    },
  };
}

export async function requireTenant(context: TenantContext, tenantId: string): Promise<TenantRow> {
  const row = await findTenantById(context.database.db, tenantId);
  if (!row) throw new UnknownTenantError(`unknown tenant "${tenantId}": there is no such tenant in the database`);
  return row;
}

export async function listTenants(context: TenantContext): Promise<string[]> {
  return listTenantIds(context.database.db);
}

export interface RunningWorkflow {
  readonly handle: WorkflowHandle;
  readonly workflowId: string;
  readonly taskQueue: string;
}

/** The tenant's workflow if it runs, or why not ("never started", "CANCELLED", …). */
export async function findRunningWorkflow(
  client: Client,
  tenantId: string,
): Promise<RunningWorkflow | { readonly notRunning: string }> {
  const workflowId = tenantWorkflowId(tenantId);
  const handle = client.workflow.getHandle(workflowId);
  try {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') return { notRunning: `${workflowId} is ${description.status.name}` };
    return { handle, workflowId, taskQueue: description.taskQueue };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return { notRunning: `${workflowId} was never started` };
    throw error;
  }
}

export async function requireRunningWorkflow(context: TenantContext, tenantId: string): Promise<RunningWorkflow> {
  await requireTenant(context, tenantId);
  const found = await findRunningWorkflow(await context.temporal(), tenantId);
  if ('notRunning' in found) {
    throw new WorkflowNotRunningError(`tenant "${tenantId}" has no running sync workflow (${found.notRunning})`);
  }
  return found;
}

/**
 * The status query, with a deadline: a workflow whose worker is down cannot answer. The query is
 * aborted at the deadline, not left retrying on a connection the command is about to close.
 */
export async function queryStatus(workflow: RunningWorkflow, timeoutMs = 10_000): Promise<TenantStatus> {
  return withDeadline(
    workflow.handle.client,
    timeoutMs,
    () => workflow.handle.query(statusQuery),
    () =>
      new WorkflowUnresponsiveError(
        `${workflow.workflowId} did not answer the status query within ${timeoutMs / 1000} s: is a worker polling task queue "${workflow.taskQueue}"?`,
      ),
  );
}

/** The workflow's validator refused the update (paused, an unknown mode, an interval out of range…). */
export class UpdateRefusedError extends OperatorError {
  override readonly name = 'UpdateRefusedError';
}

/** A worker took the update, but its answer (a pass, for sync-now --wait) did not come in time. */
export class UpdateTimeoutError extends OperatorError {
  override readonly name = 'UpdateTimeoutError';
}

export interface UpdateDeadlines {
  /** How long a worker has to take the update: none polls the task queue when this passes. */
  readonly acceptMs: number;
  /** How long the accepted update has to answer (a pass, for sync-now --wait). */
  readonly answerMs: number;
}

/**
 * Runs one of the workflow's updates and returns its answer. An update waits for a worker however
 * long it takes, so each stage has a deadline: no worker, or no answer, is a one-line error rather
 * than a command that hangs. A validator's refusal becomes an UpdateRefusedError with its message.
 */
export async function runUpdate<Ret>(
  context: TenantContext,
  workflow: RunningWorkflow,
  name: string,
  start: (handle: WorkflowHandle) => Promise<WorkflowUpdateHandle<Ret>>,
  deadlines: UpdateDeadlines = { acceptMs: 10_000, answerMs: 10_000 },
): Promise<Ret> {
  const client = await context.temporal();
  const accepted = await withDeadline(
    client,
    deadlines.acceptMs,
    () => start(workflow.handle),
    () =>
      new WorkflowUnresponsiveError(
        `${workflow.workflowId} did not take the ${name} update within ${deadlines.acceptMs / 1000} s: is a worker polling task queue "${workflow.taskQueue}"?`,
      ),
  );
  try {
    return await withDeadline(
      client,
      deadlines.answerMs,
      () => accepted.result(),
      () =>
        new UpdateTimeoutError(
          `${workflow.workflowId} did not answer the ${name} update within ${deadlines.answerMs / 1000} s`,
        ),
    );
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      const reason = error.cause?.message ?? error.message;
      throw new UpdateRefusedError(`tenant ${workflow.workflowId.replace(/^tenant-sync-/, '')}: ${reason}`);
    }
    throw error;
  }
}

async function withDeadline<T>(
  client: Pick<Client, 'withAbortSignal'>,
  ms: number,
  call: () => Promise<T>,
  late: () => Error,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    return await client.withAbortSignal(controller.signal, call);
  } catch (error) {
    if (controller.signal.aborted) throw late();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
