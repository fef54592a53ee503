import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { createStackCheckActivities } from './stack-check.activities.js';

/** Everything activities need, built once in the worker's composition root. */
export interface ActivityDeps {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createStackCheckActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
