import type { CursorState } from '../../db/repositories/sync-cursors.js';

/**
 * How one entity is read by query, as a pure state machine: given the cursor, the pass's end and
 * the answer to the last request, it says which request to make next, or which records to commit
 * together with the cursor that follows them. The page activity drives it with the QBO client.
 *
 * A page is one query, ordered by MetaData.LastUpdatedTime, of everything from the cursor to the
 * pass's end, read from its first position. It needs no count(*): a page shorter than QBO's largest
 * read everything up to the end; a full page read every second before the last one it reached, so
 * the next page starts at that last second again and skips by Id the records of it already read.
 * QBO pages by offset (STARTPOSITION), which shifts when records leave the set being paged (an edit
 * moves a record to "now", past the pass's end); starting each page at its first position never
 * depends on an offset. Records that arrive during a pass land past its end, so nothing new enters
 * the pages still to read.
 *
 * Only a single second holding a whole page (a bulk import) cannot be paged by time. It is read by
 * Id with STARTPOSITION, counted before and again at its end: records only ever leave a past second,
 * so an unchanged count proves no offset shifted; otherwise the second is read again from its start.
 */

export interface PagingOptions {
  /** QBO's largest page (maxPageSize); smaller in tests. */
  readonly pageSize: number;
}

/** LastUpdatedTime from (inclusive) to (exclusive), in milliseconds; always whole seconds. */
export interface TimeWindow {
  readonly from: number;
  readonly to: number;
}

export type PagingRequest =
  | { readonly kind: 'count'; readonly window: TimeWindow }
  | {
      readonly kind: 'read';
      readonly window: TimeWindow;
      readonly orderBy: 'MetaData.LastUpdatedTime' | 'Id';
      /** 1-based, as QBO's STARTPOSITION. */
      readonly startPosition: number;
      readonly maxResults: number;
    };

/** A count request is answered by the count, a read request by the records of the page. */
export type PagingAnswer<R> = number | readonly R[];

/** What the planner needs of a record: its Id and its LastUpdatedTime (ms), when the record has them. */
export interface RecordKey {
  readonly id: string | undefined;
  readonly lastUpdated: number | undefined;
}

export type RecordKeyOf<R> = (record: R) => RecordKey;

interface Pass {
  readonly until: number;
  readonly options: PagingOptions;
}

type Burst = NonNullable<CursorState['burst']>;

/** What the planner waits for; carried by the driver between a request and its answer. */
export type PendingRequest<R> =
  | (Pass & { readonly phase: 'page'; readonly window: TimeWindow; readonly seen: readonly string[] })
  | (Pass & { readonly phase: 'crowded'; readonly second: number })
  | (Pass & { readonly phase: 'burst'; readonly burst: Burst })
  | (Pass & {
      readonly phase: 'recount';
      readonly burst: Burst;
      readonly records: readonly R[];
      readonly offset: number;
    });

export type PagingStep<R> =
  | { readonly kind: 'request'; readonly request: PagingRequest; readonly pending: PendingRequest<R> }
  | {
      readonly kind: 'commit';
      readonly records: readonly R[];
      /** The cursor to save in the transaction that writes the records. */
      readonly next: CursorState;
      /** True when the entity has been read up to the pass's end. */
      readonly done: boolean;
      /** The window these records came from, for the activity summary. */
      readonly window: string;
    }
  /** The cursor is already at the pass's end: nothing to read or write. */
  | { readonly kind: 'up-to-date'; readonly cursor: string };

const second = 1000;

/** Records changed in the last seconds may still be committing in QBO: passes stop short of now. */
export const settleLagMs = 5_000;
/** Incremental reads start this far before the cursor: replays are harmless, gaps are not. */
export const overlapMs = 60_000;

/** A pass's end for QBO's clock at `serverTime` (ms): settled, and on a whole second. */
export function passEnd(serverTime: number): number {
  return Math.floor((serverTime - settleLagMs) / second) * second;
}

/** Where an entity that was never read starts: the catalogue whole, the rest from the start date (R2). */
export function initialCursor(entity: string, startDate: string): CursorState {
  return { from: entity === 'Item' ? '2000-01-01T00:00:00.000Z' : `${startDate}T00:00:00.000Z` };
}

/**
 * The cursor a page starts from. An incremental pass's first page starts a little before the
 * stored cursor: replays are harmless, gaps are not. A burst resumes exactly where it stopped.
 */
export function resumeCursor(stored: CursorState | undefined, initial: CursorState, overlapMs: number): CursorState {
  if (!stored) return initial;
  if (stored.burst || overlapMs === 0) return stored;
  return { from: iso(Math.max(0, Date.parse(stored.from) - overlapMs)) };
}

/** The first step of a page: where the cursor stands against the pass's end (`until`, ms). */
export function planPage<R>(cursor: CursorState, until: number, options: PagingOptions): PagingStep<R> {
  const pass: Pass = { until, options };
  if (cursor.burst) return readBurst(pass, cursor.burst);
  const from = Date.parse(cursor.from);
  if (from >= until) return { kind: 'up-to-date', cursor: iso(from) };
  const window = { from, to: until };
  const request: PagingRequest = {
    kind: 'read',
    window,
    orderBy: 'MetaData.LastUpdatedTime',
    startPosition: 1,
    maxResults: options.pageSize,
  };
  return { kind: 'request', request, pending: { ...pass, phase: 'page', window, seen: cursor.seen ?? [] } };
}

/** The step after `pending` was answered; `keyOf` reads a record's Id and LastUpdatedTime. */
export function continuePage<R>(
  pending: PendingRequest<R>,
  answer: PagingAnswer<R>,
  keyOf: RecordKeyOf<R>,
): PagingStep<R> {
  switch (pending.phase) {
    case 'page':
      return afterPage(pending, recordsOf(answer), keyOf);
    case 'crowded':
      return readBurst(pending, { second: iso(pending.second), offset: 0, expected: countOf(answer) });
    case 'burst':
      return afterBurstPage(pending, recordsOf(answer));
    case 'recount':
      return afterRecount(pending, countOf(answer));
  }
}

function afterPage<R>(
  pending: PendingRequest<R> & { phase: 'page' },
  records: readonly R[],
  keyOf: RecordKeyOf<R>,
): PagingStep<R> {
  const { window, until, options } = pending;
  const seen = new Set(pending.seen);
  const secondOf = (record: R) => {
    const time = keyOf(record).lastUpdated;
    return time === undefined ? undefined : Math.floor(time / second) * second;
  };
  // Records of the cursor's second that the previous page committed: read again, written once.
  // (An Id read before cannot come back from a later second: an edit moves a record past the pass.)
  const unseen = records.filter((record) => {
    const id = keyOf(record).id;
    return id === undefined || !seen.has(id);
  });
  if (records.length < options.pageSize) {
    return commit(unseen, { from: iso(until) }, true, windowLabel(window.from, until));
  }
  // A full page: every second before the last one it reached is read whole.
  const last = Math.max(...records.map((record) => secondOf(record) ?? Number.NEGATIVE_INFINITY));
  if (!(last > window.from)) {
    // The whole page shares the cursor's second: only Id paging gets through it.
    const request: PagingRequest = { kind: 'count', window: { from: window.from, to: window.from + second } };
    return { kind: 'request', request, pending: { until, options, phase: 'crowded', second: window.from } };
  }
  const lastSeen = unseen.flatMap((record) => {
    const id = keyOf(record).id;
    return id !== undefined && secondOf(record) === last ? [id] : [];
  });
  return commit(unseen, { from: iso(last), seen: lastSeen }, false, windowLabel(window.from, last));
}

function readBurst<R>(pass: Pass, burst: Burst): PagingStep<R> {
  const start = Date.parse(burst.second);
  const request: PagingRequest = {
    kind: 'read',
    window: { from: start, to: start + second },
    orderBy: 'Id',
    startPosition: burst.offset + 1,
    maxResults: pass.options.pageSize,
  };
  return { kind: 'request', request, pending: { ...pass, phase: 'burst', burst } };
}

function afterBurstPage<R>(pending: PendingRequest<R> & { phase: 'burst' }, records: readonly R[]): PagingStep<R> {
  const { burst, until, options } = pending;
  const offset = burst.offset + records.length;
  if (offset < burst.expected && records.length === options.pageSize) {
    return commit(records, { from: burst.second, burst: { ...burst, offset } }, false, burstLabel(burst, offset));
  }
  // Records can only leave a past second (an edit moves them to now). Count it again: if none left
  // while it was read, no offset shifted under us.
  const start = Date.parse(burst.second);
  return {
    kind: 'request',
    request: { kind: 'count', window: { from: start, to: start + second } },
    pending: { until, options, phase: 'recount', burst, records, offset },
  };
}

function afterRecount<R>(pending: PendingRequest<R> & { phase: 'recount' }, remaining: number): PagingStep<R> {
  const { burst, records, offset, until } = pending;
  const start = Date.parse(burst.second);
  const next: CursorState =
    remaining === burst.expected
      ? { from: iso(start + second) }
      : { from: burst.second, burst: { second: burst.second, offset: 0, expected: remaining } };
  return commit(records, next, !next.burst && start + second >= until, burstLabel(burst, offset));
}

function commit<R>(records: readonly R[], next: CursorState, done: boolean, window: string): PagingStep<R> {
  return { kind: 'commit', records, next, done, window };
}

function countOf(answer: PagingAnswer<unknown>): number {
  if (typeof answer !== 'number') throw new TypeError('a count request was answered with records');
  return answer;
}

function recordsOf<R>(answer: PagingAnswer<R>): readonly R[] {
  if (typeof answer === 'number') throw new TypeError('a read request was answered with a count');
  return answer;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function windowLabel(from: number, to: number): string {
  return `${iso(from).slice(0, 19)}..${iso(to).slice(0, 19)}`;
}

function burstLabel(burst: Burst, offset: number): string {
  return `${burst.second} (burst, ${burst.offset + 1}..${offset} of ${burst.expected})`;
}
