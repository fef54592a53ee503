import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { recordedHistories } from '../test/record-histories.js';
import { workflowsPath } from '../worker/main.js';

/**
 * Replays histories recorded from real runs (test/record-histories.ts) against today's workflow
 * code: a change that would make a running tenant's workflow non-deterministic fails here, before
 * it reaches a worker. Needs no server.
 */
describe('tenant sync workflow replay (R23)', () => {
  it('R23: recorded histories (backfill, incremental, failure, pause, continue-as-new, R21 repair children) replay without non-determinism', async () => {
    const histories = await recordedHistories();
    expect(histories.length).toBeGreaterThanOrEqual(5);
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowsPath, replayName: 'tenant-sync-replay' },
      histories,
    )) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
