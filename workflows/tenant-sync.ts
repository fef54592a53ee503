import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { reconnectFailureTypes, type FailureType } from '../common/failure-types.js';
import { modeKey, pausedKey, phaseKey, realmIdKey, tenantIdKey } from '../common/search-attribute-keys.js';
import {
  describePassRecords,
  syncedEntities,
  type EntityProgress,
  type PassSummary,
  type SyncedEntity,
  type TenantStatus,
} from '../common/sync-types.js';
import { bookkeeping, pageActivities } from './activity-options.js';
import {
  pauseSignal,
  repairSignal,
  resumeSignal,
  setModeSignal,
  statusQuery,
  syncNowSignal,
  type CarriedState,
  type TenantSyncInput,
} from './definitions.js';

/** Well before Temporal's suggestion (4,096 events): a year-old tenant still has a short history. */
export const continueAsNewAfterEvents = 2_000;
const defaultIncrementalEverySeconds = 300;

interface Counts {
  written: number;
  unchanged: number;
  skipped: number;
  deleted: number;
  failed: number;
}

const noProgress: EntityProgress = { cursor: null, done: 0, total: null, failed: 0 };

/**
 * One durable workflow per tenant (R23): a backfill from the start date, then incremental passes
 * for as long as the tenant stays connected. It decides what happens next; activities do the work
 * and PostgreSQL remembers where it stands, so the workflow only ever sees ids, windows, cursors
 * and counts (never a record, a token or personal data).
 */
export async function tenantSyncWorkflow(input: TenantSyncInput): Promise<void> {
  const carried = input.carried;
  const state = {
    phase: carried?.phase ?? ('backfill' as const),
    mode: carried?.mode ?? input.mode,
    paused: carried?.paused ?? false,
    pausedReason: carried?.pausedReason ?? null,
    entities: { ...(carried?.entities ?? Object.fromEntries(syncedEntities.map((e) => [e, noProgress]))) } as Record<
      SyncedEntity,
      EntityProgress
    >,
    lastPass: carried?.lastPass ?? null,
    openErrors: carried?.openErrors ?? 0,
    pendingRepairs: [...(carried?.pendingRepairs ?? [])],
    run: carried?.run ?? 1,
    syncNowRequested: carried?.syncNowRequested ?? false,
    lastError: carried?.lastError ?? null,
  } satisfies CarriedState;
  const everyMs = (input.incrementalEverySeconds ?? defaultIncrementalEverySeconds) * 1000;

  const status = (): TenantStatus => ({
    tenantId: input.tenantId,
    realmId: input.realmId,
    phase: state.phase,
    mode: state.mode,
    paused: state.paused,
    pausedReason: state.pausedReason,
    entities: { ...state.entities },
    lastPass: state.lastPass,
    openErrors: state.openErrors,
    pendingRepairs: [...state.pendingRepairs],
    run: state.run,
    lastError: state.lastError,
  });
  const publish = () => {
    upsertSearchAttributes([
      { key: tenantIdKey, value: input.tenantId },
      { key: realmIdKey, value: input.realmId },
      { key: phaseKey, value: state.phase },
      { key: modeKey, value: state.mode },
      { key: pausedKey, value: state.paused },
    ]);
    setCurrentDetails(describeProgress(status()));
  };

  setHandler(statusQuery, status);
  setHandler(pauseSignal, ({ reason }) => {
    state.paused = true;
    state.pausedReason = reason || 'paused by support';
    publish();
  });
  setHandler(resumeSignal, () => {
    state.paused = false;
    state.pausedReason = null;
    // Catch up at once from the cursors, rather than at the next interval.
    state.syncNowRequested = true;
    publish();
  });
  setHandler(setModeSignal, async ({ mode }) => {
    // The database lock of one-way mode (R8) follows at once; the sync changes direction next pass.
    await bookkeeping.applyTenantMode({ tenantId: input.tenantId, mode });
    state.mode = mode;
    publish();
  });
  setHandler(syncNowSignal, () => {
    state.syncNowRequested = true;
  });
  setHandler(repairSignal, (request) => {
    // Recorded now; the repair itself (R21) acts on it in its own issue.
    state.pendingRepairs.push({ ...request, requestedAt: new Date().toISOString() });
  });

  publish();

  for (;;) {
    if (state.paused) {
      // A paused tenant makes no QBO calls at all; on resume it catches up from its cursors.
      await condition(() => !state.paused);
      continue;
    }
    if (state.phase === 'incremental' && !state.syncNowRequested) {
      await condition(() => state.syncNowRequested || state.paused, everyMs);
      if (state.paused) continue;
    }
    state.syncNowRequested = false;
    const outcome = await runPass(state.phase);
    if (outcome === 'completed' && state.phase === 'backfill') state.phase = 'incremental';
    publish();

    const eventLimit = input.continueAsNewAfterEvents ?? continueAsNewAfterEvents;
    if (workflowInfo().historyLength > eventLimit || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof tenantSyncWorkflow>({ ...input, carried: { ...state, run: state.run + 1 } });
    }
  }

  /** One pass over every entity; returns how it ended. */
  async function runPass(kind: 'backfill' | 'incremental'): Promise<'completed' | 'paused' | 'failed'> {
    const started = Date.now();
    const totals: Counts = { written: 0, unchanged: 0, skipped: 0, deleted: 0, failed: 0 };
    let passId: number | undefined;
    try {
      let pass: { passId: number; until: string };
      if (kind === 'incremental') {
        const idle = await pageActivities.incrementalPass.executeWithOptions(
          { summary: `CDC since ${shortCursor(oldestCursor())}` },
          [{ tenantId: input.tenantId }],
        );
        if (idle.kind === 'applied') {
          add(totals, idle.counts);
          for (const entity of syncedEntities) progress(entity, { cursor: idle.cursor });
          state.openErrors = idle.openErrors;
          state.lastError = null;
          state.lastPass = summary(kind, started, totals);
          return 'completed';
        }
        pass = idle;
      } else {
        pass = await bookkeeping.beginSyncPass({ tenantId: input.tenantId, kind });
      }
      passId = pass.passId;
      const readByQuery = true;
      if (readByQuery) {
        for (const entity of syncedEntities) {
          if (kind === 'backfill') {
            const total = await bookkeeping.estimateEntityTotal({
              tenantId: input.tenantId,
              entity,
              until: pass.until,
            });
            progress(entity, { total: state.entities[entity].done + total });
            publish();
          }
          let first = true;
          for (;;) {
            if (state.paused) return 'paused';
            const page = await pageActivities.syncEntityPage.executeWithOptions(
              {
                summary: `${entity} ${shortCursor(state.entities[entity].cursor)}..${shortCursor(pass.until)}`,
              },
              [{ tenantId: input.tenantId, entity, until: pass.until, overlap: kind === 'incremental' && first }],
            );
            first = false;
            add(totals, page.counts);
            progress(entity, {
              cursor: page.cursor,
              done: state.entities[entity].done + page.counts.written + page.counts.unchanged,
              failed: state.entities[entity].failed + page.counts.failed,
            });
            setCurrentDetails(describeProgress(status()));
            if (page.done) break;
          }
        }
      }
      if (kind === 'incremental' && readByQuery) {
        // Windowed queries see edits but not hard deletes: find those by reconciliation.
        for (const entity of syncedEntities) {
          const reconciled = await pageActivities.reconcileDeletedDocuments.executeWithOptions(
            { summary: `${entity} deletions since ${shortCursor(state.entities[entity].cursor)}` },
            [{ tenantId: input.tenantId, entity }],
          );
          totals.deleted += reconciled.deleted;
        }
      }
      // CRM → QBO for customers (two-way mode, R7) runs here, after QBO → CRM, in its own issue.
      state.openErrors = (await bookkeeping.finishSyncPass({ passId, status: 'succeeded', counts: totals })).openErrors;
      state.lastError = null;
      state.lastPass = summary(kind, started, totals);
      return 'completed';
    } catch (error) {
      if (isCancellation(error)) throw error;
      const failureType = failureTypeOf(error);
      state.lastError = `${failureType ?? 'Error'}: ${error instanceof Error ? error.message : String(error)}`.slice(
        0,
        500,
      );
      if (passId !== undefined) {
        await bookkeeping.finishSyncPass({ passId, status: 'failed', counts: totals, error: state.lastError });
      }
      if (failureType && (reconnectFailureTypes as readonly string[]).includes(failureType)) {
        // Bad credentials do not heal by retrying: pause, say why, and wait for a reconnect + resume.
        state.paused = true;
        state.pausedReason = `needs reconnect: ${failureType}`;
      }
      return 'failed';
    }
  }

  function progress(entity: SyncedEntity, change: Partial<EntityProgress>) {
    state.entities[entity] = { ...state.entities[entity], ...change };
  }

  function oldestCursor(): string | null {
    const cursors = syncedEntities
      .map((entity) => state.entities[entity].cursor)
      .filter((c): c is string => c !== null);
    return cursors.sort()[0] ?? null;
  }
}

function add(total: Counts, page: Counts) {
  total.written += page.written;
  total.unchanged += page.unchanged;
  total.skipped += page.skipped;
  total.deleted += page.deleted;
  total.failed += page.failed;
}

function summary(kind: PassSummary['kind'], started: number, totals: Counts): PassSummary {
  const finished = Date.now();
  return {
    kind,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - started,
    records: totals.written + totals.unchanged + totals.deleted,
    changed: totals.written + totals.deleted,
    failed: totals.failed,
  };
}

function shortCursor(cursor: string | null): string {
  return cursor === null ? 'start' : cursor.slice(0, 10);
}

function failureTypeOf(error: unknown): FailureType | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure ? (cause.type as FailureType | undefined) : undefined;
}

/** The text the Temporal UI shows as the workflow's current details. */
export function describeProgress(status: TenantStatus): string {
  const lines = [
    `**${status.phase}**, ${status.mode === 'two_way' ? 'two-way' : 'one-way'}${status.paused ? `, paused (${status.pausedReason})` : ''}`,
    ...syncedEntities.map((entity) => {
      const p = status.entities[entity];
      const total = p.total !== null && status.phase === 'backfill' ? ` of ~${p.total}` : '';
      return `- ${entity}: ${p.done}${total} records, cursor ${p.cursor ?? 'start'}${p.failed ? `, ${p.failed} failed` : ''}`;
    }),
    status.lastPass
      ? `Last pass: ${status.lastPass.kind}, ${describePassRecords(status.lastPass)} in ${Math.round(status.lastPass.durationMs / 1000)} s`
      : 'No pass finished yet',
    `Open errors: ${status.openErrors}`,
  ];
  if (status.lastError) lines.push(`Last error: ${status.lastError}`);
  return lines.join('\n');
}
