import { describe, expect, it } from 'vitest';
import { replayRecorded } from '../test/record-histories.js';

/**
 * Replays histories recorded from real runs (test/record-histories.ts) against today's workflow
 * code: a change that would make a running tenant's workflow non-deterministic fails here, before
 * it reaches a worker. Needs no server. The repair histories replay in tenant-repair.replay.
 */
describe('tenant sync workflow replay (R23)', () => {
  it('R23: recorded histories (backfill, incremental, failure, pause, continue-as-new) replay without non-determinism', async () => {
    const { replayed, failures } = await replayRecorded((name) => !name.startsWith('repair-'));
    expect(replayed).toBeGreaterThanOrEqual(4);
    expect(failures).toEqual([]);
  }, 120_000);
});
