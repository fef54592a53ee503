import { describe, expect, it } from 'vitest';
import type { CursorState } from '../../db/repositories/sync-cursors.js';
import { FailureType } from '../../common/failure-types.js';
import { QboError } from '../qbo/qbo-errors.js';
import {
  cdcBlocker,
  cdcChangedSince,
  cdcCutReason,
  cdcMaxAgeMs,
  isCdcLookBackRefusal,
  newestCursor,
} from './cdc-plan.js';

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

describe("QBO's refusal of a changedSince past CDC's look-back", () => {
  it('is a ValidationFault 2010, told apart from other failures', () => {
    const refusal = new QboError(FailureType.QboValidation, 'changedSince must be within the last 30 days', {
      status: 400,
      code: '2010',
    });
    expect(isCdcLookBackRefusal(refusal)).toBe(true);
    expect(isCdcLookBackRefusal(new QboError(FailureType.QboValidation, 'other', { code: '2020' }))).toBe(false);
    expect(isCdcLookBackRefusal(new QboError(FailureType.QboServerFault, 'down', { code: '2010' }))).toBe(false);
  });
});
