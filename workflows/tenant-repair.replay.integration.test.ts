import { describe, expect, it } from 'vitest';
import { replayRecorded } from '../test/record-histories.js';

/**
 * Replays the recorded runs in which the tenant workflow started repair children (R21) against
 * today's workflow code: the repair's commands must stay where running workflows recorded them.
 */
describe('tenant repair replay (R21)', () => {
  it('R21: recorded histories with repair children replay without non-determinism', async () => {
    const { replayed, failures } = await replayRecorded((name) => name.startsWith('repair-'));
    expect(replayed).toBeGreaterThanOrEqual(1);
    expect(failures).toEqual([]);
  }, 120_000);
});
