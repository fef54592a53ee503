import { describe, expect, it } from 'vitest';
import { openTally } from './pass-tally.js';
import type { PageCounts } from './crm-writer.js';

const counts = (written: number, failed = 0): PageCounts => ({ written, unchanged: 0, skipped: 0, deleted: 0, failed });
const until = '2026-12-01T10:00:00.000Z';

describe('the pass tally in an entity cursor (issue 16: several pages per activity, counted once)', () => {
  it('an activity reports what it committed; the next activity starts from the pass total', () => {
    const first = openTally(undefined, until, { key: 'wf/run/1', attempt: 1 });
    let stored = first.after(counts(1000));
    first.committed(stored);
    stored = first.after(counts(800, 2));
    first.committed(stored);
    expect(first.sinceActivityStart()).toEqual(counts(1800, 2));

    const second = openTally(stored, until, { key: 'wf/run/2', attempt: 1 });
    const next = second.after(counts(500));
    second.committed(next);
    expect(second.sinceActivityStart()).toEqual(counts(500));
    expect(next.total).toEqual(counts(2300, 2));
  });

  it('R23: the retry of an attempt that died after committing pages reports those pages too', () => {
    const attempt1 = openTally(undefined, until, { key: 'wf/run/7', attempt: 1 });
    const committed = attempt1.after(counts(1000));
    attempt1.committed(committed);
    // The worker dies here; the cursor holds `committed`.
    const attempt2 = openTally(committed, until, { key: 'wf/run/7', attempt: 2 });
    attempt2.committed(attempt2.after(counts(400)));
    expect(attempt2.sinceActivityStart()).toEqual(counts(1400));
  });

  it('a page that did not commit is not counted', () => {
    const tally = openTally(undefined, until, { key: 'wf/run/1', attempt: 1 });
    tally.after(counts(1000));
    expect(tally.sinceActivityStart()).toEqual(counts(0));
  });

  it('a tally of another pass, or of another activity on a first attempt, does not carry over', () => {
    const old = openTally(undefined, until, { key: 'wf/run/1', attempt: 1 }).after(counts(900));
    const nextPass = openTally(old, '2026-12-01T11:00:00.000Z', { key: 'wf/run/1', attempt: 2 });
    nextPass.committed(nextPass.after(counts(3)));
    expect(nextPass.sinceActivityStart()).toEqual(counts(3));
    expect(nextPass.after(counts(0)).total).toEqual(counts(3));

    // The same activity id on a first attempt is a new activity (a test environment reuses ids).
    const fresh = openTally(old, until, { key: 'wf/run/1', attempt: 1 });
    fresh.committed(fresh.after(counts(5)));
    expect(fresh.sinceActivityStart()).toEqual(counts(5));
  });
});
