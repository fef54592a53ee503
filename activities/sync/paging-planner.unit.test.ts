import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CursorState } from '../../db/repositories/sync-cursors.js';
import {
  continuePage,
  initialCursor,
  passEnd,
  planPage,
  resumeCursor,
  type PagingOptions,
  type PagingRequest,
  type PagingStep,
} from './paging-planner.js';

interface ModelRecord {
  readonly id: number;
  /** MetaData.LastUpdatedTime in ms, whole seconds. */
  lastUpdated: number;
}

/** QBO's query and count(*) over an in-memory company, offsets and all. */
class ModelCompany {
  readonly records = new Map<number, ModelRecord>();
  private nextId = 1;

  add(lastUpdated: number, howMany: number): void {
    for (let i = 0; i < howMany; i += 1) {
      const id = this.nextId++;
      this.records.set(id, { id, lastUpdated });
    }
  }

  answer(request: PagingRequest): number | ModelRecord[] {
    const inWindow = [...this.records.values()].filter(
      (record) => record.lastUpdated >= request.window.from && record.lastUpdated < request.window.to,
    );
    if (request.kind === 'count') return inWindow.length;
    // Ties on LastUpdatedTime come back in no particular order: the model uses descending Id.
    const ordered = inWindow.sort((a, b) =>
      request.orderBy === 'Id' ? a.id - b.id : a.lastUpdated - b.lastUpdated || b.id - a.id,
    );
    return ordered
      .slice(request.startPosition - 1, request.startPosition - 1 + request.maxResults)
      .map((record) => ({ ...record }));
  }
}

const s = 1000;
const start = Date.parse('2026-01-01T00:00:00.000Z');
const options: PagingOptions = { pageSize: 10 };
const keyOf = (record: ModelRecord) => ({ id: String(record.id), lastUpdated: record.lastUpdated });
const at = (ms: number) => new Date(ms).toISOString();

/** Answers every request of one page from `company` until the planner commits. */
function runPage(company: ModelCompany, cursor: CursorState, until: number, pageOptions = options) {
  const requests: PagingRequest[] = [];
  let step: PagingStep<ModelRecord> = planPage(cursor, until, pageOptions);
  while (step.kind === 'request') {
    requests.push(step.request);
    step = continuePage(step.pending, company.answer(step.request), keyOf);
  }
  return { step, requests };
}

const committed = (step: PagingStep<ModelRecord>) => (step.kind === 'commit' ? step : undefined);

describe('paging planner: decisions', () => {
  it('reads everything up to the pass end in one read and no count when it fits a page, however sparse', () => {
    const company = new ModelCompany();
    company.add(start + 10 * s, 2);
    company.add(start + 400 * 86_400 * s, 1);
    const until = start + 500 * 86_400 * s;
    const { step, requests } = runPage(company, { from: at(start) }, until);
    expect(requests).toEqual([
      {
        kind: 'read',
        window: { from: start, to: until },
        orderBy: 'MetaData.LastUpdatedTime',
        startPosition: 1,
        maxResults: 10,
      },
    ]);
    expect(step).toMatchObject({ kind: 'commit', done: true, next: { from: at(until) } });
    expect(committed(step)?.records).toHaveLength(3);
  });

  it('after a full page starts the next at the last second it reached, and skips the records of it already read', () => {
    const company = new ModelCompany();
    for (let second = 0; second < 8; second += 1) company.add(start + second * s, 1);
    company.add(start + 8 * s, 4); // ids 9..12: the page of 10 reaches two of them
    company.add(start + 9 * s, 1);
    const until = start + 100 * s;
    const first = runPage(company, { from: at(start) }, until);
    expect(first.requests).toHaveLength(1);
    const page = committed(first.step)!;
    expect(page.records).toHaveLength(10);
    expect(page.next.from).toBe(at(start + 8 * s));
    expect(page.next.seen).toHaveLength(2);
    expect(page.done).toBe(false);

    const second = runPage(company, page.next, until);
    expect(second.requests.map((request) => request.kind)).toEqual(['read']);
    const rest = committed(second.step)!;
    // The two already read are skipped: the other two of second 8, then second 9.
    expect(rest.records.map((record) => record.id).sort((a, b) => a - b)).toEqual(
      [9, 10, 11, 12, 13].filter((id) => !page.next.seen!.includes(String(id))),
    );
    expect(rest).toMatchObject({ done: true, next: { from: at(until) } });
  });

  it('pages a second that holds a whole page by Id, counted before and again before moving past it', () => {
    const company = new ModelCompany();
    company.add(start, 15);
    const until = start + 10 * s;
    const first = runPage(company, { from: at(start) }, until);
    expect(first.requests.map((request) => request.kind)).toEqual(['read', 'count', 'read']);
    expect(first.requests[1]).toEqual({ kind: 'count', window: { from: start, to: start + s } });
    expect(first.requests[2]).toMatchObject({ orderBy: 'Id', startPosition: 1 });
    expect(first.step).toMatchObject({
      kind: 'commit',
      done: false,
      next: { burst: { second: at(start), offset: 10, expected: 15 } },
    });
    const second = runPage(company, committed(first.step)!.next, until);
    expect(second.requests.map((request) => request.kind)).toEqual(['read', 'count']);
    expect(second.requests[0]).toMatchObject({ orderBy: 'Id', startPosition: 11 });
    expect(second.step).toMatchObject({ kind: 'commit', next: { from: at(start + s) } });
    expect(committed(second.step)?.next.burst).toBeUndefined();
  });

  it('reads a crowded second again from its start when records left it while it was read', () => {
    const company = new ModelCompany();
    company.add(start, 15);
    const until = start + 10 * s;
    const cursor: CursorState = { from: at(start), burst: { second: at(start), offset: 10, expected: 15 } };
    // An edit moves record 1, already read, to now: every offset after it shifts down by one.
    company.records.get(1)!.lastUpdated = until + 60 * s;
    const { step } = runPage(company, cursor, until);
    expect(step).toMatchObject({
      kind: 'commit',
      done: false,
      next: { burst: { second: at(start), offset: 0, expected: 14 } },
    });
  });

  it('is up to date without a request when the cursor is at the pass end', () => {
    const step = planPage({ from: at(start) }, start, options);
    expect(step).toEqual({ kind: 'up-to-date', cursor: at(start) });
  });

  it('starts an incremental pass a minute before its cursor, but resumes a burst where it stopped', () => {
    const initial = initialCursor('Customer', '2024-05-01');
    expect(initial).toEqual({ from: '2024-05-01T00:00:00.000Z' });
    expect(initialCursor('Item', '2024-05-01')).toEqual({ from: '2000-01-01T00:00:00.000Z' });
    expect(resumeCursor(undefined, initial, 60_000)).toBe(initial);
    // The overlap reads the cursor's second again anyway: the Ids read of it are no longer skipped.
    expect(resumeCursor({ from: '2026-01-01T00:01:00.000Z', seen: ['4'] }, initial, 60_000)).toEqual({
      from: '2026-01-01T00:00:00.000Z',
    });
    const burst: CursorState = { from: 'x', burst: { second: 'x', offset: 3, expected: 9 } };
    expect(resumeCursor(burst, initial, 60_000)).toBe(burst);
    expect(passEnd(Date.parse('2026-01-01T00:00:10.900Z'))).toBe(Date.parse('2026-01-01T00:00:05.000Z'));
  });

  it('refuses an answer of the wrong kind', () => {
    const step = planPage<ModelRecord>({ from: at(start) }, start + s, options);
    if (step.kind !== 'request') throw new Error('expected a request');
    expect(() => continuePage(step.pending, 3, keyOf)).toThrow(TypeError);
  });
});

/** Between two requests: edits move records to now, an import puts many in one second, a worker dies. */
interface Interference {
  readonly edits: readonly number[];
  readonly imported: number;
  readonly clockTicks: number;
  readonly workerDies: boolean;
}

interface Scenario {
  readonly pageSize: number;
  /** Groups of records sharing one second: [seconds after the start, how many]. */
  readonly groups: ReadonlyArray<readonly [number, number]>;
  readonly passSeconds: number;
  readonly interference: readonly Interference[];
}

/**
 * Runs a whole pass of one entity against the model, the world changing between any two requests,
 * and checks that no record is lost: every record at or before the pass's last second when it
 * began, and not edited since, was read at least once.
 */
function checkPass(scenario: Scenario): void {
  const pageOptions: PagingOptions = { pageSize: scenario.pageSize };
  const company = new ModelCompany();
  for (const [offset, howMany] of scenario.groups) company.add(start + offset * s, howMany);
  const until = start + scenario.passSeconds * s;
  // The pass's end is a few seconds behind QBO's clock (settleLagMs): now is past it.
  let now = until + 5 * s;
  const mustBeRead = [...company.records.values()].filter((record) => record.lastUpdated < until).map((r) => r.id);
  const edited = new Set<number>();
  const read = new Set<number>();

  let cursor: CursorState = { from: at(start) };
  let requests = 0;
  const requestLimit = 50_000;
  for (;;) {
    let step: PagingStep<ModelRecord> = planPage(cursor, until, pageOptions);
    while (step.kind === 'request') {
      const interference = scenario.interference[requests];
      requests += 1;
      if (requests > requestLimit) throw new Error(`no end after ${requestLimit} requests`);
      if (interference) {
        now += interference.clockTicks * s;
        const live = [...company.records.values()];
        for (const pick of interference.edits) {
          const record = live[pick % live.length];
          if (!record) continue;
          record.lastUpdated = now;
          edited.add(record.id);
        }
        company.add(now, interference.imported);
      }
      const answer = company.answer(step.request);
      // A worker that dies loses what it read and not committed: the retry starts from the cursor.
      step = interference?.workerDies
        ? planPage(cursor, until, pageOptions)
        : continuePage(step.pending, answer, keyOf);
    }
    if (step.kind === 'up-to-date') break;
    for (const record of step.records) read.add(record.id);
    cursor = step.next;
    if (step.done) break;
  }

  const lost = mustBeRead.filter((id) => !edited.has(id) && !read.has(id));
  expect(lost).toEqual([]);
  expect(cursor).toMatchObject({ from: at(until) });
  expect(cursor.burst).toBeUndefined();
}

const interference = (maxImport: number) =>
  fc.record({
    edits: fc.array(fc.nat(), { maxLength: 4 }),
    imported: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: maxImport })),
    clockTicks: fc.integer({ min: 0, max: 2 }),
    workerDies: fc.integer({ min: 0, max: 9 }).map((roll) => roll === 0),
  });

describe('paging planner: no record lost under concurrent edits (property)', () => {
  it('with small pages: every unedited record up to the pass end is read, and the pass ends', () => {
    const scenario = fc
      .record({
        pageSize: fc.integer({ min: 2, max: 12 }),
        passSeconds: fc.oneof(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 100 * 86_400 })),
      })
      .chain(({ pageSize, passSeconds }) =>
        fc.record({
          pageSize: fc.constant(pageSize),
          passSeconds: fc.constant(passSeconds),
          // Mostly before the pass's end, some after it; bursts bigger than a page are common.
          groups: fc.array(
            fc.tuple(
              fc.integer({ min: 0, max: Math.ceil(passSeconds * 1.1) }),
              fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: pageSize + 1, max: pageSize * 4 })),
            ),
            { maxLength: 40 },
          ),
          interference: fc.array(interference(pageSize * 3), { maxLength: 300 }),
        }),
      );
    fc.assert(fc.property(scenario, checkPass), { numRuns: 300 });
  });

  it("with QBO's pages of 1,000: bursts of up to 2,500 records in one second", () => {
    const scenario = fc.record({
      pageSize: fc.constant(1000),
      groups: fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 120 }),
          fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1001, max: 2500 })),
        ),
        { minLength: 1, maxLength: 4 },
      ),
      passSeconds: fc.integer({ min: 1, max: 150 }),
      interference: fc.array(interference(1500), { maxLength: 40 }),
    });
    fc.assert(fc.property(scenario, checkPass), { numRuns: 15 });
  });

  it('in one request a page when no second holds a page: no count, and no record committed twice', () => {
    const scenario = fc.integer({ min: 3, max: 12 }).chain((pageSize) =>
      fc.record({
        pageSize: fc.constant(pageSize),
        groups: fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: pageSize - 1 })), {
          maxLength: 60,
        }),
      }),
    );
    fc.assert(
      fc.property(scenario, ({ pageSize, groups }) => {
        const company = new ModelCompany();
        const perSecond = new Map<number, number>();
        for (const [offset, howMany] of groups) {
          const crowd = (perSecond.get(offset) ?? 0) + howMany;
          if (crowd >= pageSize) continue;
          perSecond.set(offset, crowd);
          company.add(start + offset * s, howMany);
        }
        const until = start + 600 * s;
        const read: number[] = [];
        let requests = 0;
        let cursor: CursorState = { from: at(start) };
        for (;;) {
          const { step, requests: asked } = runPage(company, cursor, until, { pageSize });
          requests += asked.length;
          expect(asked.every((request) => request.kind === 'read')).toBe(true);
          if (step.kind !== 'commit') break;
          read.push(...step.records.map((record) => record.id));
          cursor = step.next;
          if (step.done) break;
        }
        expect(read.length).toBe(new Set(read).size);
        expect(new Set(read).size).toBe(company.records.size);
        // Each page after the first reads again at most its first second's records already read.
        const fullest = Math.max(0, ...perSecond.values());
        expect(requests).toBeLessThanOrEqual(Math.ceil(company.records.size / (pageSize - fullest)) + 1);
      }),
      { numRuns: 200 },
    );
  });
});
