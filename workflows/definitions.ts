import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { RepairRequest, SyncMode, TenantStatus } from '../common/sync-types.js';

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
}

export const pauseSignal = defineSignal<[{ readonly reason: string }]>('pause');
export const resumeSignal = defineSignal<[]>('resume');
export const setModeSignal = defineSignal<[{ readonly mode: SyncMode }]>('setMode');
export const syncNowSignal = defineSignal<[{ readonly reason: string }]>('syncNow');
export const repairSignal = defineSignal<[Omit<RepairRequest, 'requestedAt'>]>('repair');
export const statusQuery = defineQuery<TenantStatus>('status');
