import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { PassSummary, RepairRequest, SyncMode, SyncPhase, TenantStatus } from '../common/sync-types.js';

/**
 * The tenant sync workflow's public surface: its type name, id, input, signals and query. Clients
 * (CLI, onboarding page, webhooks) import these; the workflow implements them.
 */
export const tenantSyncWorkflowType = 'tenantSyncWorkflow';

/** One workflow per tenant, found by id in the Temporal UI; a second start is refused, not doubled. */
export function tenantWorkflowId(tenantId: string): string {
  return `tenant-sync-${tenantId}`;
}

export interface TenantSyncInput {
  readonly tenantId: string;
  readonly realmId: string;
  readonly mode: SyncMode;
  /** Seconds between incremental passes (webhooks and syncNow run one sooner). Default 300. */
  readonly incrementalEverySeconds?: number;
  /** Continue as new once a run's history passes this many events (default 2,000). */
  readonly continueAsNewAfterEvents?: number;
  /** State carried across continue-as-new; absent on the first run. */
  readonly carried?: CarriedState;
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
}

export const pauseSignal = defineSignal<[{ readonly reason: string }]>('pause');
export const resumeSignal = defineSignal<[]>('resume');
export const setModeSignal = defineSignal<[{ readonly mode: SyncMode }]>('setMode');
export const syncNowSignal = defineSignal<[{ readonly reason: string }]>('syncNow');
export const repairSignal = defineSignal<[Omit<RepairRequest, 'requestedAt'>]>('repair');
export const statusQuery = defineQuery<TenantStatus>('status');
