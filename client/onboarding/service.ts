import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import {
  connectTenant,
  createQboClientForTenant,
  disconnectTenant,
  readConnection,
  type ConnectionInfo,
  type QboAuthDeps,
} from '../../activities/qbo/qbo-auth.js';
import type { QboCondition } from '../../activities/qbo/qbo-query.js';
import { modeKey, pausedKey, phaseKey, realmIdKey, tenantIdKey } from '../../common/search-attribute-keys.js';
import { syncedEntities, type SyncedEntity, type SyncMode, type TenantStatus } from '../../common/sync-types.js';
import { asSync } from '../../db/crm-rules.js';
import { deleteExpiredOAuthStates, insertOAuthState, takeOAuthState } from '../../db/repositories/oauth-states.js';
import {
  findTenantById,
  insertTenantIfAbsent,
  removeSyncedData,
  updateTenantSettings,
  type RemovedSyncedData,
} from '../../db/repositories/tenants.js';
import type { Database } from '../../db/schema.js';
import {
  resumeSignal,
  setModeUpdate,
  statusQuery,
  tenantSyncWorkflowType,
  tenantWorkflowId,
  type TenantSyncInput,
} from '../../workflows/definitions.js';

/**
 * What the onboarding page and the CLI do (R1–R6), in one place: connect, choose the settings,
 * preview, start, show the status, disconnect. Inputs are checked here, so both faces give the same
 * one-line errors.
 */

import { isoDay, OnboardingInputError, quote, type Language } from './inputs.js';

export interface OnboardingDeps extends QboAuthDeps {
  readonly temporal: Client;
  readonly taskQueue: string;
  /**
   * The poll interval new tenants start with; absent, the workflow's default (15 minutes). With
   * webhooks configured a change arrives in seconds without polling, and the poll only catches
   * what webhooks missed.
   */
  readonly pollIntervalSeconds?: number;
}

// ---------------------------------------------------------------------------------------------
// OAuth state: random, single-use, bound to its tenant and to the browser session that asked for it

const stateTtlMs = 15 * 60_000;

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/**
 * A new OAuth state for the tenant, stored (hashed) in PostgreSQL until its callback consumes it.
 * `session` is the browser session's cookie value; a terminal (qbsync connect) has none, and its
 * state is then good for whichever callback brings it first.
 */
export async function issueState(
  db: Kysely<Database>,
  tenantId: string,
  now: Date,
  options: { session?: string | undefined; extra?: string } = {},
): Promise<string> {
  const state = randomBytes(24).toString('base64url');
  await deleteExpiredOAuthStates(db, now);
  await insertOAuthState(db, {
    stateHash: sha256(state),
    tenantId,
    sessionHash: options.session === undefined ? null : sha256(options.session),
    extra: options.extra ?? '',
    expiresAt: new Date(now.getTime() + stateTtlMs),
  });
  return state;
}

/** Consumes the state of a callback: once only, before it expires, in the session it was issued to. */
export async function consumeState(
  db: Kysely<Database>,
  state: string,
  now: Date,
  session: string | undefined,
): Promise<{ tenantId: string; extra: string }> {
  const row = state === '' || state.length > 200 ? undefined : await takeOAuthState(db, sha256(state));
  if (!row) {
    throw new OnboardingInputError('the OAuth state is unknown or was already used: start the connection again');
  }
  if (row.expires_at.getTime() <= now.getTime()) {
    throw new OnboardingInputError('the OAuth state has expired (15 minutes): start the connection again');
  }
  if (row.session_hash !== null && !sameText(row.session_hash, session === undefined ? '' : sha256(session))) {
    throw new OnboardingInputError(
      'this connection was started in another browser session: start it again from this browser',
    );
  }
  return { tenantId: row.tenant_id, extra: row.extra };
}

/** Constant-time comparison of two strings. */
export function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

// ---------------------------------------------------------------------------------------------
// Tenants and settings

export interface TenantSettings {
  readonly tenantId: string;
  readonly name: string;
  readonly startDate: string;
  readonly syncLanguage: Language;
  readonly defaultCustomerLanguage: Language;
  readonly mode: SyncMode;
}

/** Creates the tenant if it does not exist yet; its start date is today until the tenant chooses one. */
export async function ensureTenant(db: Kysely<Database>, tenantId: string, now: Date, name?: string): Promise<void> {
  await insertTenantIfAbsent(db, { id: tenantId, name: name?.trim() || tenantId, startDate: isoDay(now) });
}

export async function readTenant(db: Kysely<Database>, tenantId: string): Promise<TenantSettings | undefined> {
  const row = await findTenantById(db, tenantId);
  return row
    ? {
        tenantId: row.id,
        name: row.name,
        startDate: row.start_date,
        syncLanguage: row.sync_language,
        defaultCustomerLanguage: row.default_customer_language,
        mode: row.sync_mode,
      }
    : undefined;
}

/** R2, R3, R4 (and R7/R8's mode): stores the tenant's choices. */
export async function saveSettings(
  db: Kysely<Database>,
  tenantId: string,
  settings: { startDate: string; syncLanguage: Language; defaultCustomerLanguage: Language; mode?: SyncMode },
): Promise<void> {
  const updated = await updateTenantSettings(db, tenantId, settings);
  if (!updated) throw new OnboardingInputError(`no tenant ${tenantId}`);
}

export async function requireConnection(db: Kysely<Database>, tenantId: string): Promise<ConnectionInfo> {
  const connection = await readConnection(db, tenantId);
  if (!connection)
    throw new OnboardingInputError(`tenant ${tenantId} is not connected to QuickBooks: run qbsync connect ${tenantId}`);
  if (connection.needsReauth) {
    throw new OnboardingInputError(`tenant ${tenantId} must reconnect to QuickBooks: run qbsync connect ${tenantId}`);
  }
  return connection;
}

/**
 * Stores the tokens of an OAuth callback for the tenant its state names, consuming the state.
 * `session` is the browser session's cookie value (none from a terminal).
 */
export async function completeCallback(
  deps: QboAuthDeps,
  callbackUrl: string,
  session?: string,
): Promise<{ tenantId: string; realmId: string; extra: string }> {
  const url = new URL(callbackUrl, 'http://callback.invalid');
  const { tenantId, extra } = await consumeState(deps.db, url.searchParams.get('state') ?? '', deps.now(), session);
  const error = url.searchParams.get('error');
  if (error) throw new OnboardingInputError(`QuickBooks did not connect tenant ${tenantId}: ${quote(error)}`);
  const { realmId } = await connectTenant(deps, tenantId, callbackUrl);
  return { tenantId, realmId, extra };
}

// ---------------------------------------------------------------------------------------------
// Preview (R6)

export interface DuplicateGroup {
  readonly reason: 'name' | 'email';
  readonly key: string;
  readonly customers: readonly { readonly id: string; readonly displayName: string; readonly email: string | null }[];
}

export interface Preview {
  readonly startDate: string;
  readonly counts: Readonly<Record<SyncedEntity, number>>;
  readonly duplicates: readonly DuplicateGroup[];
  /** True when more customers exist than the duplicate scan read. */
  readonly duplicateScanTruncated: boolean;
}

const transactionEntities: readonly SyncedEntity[] = ['Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt'];
const legalSuffixes = new Set([
  'inc',
  'incorporated',
  'ltd',
  'ltee',
  'limitee',
  'llc',
  'corp',
  'corporation',
  'cie',
  'enr',
  'senc',
  'co',
]);

/** Lowercase, accents off, punctuation off, legal suffixes off: "Plomberie Roy Inc." → "plomberie roy". */
export function normaliseName(name: string): string {
  const words = name
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .toLowerCase()
    .replace(/&/g, ' et ')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter(Boolean);
  while (words.length > 1 && legalSuffixes.has(words[words.length - 1]!)) words.pop();
  return words.join(' ');
}

/** The first of QBO's comma-separated emails (R18), lowercased. */
export function normaliseEmail(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const first = value.split(/[,;]/)[0]?.trim().toLowerCase() ?? '';
  return first.includes('@') ? first : null;
}

export function findDuplicates(
  customers: readonly { id: string; displayName: string; companyName?: string | undefined; email: string | null }[],
): DuplicateGroup[] {
  const groups: DuplicateGroup[] = [];
  for (const reason of ['name', 'email'] as const) {
    const byKey = new Map<string, (typeof customers)[number][]>();
    for (const customer of customers) {
      const key = reason === 'name' ? normaliseName(customer.companyName || customer.displayName) : customer.email;
      if (!key) continue;
      byKey.set(key, [...(byKey.get(key) ?? []), customer]);
    }
    for (const [key, members] of byKey) {
      if (members.length > 1) {
        groups.push({
          reason,
          key,
          customers: members.map((c) => ({ id: c.id, displayName: c.displayName, email: c.email })),
        });
      }
    }
  }
  return groups;
}

/** Customers updated since the start date (active or not), and documents dated from it: what the backfill reads. */
function previewConditions(entity: SyncedEntity, startDate: string): QboCondition[] {
  if (entity === 'Item') return [{ field: 'Active', op: 'IN', value: [true, false] }];
  const since: QboCondition = { field: 'MetaData.LastUpdatedTime', op: '>=', value: `${startDate}T00:00:00+00:00` };
  if (entity === 'Customer') return [since, { field: 'Active', op: 'IN', value: [true, false] }];
  if (transactionEntities.includes(entity)) return [since, { field: 'TxnDate', op: '>=', value: startDate }];
  return [since];
}

/** R6: counts per entity with count(*), and likely duplicate customers by normalised name or email. */
export async function previewTenant(
  deps: QboAuthDeps,
  tenantId: string,
  startDate: string,
  options: { maxCustomersScanned?: number } = {},
): Promise<Preview> {
  const client = await createQboClientForTenant(deps, tenantId);
  const counts = {} as Record<SyncedEntity, number>;
  for (const entity of syncedEntities) {
    counts[entity] = await client.count({ entity, where: previewConditions(entity, startDate) });
  }
  // Active customers only: inactive ones are already out of the tenant's way in QBO.
  const limit = options.maxCustomersScanned ?? 10_000;
  const customers: { id: string; displayName: string; companyName?: string; email: string | null }[] = [];
  for (let start = 1; start <= limit; start += 1000) {
    const page = await client.query({
      entity: 'Customer',
      where: [{ field: 'MetaData.LastUpdatedTime', op: '>=', value: `${startDate}T00:00:00+00:00` }],
      orderBy: { field: 'Id', direction: 'ASC' },
      startPosition: start,
      maxResults: Math.min(1000, limit - start + 1),
    });
    for (const record of page.records) {
      const email = (record['PrimaryEmailAddr'] as { Address?: unknown } | undefined)?.Address;
      customers.push({
        id: record.Id,
        displayName: String(record['DisplayName'] ?? ''),
        ...(typeof record['CompanyName'] === 'string' ? { companyName: record['CompanyName'] } : {}),
        email: normaliseEmail(email),
      });
    }
    if (page.records.length < 1000) break;
  }
  return {
    startDate,
    counts,
    duplicates: findDuplicates(customers),
    duplicateScanTruncated: customers.length >= limit,
  };
}

// ---------------------------------------------------------------------------------------------
// Starting, status, disconnecting (R5)

/**
 * R5: starts the tenant's workflow. Idempotent: the id comes from the tenant and a running
 * workflow with it is reused (USE_EXISTING), so a second start never makes a second workflow.
 * Its input holds ids and the mode only: no token, no personal data.
 */
export async function startTenantSync(
  deps: Pick<OnboardingDeps, 'db' | 'temporal' | 'taskQueue' | 'pollIntervalSeconds'>,
  tenantId: string,
  options: { pollIntervalSeconds?: number } = {},
): Promise<{ workflowId: string; runId: string; alreadyRunning: boolean }> {
  const pollIntervalSeconds = options.pollIntervalSeconds ?? deps.pollIntervalSeconds;
  const tenant = await readTenant(deps.db, tenantId);
  if (!tenant) throw new OnboardingInputError(`no tenant ${tenantId}`);
  const connection = await requireConnection(deps.db, tenantId);
  const workflowId = tenantWorkflowId(tenantId);
  const running = await describeRun(deps.temporal, workflowId);
  const input: TenantSyncInput = {
    tenantId,
    realmId: connection.realmId,
    mode: tenant.mode,
    ...(pollIntervalSeconds !== undefined ? { pollIntervalSeconds } : {}),
  };
  const handle = await deps.temporal.workflow.start(tenantSyncWorkflowType, {
    taskQueue: deps.taskQueue,
    workflowId,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [
      { key: tenantIdKey, value: tenantId },
      { key: realmIdKey, value: connection.realmId },
      { key: phaseKey, value: 'backfill' },
      { key: modeKey, value: tenant.mode },
      { key: pausedKey, value: false },
    ],
    staticSummary: `Sync of tenant ${tenantId} with QuickBooks company ${connection.realmId}`,
  });
  return { workflowId, runId: handle.firstExecutionRunId, alreadyRunning: running?.status === 'RUNNING' };
}

async function describeRun(temporal: Client, workflowId: string) {
  try {
    const description = await temporal.workflow.getHandle(workflowId).describe();
    return { status: description.status.name, runId: description.runId, description };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
}

export interface SyncStatusView {
  readonly workflowId: string;
  /** RUNNING, COMPLETED, CANCELLED…, or NOT_STARTED. */
  readonly execution: string;
  /** The workflow's own status query, when it answered in time. */
  readonly status: TenantStatus | undefined;
  readonly queryError: string | undefined;
}

/** The tenant's sync status, by its workflow's status query (with a deadline: no worker, no answer). */
export async function tenantSyncStatus(temporal: Client, tenantId: string, timeoutMs = 3_000): Promise<SyncStatusView> {
  const workflowId = tenantWorkflowId(tenantId);
  const run = await describeRun(temporal, workflowId);
  if (!run) return { workflowId, execution: 'NOT_STARTED', status: undefined, queryError: undefined };
  if (run.status !== 'RUNNING' || timeoutMs <= 0)
    return { workflowId, execution: run.status, status: undefined, queryError: undefined };
  // Aborted at the deadline, so that no retry outlives a connection the caller then closes.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const status = await temporal.withAbortSignal(controller.signal, () =>
      temporal.workflow.getHandle(workflowId).query(statusQuery),
    );
    return { workflowId, execution: run.status, status, queryError: undefined };
  } catch (error) {
    return {
      workflowId,
      execution: run.status,
      status: undefined,
      queryError: controller.signal.aborted
        ? `no answer in ${timeoutMs} ms (is a worker running?)`
        : error instanceof Error
          ? error.message.split('\n')[0]
          : String(error),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Revokes the tenant's tokens and cancels its workflow (which treats cancellation as a clean stop).
 * Returns what it did.
 */
export async function disconnectAndStop(
  deps: OnboardingDeps,
  tenantId: string,
  options: { force?: boolean } = {},
): Promise<{ revoked: boolean; hadConnection: boolean; cancelled: boolean }> {
  const disconnected = await disconnectTenant(deps, tenantId, options);
  const workflowId = tenantWorkflowId(tenantId);
  const run = await describeRun(deps.temporal, workflowId);
  let cancelled = false;
  if (run?.status === 'RUNNING') {
    await deps.temporal.workflow.getHandle(workflowId).cancel();
    cancelled = true;
  }
  return { revoked: disconnected?.revoked ?? false, hadConnection: disconnected !== undefined, cancelled };
}

/**
 * After a reconnect: a workflow that paused itself because its tokens were refused (reason
 * "needs reconnect: …") is resumed; one paused by support stays paused. Returns whether it resumed.
 */
/** Switches the mode of a tenant whose sync runs (through its workflow's update); no-op when none runs. */
export async function applyModeToRunningSync(temporal: Client, tenantId: string, mode: SyncMode): Promise<void> {
  const workflowId = tenantWorkflowId(tenantId);
  const run = await describeRun(temporal, workflowId);
  if (run?.status !== 'RUNNING') return;
  await temporal.workflow.getHandle(workflowId).executeUpdate(setModeUpdate, { args: [{ mode }] });
}

export async function resumeAfterReconnect(temporal: Client, tenantId: string, timeoutMs = 3_000): Promise<boolean> {
  const view = await tenantSyncStatus(temporal, tenantId, timeoutMs);
  if (!view.status?.paused || !view.status.pausedReason?.startsWith('needs reconnect')) return false;
  await temporal.workflow.getHandle(view.workflowId).signal(resumeSignal);
  return true;
}

/**
 * Issue 12, point 1: a tenant's QuickBooks company never changes by reconnecting. Moving it to
 * another company is this: its tokens revoked, its workflow cancelled, and everything synced from the
 * old company deleted (accounts, contacts, opportunities, products and revenue categories the sync
 * brought in, with their links, cursors, errors and passes), so that the next connection may be to
 * any company and its first sync starts from nothing.
 */
export async function changeCompany(
  deps: OnboardingDeps,
  tenantId: string,
  options: { force?: boolean } = {},
): Promise<{ stopped: Awaited<ReturnType<typeof disconnectAndStop>>; removed: RemovedSyncedData }> {
  if (!(await findTenantById(deps.db, tenantId))) throw new OnboardingInputError(`no tenant ${tenantId}`);
  const stopped = await disconnectAndStop(deps, tenantId, options);
  const removed = await asSync(deps.db, (trx) => removeSyncedData(trx, tenantId));
  return { stopped, removed };
}
