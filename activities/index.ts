import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { QboClient } from './qbo/qbo-client.js';
import { createPushActivities } from './push/push.activities.js';
import { createRepairActivities } from './repair/repair.activities.js';
import { meterSyncActivities, type SyncMeter } from './sync-meter.js';
import { createSyncActivities, type PageBudget } from './sync/sync.activities.js';

/** Everything activities need, built once in the worker's composition root. */
export interface ActivityDeps {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
  /** The QBO client for a tenant's company; throws a classified QboError when it cannot be had. */
  readonly qboClientFor: (tenantId: string) => Promise<QboClient>;
  /** Where the sync's counters go (the worker's Prometheus endpoint); none when metrics are off. */
  readonly meter?: SyncMeter;
  /** How much a page activity reads before it reports (defaultPageBudget when absent). */
  readonly pageBudget?: PageBudget;
}

export function createActivities(deps: ActivityDeps) {
  const sync = createSyncActivities(deps);
  return {
    ...(deps.meter ? meterSyncActivities(sync, deps.meter) : sync),
    ...createPushActivities(deps),
    ...createRepairActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
