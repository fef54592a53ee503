import { syncedEntities, type SyncedEntity } from '../common/sync-types.js';
import type { SyncActivities } from './sync/sync.activities.js';

/**
 * What the sync tells the worker's metrics (worker/metrics.ts). The activities only report what
 * their results already say; keeping the counting here leaves the sync code free of it.
 */
export interface SyncMeter {
  recordsWritten(tenantId: string, count: number): void;
  recordsFailed(tenantId: string, count: number): void;
  /** The tenant's CRM holds every change of `entity` made in QBO up to `through` (QBO's clock). */
  syncedThrough(tenantId: string, entity: SyncedEntity, through: Date): void;
}

/** The sync activities, each result reported to the meter once the activity has committed it. */
export function meterSyncActivities(activities: SyncActivities, meter: SyncMeter): SyncActivities {
  return {
    ...activities,
    async syncEntityPage(input) {
      const result = await activities.syncEntityPage(input);
      meter.recordsWritten(input.tenantId, result.counts.written + result.counts.deleted);
      meter.recordsFailed(input.tenantId, result.counts.failed);
      meter.syncedThrough(input.tenantId, input.entity, new Date(result.cursor));
      return result;
    },
    async incrementalPass(input) {
      const result = await activities.incrementalPass(input);
      if (result.kind === 'applied') {
        meter.recordsWritten(input.tenantId, result.counts.written + result.counts.deleted);
        meter.recordsFailed(input.tenantId, result.counts.failed);
        for (const entity of syncedEntities) meter.syncedThrough(input.tenantId, entity, new Date(result.cursor));
      }
      return result;
    },
  };
}
