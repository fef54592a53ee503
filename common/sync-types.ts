/**
 * Types shared by the tenant sync workflow, its activities and the CLI. Workflow-safe: plain data.
 * Nothing here ever holds a QBO record, a token or personal data: only ids, windows, cursors, counts.
 */
export type SyncMode = 'two_way' | 'one_way';
export type SyncPhase = 'backfill' | 'incremental';

/** The QBO entities the sync reads, in the order that keeps references whole. */
export const syncedEntities = ['Item', 'Customer', 'Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt'] as const;
export type SyncedEntity = (typeof syncedEntities)[number];

export interface EntityProgress {
  /** Position reached: the LastUpdatedTime high-water mark (ISO), or null before the first page. */
  readonly cursor: string | null;
  /** Records written so far (in this phase). */
  readonly done: number;
  /** During backfill, the total estimated with count(*); null when unknown. */
  readonly total: number | null;
  /** Records that failed to map and went to the error table. */
  readonly failed: number;
}

export interface PassSummary {
  readonly kind: SyncPhase;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** Records the pass read and settled, changed or not: window edges overlap, so some are read twice. */
  readonly records: number;
  /**
   * Of those, the ones that changed the CRM: written or marked deleted. Absent from summaries of
   * passes that finished before qbsync counted it.
   */
  readonly changed?: number;
  readonly failed: number;
  /** Two-way (R7): customers created or updated in QuickBooks after the pull. */
  readonly pushed?: number;
}

/** "12 records, 3 changed": what a pass did, for status lines and the Temporal UI. */
export function describePassRecords(pass: PassSummary): string {
  const changed = pass.changed === undefined ? '' : `, ${pass.changed} changed`;
  const pushed = pass.pushed ? `, ${pass.pushed} pushed to QuickBooks` : '';
  return `${pass.records} ${pass.records === 1 ? 'record' : 'records'}${changed}${pushed}`;
}

export interface RepairRequest {
  readonly requestedAt: string;
  readonly requestedBy: string;
  /** The customer that survived a QBO merge, and the one merged into it, when known. */
  readonly survivorQboId: string | null;
  readonly mergedQboId: string | null;
}

export interface TenantStatus {
  readonly tenantId: string;
  readonly realmId: string;
  readonly phase: SyncPhase;
  readonly mode: SyncMode;
  readonly paused: boolean;
  readonly pausedReason: string | null;
  readonly entities: Readonly<Record<SyncedEntity, EntityProgress>>;
  readonly lastPass: PassSummary | null;
  readonly openErrors: number;
  readonly pendingRepairs: readonly RepairRequest[];
  /** Runs since the workflow began (continue-as-new starts a new run). */
  readonly run: number;
  /** The last failure that stopped a pass short, if the next pass has not succeeded yet. */
  readonly lastError: string | null;
  /** Seconds between incremental passes (a per-tenant setting). */
  readonly pollIntervalSeconds: number;
  /** Failed passes in a row; each one doubles the wait before the next try. */
  readonly consecutiveFailures: number;
  /** When the next try comes after a failed pass (ISO), or null while nothing failed. */
  readonly nextAttemptAt: string | null;
}
