import { Context, log } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import { syncedEntities, type SyncedEntity, type SyncMode } from '../../common/sync-types.js';
import { asSync } from '../../db/crm-rules.js';
import { countPendingMerges } from '../../db/repositories/merges.js';
import { listLinkedDocuments } from '../../db/repositories/qbo-links.js';
import { readCursor, readCursors, saveCursor, type CursorState } from '../../db/repositories/sync-cursors.js';
import { beginPass, finishPass, insertFinishedPass, type PassOpening } from '../../db/repositories/sync-passes.js';
import { countOpenSyncErrors, recordSyncErrors, type RecordFailure } from '../../db/repositories/sync-errors.js';
import { saveSyncMode, type SyncSettings } from '../../db/repositories/tenants.js';
import { createStatisticsRefresher } from '../../db/table-statistics.js';
import type { Database, SalesDocumentEntityType } from '../../db/schema.js';
import { isSalesDocumentEntity } from '../mapping/sales-document.js';
import type { QboClient, QboRecord } from '../qbo/qbo-client.js';
import { maxPageSize } from '../qbo/qbo-query.js';
import { cdcBlocker, cdcChangedSince, cdcCutReason, isCdcLookBackRefusal, newestCursor } from './cdc-plan.js';
import { pushesWaiting } from '../push/push.activities.js';
import { classifyFailures } from './classify.js';
import { connectedTenantSettings } from './tenant-settings.js';
import {
  emptyCounts,
  mapDocuments,
  markDocumentsDeleted,
  writeRecords,
  type MappedDocuments,
  type PageCounts,
} from './crm-writer.js';
import {
  continuePage,
  initialCursor,
  overlapMs,
  passEnd,
  planPage,
  resumeCursor,
  settleLagMs,
  type PagingOptions,
  type PagingStep,
} from './paging-planner.js';
import {
  askQbo,
  countsFrom,
  damagedFailure,
  documentsByTxnDate,
  pageEntryKey,
  referenceFetcher,
  splitPage,
  transactionEntities,
  windowConditions,
  type PageEntry,
} from './qbo-requests.js';
import { findDeletedDocuments } from './reconcile-deletes.js';
import { openTally } from './pass-tally.js';

/**
 * The sync's activities: each wires repositories, the paging planner and the writer. Each does a
 * bounded piece of work and commits it together with the cursor that follows it, in one
 * transaction; it returns counts and cursors, never records.
 */
export interface SyncDeps {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
  /** The QBO client for a tenant's company (tokens, limiter and base URL already wired). */
  readonly qboClientFor: (tenantId: string) => Promise<QboClient>;
  /** How much a page activity reads before it reports to the workflow; defaultPageBudget if absent. */
  readonly pageBudget?: PageBudget;
  /** QBO's largest page (maxPageSize) unless smaller, for tests that page through small companies. */
  readonly pageSize?: number;
}

/**
 * A page activity reads pages until one of these is reached (or the entity's end). Larger means
 * fewer activities (history, Temporal round trips); smaller means finer progress in the workflow and
 * a quicker pause, which waits for the activity in flight.
 */
export interface PageBudget {
  readonly pages: number;
  readonly milliseconds: number;
}

export const defaultPageBudget: PageBudget = { pages: 20, milliseconds: 10_000 };

export interface PageResult {
  readonly counts: PageCounts;
  /** The cursor after the activity's last page (an ISO instant), for status. */
  readonly cursor: string;
  /** True when the entity has been read up to the pass's end. */
  readonly done: boolean;
  /** The windows the activity read, for its result in the Temporal UI. */
  readonly window: string;
  /** R21: QBO merges recorded (detected in the pull, or named) and not repaired yet; absent when nothing was written. */
  readonly mergesPending?: number;
}

export interface BeginSyncPassInput {
  readonly tenantId: string;
  readonly kind: 'backfill' | 'incremental';
}

export interface PassStart {
  readonly passId: number;
  /** The pass reads changes up to this instant (QBO's clock, minus the settle lag). */
  readonly until: string;
  /**
   * A backfill's count(*) per entity of what it will read from its cursor on, for progress and ETA,
   * asked with the clock in one batch request (the workflow then asks estimateEntityTotal nothing).
   */
  readonly estimates?: Partial<Record<SyncedEntity, number>>;
}

export interface FinishSyncPassInput {
  readonly passId: number;
  readonly status: 'succeeded' | 'failed' | 'cancelled';
  readonly counts: PageCounts;
  readonly error?: string;
}

export interface FinishSyncPassResult {
  /** The tenant's sync_errors nobody has resolved, after this pass. */
  readonly openErrors: number;
}

export interface EstimateEntityTotalInput {
  readonly tenantId: string;
  readonly entity: SyncedEntity;
  readonly until: string;
}

export interface SyncEntityPageInput {
  readonly tenantId: string;
  readonly entity: SyncedEntity;
  readonly until: string;
  /** The pass's first page of this entity in an incremental pass: start a little before the cursor. */
  readonly overlap: boolean;
}

export interface ReconcileDeletedDocumentsInput {
  readonly tenantId: string;
  readonly entity: SyncedEntity;
}

export interface ReconcileDeletedDocumentsResult {
  readonly deleted: number;
  readonly requests: number;
}

export interface ApplyTenantModeInput {
  readonly tenantId: string;
  readonly mode: SyncMode;
}

export interface IncrementalPassInput {
  readonly tenantId: string;
}

export type IncrementalPassResult =
  | {
      /** CDC served the pass: its changes, cursors and finished pass row are committed. */
      readonly kind: 'applied';
      readonly passId: number;
      readonly counts: PageCounts;
      /** Every entity's cursor after the pass. */
      readonly cursor: string;
      readonly openErrors: number;
      readonly startedAt: string;
      readonly finishedAt: string;
      /** Two-way: CRM changes waiting to be pushed (the workflow runs the push only when some are). */
      readonly pushesWaiting: number;
      /** As in PageResult. */
      readonly mergesPending?: number;
    }
  | {
      /** CDC could not serve it: a running pass is open, to be read by windowed queries up to `until`. */
      readonly kind: 'by-query';
      readonly passId: number;
      readonly until: string;
      readonly reason: string;
    };

/** A third of the page activities' heartbeat timeout. */
const heartbeatEveryMs = 3_000;

export function createSyncActivities(deps: SyncDeps) {
  const { db } = deps;
  const pageBudget = deps.pageBudget ?? defaultPageBudget;
  const paging: PagingOptions = { pageSize: deps.pageSize ?? maxPageSize };

  const settingsOf = (tenantId: string) => connectedTenantSettings(db, tenantId);

  /**
   * Runs QBO work heartbeating all along: a slow QBO answer or a long transaction is progress,
   * while a worker that died stops heartbeating and its activity is retried elsewhere within the
   * heartbeat timeout (workflows/activity-options.ts).
   */
  async function withQbo<T>(
    tenantId: string,
    work: (client: QboClient, checkpoint: (progress: unknown) => void) => Promise<T>,
  ): Promise<T> {
    const context = Context.current();
    let progress: unknown;
    const beat = setInterval(() => context.heartbeat(progress), heartbeatEveryMs);
    const checkpoint = (reached: unknown) => {
      progress = reached;
      context.heartbeat(progress);
    };
    try {
      return await work(await deps.qboClientFor(tenantId), checkpoint);
    } finally {
      clearInterval(beat);
    }
  }

  /** After a write: keeps the planner's view of fast-growing tables current (db/table-statistics.ts). */
  const statistics = createStatisticsRefresher(db, (table, error) =>
    log.warn('could not refresh table statistics', { table, error: String(error).slice(0, 200) }),
  );

  /** R21: after a write that may have moved documents off a merged-away customer, the merges to repair. */
  async function mergesAfter(settings: SyncSettings, counts: PageCounts): Promise<{ mergesPending?: number }> {
    if (counts.written === 0) return {};
    const pending = await countPendingMerges(db, settings);
    return pending > 0 ? { mergesPending: pending } : {};
  }

  function passOpening(settings: SyncSettings, kind: PassOpening['kind'], startedAt: Date): PassOpening {
    const execution = Context.current().info.workflowExecution;
    return {
      tenantId: settings.tenantId,
      realmId: settings.realmId,
      kind,
      workflowId: execution?.workflowId ?? null,
      runId: execution?.runId ?? null,
      startedAt,
    };
  }

  /** The pass end for QBO's clock, read from the server time of a count(*) that matches nothing. */
  async function passEndFromQbo(client: QboClient): Promise<number> {
    const answer = await client.countAt({ entity: 'Item', where: [{ field: 'Id', op: '=', value: '0' }] });
    return passEnd(answer.time ? Date.parse(answer.time) : deps.now().getTime());
  }

  return classifyFailures({
    /**
     * Opens a pass: records it in the audit log and fixes its end on QBO's clock. A backfill's
     * estimates come in the same request: a batch of one count(*) per entity, whose answer's time
     * is the clock.
     */
    async beginSyncPass(input: BeginSyncPassInput): Promise<PassStart> {
      const settings = await settingsOf(input.tenantId);
      if (input.kind !== 'backfill') {
        const until = await withQbo(input.tenantId, passEndFromQbo);
        const passId = await beginPass(db, passOpening(settings, input.kind, deps.now()));
        return { passId, until: new Date(until).toISOString() };
      }
      const cursors = await readCursors(db, settings, syncedEntities);
      const starts = syncedEntities.map((entity) => {
        const cursor = cursors.get(entity) ?? initialCursor(entity, settings.startDate);
        return { entity, from: Date.parse(cursor.from) };
      });
      const { totals, time } = await withQbo(input.tenantId, (client) => countsFrom(client, settings, starts));
      const until = passEnd(time ? Date.parse(time) : deps.now().getTime());
      const passId = await beginPass(db, passOpening(settings, input.kind, deps.now()));
      return { passId, until: new Date(until).toISOString(), estimates: Object.fromEntries(totals) };
    },

    async finishSyncPass(input: FinishSyncPassInput): Promise<FinishSyncPassResult> {
      return db.transaction().execute(async (trx) => {
        const tenantId = await finishPass(trx, input.passId, {
          status: input.status,
          finishedAt: deps.now(),
          counts: input.counts,
          error: input.error,
        });
        return { openErrors: await countOpenSyncErrors(trx, tenantId) };
      });
    },

    /**
     * count(*) of what the backfill will read for an entity, for progress and ETA: asked by passes
     * whose beginSyncPass gave no estimates (opened by a worker from before they did).
     */
    async estimateEntityTotal(input: EstimateEntityTotalInput): Promise<number> {
      const settings = await settingsOf(input.tenantId);
      const cursor = (await readCursor(db, settings, input.entity)) ?? initialCursor(input.entity, settings.startDate);
      const window = { from: Date.parse(cursor.from), to: Date.parse(input.until) };
      return withQbo(input.tenantId, (client) =>
        client.count({ entity: input.entity, where: windowConditions(settings, input.entity, window) }),
      );
    },

    /**
     * Reads an entity onward from its cursor, page after page, up to the pass's end or the page
     * budget, whichever comes first. Each page commits with the cursor that follows it in one
     * transaction, so a retry goes on from the last page committed. The next page is read from QBO
     * while the current one is written: the two wait on different machines.
     */
    async syncEntityPage(input: SyncEntityPageInput): Promise<PageResult> {
      const settings = await settingsOf(input.tenantId);
      const stored = await readCursor(db, settings, input.entity);
      const initial = initialCursor(input.entity, settings.startDate);
      const { workflowExecution, activityId, attempt } = Context.current().info;
      const tally = openTally(stored?.tally, input.until, {
        key: `${workflowExecution?.workflowId}/${workflowExecution?.runId}/${activityId}`,
        attempt,
      });
      const budgetEnds = performance.now() + pageBudget.milliseconds;
      return withQbo(input.tenantId, async (client, checkpoint) => {
        const readPage = async (cursor: CursorState, resumable: boolean): Promise<ReadStep> => {
          const step = await readEntityPage(client, settings, input, { cursor, paging, resumable }, checkpoint);
          if (step.kind === 'up-to-date') return step;
          const { records: entries, ...position } = step;
          return { ...position, ...preparePage(input.entity, entries, settings) };
        };
        const fetchReferences = referenceFetcher(client);
        /** Writes a page and the cursor after it (with the pass's tally) in one transaction. */
        const commitPage = async (
          { records, damaged }: PreparedPage,
          next: CursorState,
          subCustomersWaiting: 'defer' | 'settle',
        ) => {
          const committed = await asSync(db, async (trx) => {
            const counts = await writeRecords(trx, settings, input.entity, records, fetchReferences, deps.now(), {
              subCustomersWaiting,
            });
            await recordSyncErrors(trx, settings, input.entity, damaged, deps.now());
            counts.failed += damaged.length;
            const after = tally.after(counts);
            await saveCursor(trx, settings, input.entity, { ...next, tally: after });
            return { counts, after };
          });
          tally.committed(committed.after);
          statistics.afterWrite(committed.counts.written);
        };
        const first = resumeCursor(stored, initial, input.overlap ? overlapMs : 0);
        let reading = readPage(first, true);
        const windows: string[] = [];
        let cursor = first.from;
        let done = false;
        for (let pages = 1; ; pages += 1) {
          const step = await reading;
          if (step.kind === 'up-to-date') {
            if (windows.length === 0) windows.push('up to date');
            cursor = step.cursor;
            done = true;
            // The read's end: sub-customers still waiting for their parent are written now.
            if (input.entity === 'Customer') await commitPage(emptyPage, { from: step.cursor }, 'settle');
            break;
          }
          const more = !step.done && pages < pageBudget.pages && performance.now() < budgetEnds;
          if (more) {
            reading = readPage(step.next, false);
            // Awaited on the next turn; until then a failed read must not count as unhandled.
            reading.catch(() => undefined);
          }
          await commitPage(step, step.next, step.done ? 'settle' : 'defer');
          windows.push(step.window);
          cursor = step.next.from;
          done = step.done;
          if (!more) break;
        }
        const counts = tally.sinceActivityStart();
        return {
          counts,
          cursor,
          done,
          window: windowsLabel(windows),
          ...(await mergesAfter(settings, counts)),
        };
      });
    },

    /**
     * An idle pass in one QBO request, run as a local activity (no heartbeat). It decides whether
     * CDC can serve the pass before calling it, estimating QBO's clock as the later of this
     * machine's clock and the previous pass's end plus the settle lag (a day's margin under CDC's
     * 30 days absorbs ordinary skew), then checks again on the CDC answer's own time, which also
     * fixes the pass's end: no separate count(*) for the clock. Only when QBO's clock proves far
     * ahead of the estimate (QBO refuses the changedSince) does the pass take a second request,
     * a count(*) for the clock.
     */
    async incrementalPass(input: IncrementalPassInput): Promise<IncrementalPassResult> {
      const startedAt = deps.now();
      const settings = await settingsOf(input.tenantId);
      const cursors = await readCursors(db, settings, syncedEntities);
      const client = await deps.qboClientFor(input.tenantId);
      const byQuery = async (until: number, reason: string): Promise<IncrementalPassResult> => {
        const passId = await beginPass(db, passOpening(settings, 'incremental', startedAt));
        return { kind: 'by-query', passId, until: new Date(until).toISOString(), reason };
      };

      const estimatedQboNow = Math.max(startedAt.getTime(), newestCursor(cursors) + settleLagMs);
      const blocked = cdcBlocker(cursors, syncedEntities, estimatedQboNow);
      if (blocked) return byQuery(await passEndFromQbo(client), blocked);

      const changedSince = cdcChangedSince(cursors, syncedEntities);
      const answer = await client.cdc(syncedEntities, changedSince).catch((error: unknown) => {
        if (isCdcLookBackRefusal(error)) return undefined;
        throw error;
      });
      if (!answer) return byQuery(await passEndFromQbo(client), 'QBO refused a changedSince past its look-back');
      const qboNow = Date.parse(answer.time);
      const until = passEnd(qboNow);
      const unusable =
        cdcBlocker(cursors, syncedEntities, qboNow) ?? cdcCutReason({ ...answer.changes, damaged: answer.damaged });
      if (unusable) return byQuery(until, unusable);

      const cursor = new Date(until).toISOString();
      const fetchReferences = referenceFetcher(client);
      const committed = await asSync(db, async (trx) => {
        const counts = emptyCounts();
        for (const entity of syncedEntities) {
          const changes = answer.changes[entity] ?? [];
          await writeRecords(trx, settings, entity, changes, fetchReferences, deps.now(), {
            counts,
            subCustomersWaiting: 'settle',
          });
          const start = changedSince.toISOString().slice(0, 19);
          const since = { start: `cdc ${start}`, label: `the CDC answer since ${start}` };
          const damaged = answer.damaged
            .filter((record) => record.entity === entity)
            .map((record) => damagedFailure(record, record.index + 1, since));
          await recordSyncErrors(trx, settings, entity, damaged, deps.now());
          counts.failed += damaged.length;
          await saveCursor(trx, settings, entity, { from: cursor });
        }
        const finishedAt = deps.now();
        const passId = await insertFinishedPass(trx, passOpening(settings, 'incremental', startedAt), {
          status: 'succeeded',
          finishedAt,
          counts,
        });
        return {
          passId,
          counts,
          finishedAt,
          openErrors: await countOpenSyncErrors(trx, settings.tenantId),
          pushesWaiting: settings.twoWay ? await pushesWaiting(trx, settings.tenantId) : 0,
        };
      });
      statistics.afterWrite(committed.counts.written);
      return {
        kind: 'applied',
        passId: committed.passId,
        counts: committed.counts,
        cursor,
        openErrors: committed.openErrors,
        startedAt: startedAt.toISOString(),
        finishedAt: committed.finishedAt.toISOString(),
        pushesWaiting: committed.pushesWaiting,
        ...(await mergesAfter(settings, committed.counts)),
      };
    },

    /** Documents hard-deleted in QBO that windowed queries cannot see (reconcile-deletes.ts). */
    async reconcileDeletedDocuments(input: ReconcileDeletedDocumentsInput): Promise<ReconcileDeletedDocumentsResult> {
      if (!transactionEntities.includes(input.entity)) return { deleted: 0, requests: 0 };
      const entity = input.entity as SalesDocumentEntityType;
      const settings = await settingsOf(input.tenantId);
      const held = await listLinkedDocuments(db, settings, entity);
      if (held.length === 0) return { deleted: 0, requests: 0 };
      const { gone, requests } = await withQbo(input.tenantId, (client) =>
        findDeletedDocuments(held, documentsByTxnDate(client, entity), maxPageSize),
      );
      const deleted =
        gone.length === 0
          ? 0
          : await asSync(db, (trx) => markDocumentsDeleted(trx, settings, entity, gone, deps.now()));
      return { deleted, requests };
    },

    /** Applies a mode change to the database at once: the one-way lock is a trigger on sync_mode (R8). */
    async applyTenantMode(input: ApplyTenantModeInput): Promise<void> {
      await saveSyncMode(db, input.tenantId, input.mode);
    },
  });
}

/** A page planned to its end: records to commit with their cursor, or nothing left to read. */
type PageStep = Extract<PagingStep<PageEntry>, { kind: 'commit' | 'up-to-date' }>;

/** A page ready for its write: its records (sales documents already mapped) and its damaged entries. */
interface PreparedPage {
  readonly records: readonly QboRecord[] | MappedDocuments;
  readonly damaged: readonly RecordFailure[];
}

/** A page read: its position and what to write, or nothing left to read. */
type ReadStep =
  Extract<PageStep, { kind: 'up-to-date' }> | (Omit<Extract<PageStep, { kind: 'commit' }>, 'records'> & PreparedPage);

const emptyPage: PreparedPage = { records: [], damaged: [] };

/**
 * Sales documents are mapped as soon as their page is read (pure work): the page then waits for
 * its write, behind the page before it, as rows rather than as the larger QBO payloads, which go
 * while still young. Customers stay as QBO sent them (a sub-customer whose parent has not come yet
 * waits as its QBO record), and so do items, a few pages at most.
 */
function preparePage(entity: SyncedEntity, entries: readonly PageEntry[], settings: SyncSettings): PreparedPage {
  const { records, damaged } = splitPage(entries);
  return {
    records: isSalesDocumentEntity(entity) ? mapDocuments(entity, records, settings.syncLanguage) : records,
    damaged,
  };
}

/**
 * Asks QBO what the paging planner directs until the page is whole. A page through a crowded second
 * takes several requests (a count, the read by Id, a count again). When one of them fails, the
 * retry goes on from the last request asked rather than from the cursor: on a flaky connection a
 * page whose every request must succeed in one go may never get read. Only the activity's first
 * page can resume so: the pages after it start from cursors this attempt committed itself.
 */
async function readEntityPage(
  client: QboClient,
  settings: SyncSettings,
  input: SyncEntityPageInput,
  from: { readonly cursor: CursorState; readonly paging: PagingOptions; readonly resumable: boolean },
  checkpoint: (progress: unknown) => void,
): Promise<PageStep> {
  const { cursor, paging, resumable } = from;
  const start = JSON.stringify(withoutTally(cursor));
  let step: PagingStep<PageEntry> =
    (resumable ? resumedStep(Context.current().info.heartbeatDetails, input, start) : undefined) ??
    planPage(cursor, Date.parse(input.until), paging);
  while (step.kind === 'request') {
    if (step.pending.phase !== 'recount') {
      checkpoint({ entity: input.entity, until: input.until, cursor: start, step } satisfies PageCheckpoint);
    }
    step = continuePage(step.pending, await askQbo(client, settings, input.entity, step.request), pageEntryKey);
  }
  return step;
}

function withoutTally(cursor: CursorState): CursorState {
  const { tally: _tally, ...position } = cursor;
  return position;
}

/** The windows an activity read, as its summary: the first and the last when there are several. */
function windowsLabel(windows: readonly string[]): string {
  if (windows.length <= 1) return windows[0] ?? 'up to date';
  return `${windows.length} pages, ${windows[0]} to ${windows[windows.length - 1]}`;
}

/** How far a page activity got, kept in its heartbeat for the next attempt. */
interface PageCheckpoint {
  readonly entity: SyncedEntity;
  readonly until: string;
  /** The cursor (as JSON) the page was planned from: the checkpoint is stale once it moved. */
  readonly cursor: string;
  readonly step: PagingStep<PageEntry>;
}

const resumablePhases: readonly string[] = ['page', 'crowded', 'burst'];

/** The request a failed attempt was about to make, when it was planned from the same cursor and pass. */
function resumedStep(details: unknown, input: SyncEntityPageInput, cursor: string): PagingStep<PageEntry> | undefined {
  const checkpoint = details as Partial<PageCheckpoint> | undefined;
  if (checkpoint?.entity !== input.entity || checkpoint.until !== input.until || checkpoint.cursor !== cursor) {
    return undefined;
  }
  // A checkpoint left by a worker of an earlier version may wait in a phase this planner no longer has.
  const step = checkpoint.step;
  return step?.kind === 'request' && resumablePhases.includes(step.pending.phase) ? step : undefined;
}

export type SyncActivities = ReturnType<typeof createSyncActivities>;
