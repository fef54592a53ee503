import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { recordStackCheck } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 5 },
});

export interface StackCheckInput {
  readonly message: string;
}

/**
 * Proves the stack works end to end: Temporal schedules an activity on our worker, which writes a
 * row to PostgreSQL through Kysely. `qbsync dev` runs it at start-up until the tenant sync replaces it.
 */
export async function stackCheckWorkflow(input: StackCheckInput): Promise<{ rowId: number }> {
  const rowId = await recordStackCheck({ workflowId: workflowInfo().workflowId, message: input.message });
  return { rowId };
}
