import { describe, expect, it } from 'vitest';
import { syncedEntities } from '../common/sync-types.js';
import { meterSyncActivities, type SyncMeter } from './sync-meter.js';
import type { SyncActivities } from './sync/sync.activities.js';

/** A meter that writes down what it is told. */
function recordingMeter() {
  const told: string[] = [];
  const meter: SyncMeter = {
    recordsWritten: (tenantId, count) => told.push(`written ${tenantId} ${count}`),
    recordsFailed: (tenantId, count) => told.push(`failed ${tenantId} ${count}`),
    syncedThrough: (tenantId, entity, through) => told.push(`through ${tenantId} ${entity} ${through.toISOString()}`),
  };
  return { meter, told };
}

const counts = { written: 500, unchanged: 20, skipped: 3, deleted: 4, failed: 6 };

describe('the sync activities, metered', () => {
  it('reports what a committed page wrote, failed and reached, and returns its result unchanged', async () => {
    const { meter, told } = recordingMeter();
    const page = { counts, cursor: '2026-11-30T10:00:00.000Z', done: false, window: 'w' };
    const metered = meterSyncActivities({ syncEntityPage: async () => page } as unknown as SyncActivities, meter);
    const input = { tenantId: 'acme', entity: 'Invoice' as const, until: '2026-12-01T00:00:00Z', overlap: false };
    expect(await metered.syncEntityPage(input)).toBe(page);
    expect(told).toEqual(['written acme 504', 'failed acme 6', 'through acme Invoice 2026-11-30T10:00:00.000Z']);
  });

  it('reports an applied incremental pass for every entity, and nothing for one handed to windowed queries or one that failed', async () => {
    const { meter, told } = recordingMeter();
    const applied = {
      kind: 'applied' as const,
      passId: 1,
      counts,
      cursor: '2026-12-01T09:59:30.000Z',
      openErrors: 0,
      startedAt: '',
      finishedAt: '',
    };
    const results = [applied, { kind: 'by-query' as const, passId: 2, until: '2026-12-01T10:00:00Z', reason: 'r' }];
    const metered = meterSyncActivities(
      {
        incrementalPass: async () => {
          const next = results.shift();
          if (!next) throw new Error('QBO is down');
          return next;
        },
      } as unknown as SyncActivities,
      meter,
    );
    await metered.incrementalPass({ tenantId: 'acme' });
    expect(told.slice(0, 2)).toEqual(['written acme 504', 'failed acme 6']);
    expect(told.slice(2)).toEqual(syncedEntities.map((entity) => `through acme ${entity} 2026-12-01T09:59:30.000Z`));
    told.length = 0;
    await metered.incrementalPass({ tenantId: 'acme' });
    await expect(metered.incrementalPass({ tenantId: 'acme' })).rejects.toThrow('QBO is down');
    expect(told).toEqual([]);
  });
});
