import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { QboClient } from './qbo/qbo-client.js';
import { createPushActivities } from './push/push.activities.js';
import { createRepairActivities } from './repair/repair.activities.js';
import { createSyncActivities } from './sync/sync.activities.js';

/** Everything activities need, built once in the worker's composition root. */
export interface ActivityDeps {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
  /** The QBO client for a tenant's company; throws a classified QboError when it cannot be had. */
  readonly qboClientFor: (tenantId: string) => Promise<QboClient>;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createSyncActivities(deps),
    ...createPushActivities(deps),
    ...createRepairActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
