import { describe, expect, it } from 'vitest';
import type { CursorState } from '../../db/repositories/sync-cursors.js';
import { cdcBlocker, cdcChangedSince, cdcCutReason, cdcMaxAgeMs, newestCursor } from './cdc-plan.js';

const entities = ['Item', 'Customer'];
const now = Date.parse('2026-03-01T00:00:00.000Z');
const at = (ms: number): CursorState => ({ from: new Date(ms).toISOString() });

describe('when CDC may serve an incremental pass', () => {
  it('needs every entity read to a settled cursor, the oldest within 29 days', () => {
    const fresh = new Map([
      ['Item', at(now - 3_600_000)],
      ['Customer', at(now - 60_000)],
    ]);
    expect(cdcBlocker(fresh, entities, now)).toBeNull();
    expect(cdcChangedSince(fresh, entities)).toEqual(new Date(now - 3_600_000 - 60_000));
    expect(newestCursor(fresh)).toBe(now - 60_000);
    expect(cdcBlocker(new Map([['Item', at(now)]]), entities, now)).toMatch(/never been read/);
    const midBurst = new Map([
      ...fresh,
      ['Customer', { ...at(now), burst: { second: 'x', offset: 0, expected: 2000 } }],
    ]);
    expect(cdcBlocker(midBurst, entities, now)).toMatch(/mid-burst/);
    const old = new Map([...fresh, ['Item', at(now - cdcMaxAgeMs - 1)]]);
    expect(cdcBlocker(old, entities, now)).toMatch(/older than 29 days/);
  });

  it('refuses an answer that may have been cut at 1,000 objects', () => {
    expect(cdcCutReason({ Item: [], Customer: new Array(999).fill({}) })).toBeNull();
    expect(cdcCutReason({ Item: new Array(400).fill({}), Customer: new Array(600).fill({}) })).toMatch(/1000 objects/);
  });
});
