import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RepairKind, RepairOutcome } from '../common/repair-types.js';
import type {
  PassSummary,
  RepairRequest,
  SyncMode,
  SyncPhase,
  SyncedEntity,
  TenantStatus,
} from '../common/sync-types.js';

/**
 * The tenant sync workflow's public surface: its type name, id, input, updates, signals and query.
 * Clients (CLI, onboarding page, webhooks) import these; the workflow implements them.
 *
 * Support commands use the Updates: each is validated before it enters history and answers with
 * the state it applied. The signals stay for webhooks and scripts that cannot wait for an answer;
 * signals and updates are separate namespaces, so each keeps its plain name.
 */
export const tenantSyncWorkflowType = 'tenantSyncWorkflow';

/** One workflow per tenant, found by id in the Temporal UI; a second start is refused, not doubled. */
export function tenantWorkflowId(tenantId: string): string {
  return `tenant-sync-${tenantId}`;
}

/** The repair child workflow (R21): its own history per repair, numbered within the tenant. */
export const tenantRepairWorkflowType = 'tenantRepairWorkflow';

export function tenantRepairWorkflowId(tenantId: string, repair: number): string {
  return `tenant-repair-${tenantId}-${repair}`;
}

/** Seconds between incremental passes when nothing asks for one sooner (webhooks, sync-now). */
export const defaultPollIntervalSeconds = 15 * 60;
export const minPollIntervalSeconds = 10;
export const maxPollIntervalSeconds = 24 * 3600;

export interface TenantSyncInput {
  readonly tenantId: string;
  readonly realmId: string;
  readonly mode: SyncMode;
  /** Seconds between incremental passes; default 15 minutes. Changed later by the setPollInterval update. */
  readonly pollIntervalSeconds?: number;
  /** Continue as new once a run's history passes this many events (default 2,000). */
  readonly continueAsNewAfterEvents?: number;
  /** The wait after a first failed pass, doubling up to maxRetryDelaySeconds (defaults 60 and 3,600). */
  readonly retryDelaySeconds?: number;
  readonly maxRetryDelaySeconds?: number;
  /** State carried across continue-as-new; absent on the first run. */
  readonly carried?: CarriedState;
}

/** A pass that a run was in the middle of when it continued as new. */
export interface PassInProgress {
  readonly kind: SyncPhase;
  readonly passId: number;
  readonly until: string;
  readonly startedAt: string;
  /** Entities already read to the pass's end. */
  readonly finishedEntities: readonly SyncedEntity[];
  /** The entity being read when the run ended (its total is already estimated), if any. */
  readonly entityInProgress: SyncedEntity | null;
  /** Every entity being read when the run ended (documents are read side by side); absent from older runs. */
  readonly entitiesInProgress?: readonly SyncedEntity[];
  readonly counts: PassCounts;
  /**
   * A backfill's estimate per entity, as beginSyncPass gave them. Absent in passes opened before it
   * gave them: those ask estimateEntityTotal at each entity, as they did when recorded.
   */
  readonly estimates?: Partial<Record<SyncedEntity, number>>;
}

export interface PassCounts {
  readonly written: number;
  readonly unchanged: number;
  readonly skipped: number;
  readonly deleted: number;
  readonly failed: number;
}

/** What a run hands to the next one: counts and positions, never records. */
export interface CarriedState {
  readonly phase: SyncPhase;
  readonly mode: SyncMode;
  readonly paused: boolean;
  readonly pausedReason: string | null;
  readonly entities: TenantStatus['entities'];
  readonly lastPass: PassSummary | null;
  readonly openErrors: number;
  readonly pendingRepairs: readonly RepairRequest[];
  readonly run: number;
  readonly syncNowRequested: boolean;
  readonly lastError: string | null;
  readonly pollIntervalSeconds?: number;
  readonly consecutiveFailures?: number;
  readonly nextAttemptAt?: string | null;
  readonly passesFinished?: number;
  readonly passInProgress?: PassInProgress | null;
  /** The mode last written to the database (the one-way lock, R8); differs from mode until applied. */
  readonly appliedMode?: SyncMode;
  /** R21: repair requests numbered as they arrive, and the last number a finished repair served. */
  readonly repairsRequested?: number;
  readonly repairsServed?: number;
  /** Repair child workflows started so far (their ids are numbered with it). */
  readonly repairRuns?: number;
  readonly lastRepair?: RepairOutcome | null;
  /** When the last full reconcile (or the backfill, which is one) ended, and the days until the next. */
  readonly lastFullReconcileAt?: string | null;
  readonly fullReconcileDays?: number;
}

/** What a control update answers: the tenant's state once the change is applied. */
export interface ControlState {
  readonly paused: boolean;
  readonly pausedReason: string | null;
  readonly mode: SyncMode;
  readonly pollIntervalSeconds: number;
  readonly phase: SyncPhase;
}

export interface SyncNowResult extends ControlState {
  /** With wait: how the pass that followed ended; without: 'requested'. */
  readonly outcome: 'requested' | 'succeeded' | 'failed' | 'paused';
  readonly lastPass: PassSummary | null;
  readonly lastError: string | null;
}

export const pauseUpdate = defineUpdate<ControlState, [{ readonly reason: string }]>('pause');
export const resumeUpdate = defineUpdate<ControlState, []>('resume');
export const setModeUpdate = defineUpdate<ControlState, [{ readonly mode: SyncMode }]>('setMode');
export const setPollIntervalUpdate = defineUpdate<ControlState, [{ readonly seconds: number }]>('setPollInterval');
/** Asks for a pass now; with wait, answers once that pass has ended. Refused while paused. */
export const syncNowUpdate = defineUpdate<SyncNowResult, [{ readonly reason: string; readonly wait?: boolean }]>(
  'syncNow',
);

export interface RepairUpdateRequest {
  readonly kind: RepairKind;
  readonly requestedBy: string;
  /** For a merge: the customers of one QBO merge; without them the repair finds recorded merges itself. */
  readonly survivorQboId?: string | null;
  readonly mergedQboId?: string | null;
}

/** Asks for a repair and answers once it has run (or failed). Refused while paused or with bad ids. */
export const repairUpdate = defineUpdate<RepairOutcome, [RepairUpdateRequest]>('repair');
/** Sets the days between scheduled full reconciles (0: none); the CLI writes the tenant setting first. */
export const setFullReconcileDaysUpdate = defineUpdate<
  { readonly fullReconcileDays: number },
  [{ readonly days: number }]
>('setFullReconcileDays');

export const pauseSignal = defineSignal<[{ readonly reason: string }]>('pause');
export const resumeSignal = defineSignal<[]>('resume');
export const setModeSignal = defineSignal<[{ readonly mode: SyncMode }]>('setMode');
export const syncNowSignal = defineSignal<[{ readonly reason: string }]>('syncNow');
export const repairSignal = defineSignal<[Omit<RepairRequest, 'requestedAt'>]>('repair');
export const statusQuery = defineQuery<TenantStatus>('status');
