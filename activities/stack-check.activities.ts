import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface StackCheckDeps {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
}

export function createStackCheckActivities(deps: StackCheckDeps) {
  return {
    async recordStackCheck(input: { workflowId: string; message: string }): Promise<number> {
      const row = await deps.db
        .insertInto('stack_checks')
        .values({ workflow_id: input.workflowId, message: input.message, checked_at: deps.now() })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },
  };
}
