import { describe, expect, it } from 'vitest';
import { describePassRecords, type PassSummary } from './sync-types.js';

const pass: PassSummary = {
  kind: 'incremental',
  startedAt: '2025-01-01T00:04:58Z',
  finishedAt: '2025-01-01T00:05:00Z',
  durationMs: 2_000,
  records: 1,
  changed: 0,
  failed: 0,
};

describe('describePassRecords', () => {
  it('tells records read from records changed, so a re-read edge does not look like an edit', () => {
    expect(describePassRecords(pass)).toBe('1 record, 0 changed');
    expect(describePassRecords({ ...pass, records: 12, changed: 3 })).toBe('12 records, 3 changed');
  });

  it('reads a summary from before qbsync counted changes', () => {
    const { changed: _changed, ...older } = pass;
    expect(describePassRecords({ ...older, records: 7 })).toBe('7 records');
  });
});
