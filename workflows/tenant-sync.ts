import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { FailureType, reconnectFailureTypes } from '../common/failure-types.js';
import { modeKey, pausedKey, phaseKey, realmIdKey, tenantIdKey } from '../common/search-attribute-keys.js';
import {
  describePassRecords,
  syncedEntities,
  type EntityProgress,
  type PassSummary,
  type RepairRequest,
  type SyncedEntity,
  type SyncMode,
  type TenantStatus,
} from '../common/sync-types.js';
import {
  defaultFullReconcileDays,
  maxFullReconcileDays,
  type RepairKind,
  type RepairOutcome,
} from '../common/repair-types.js';
import {
  applyTenantModeActivity,
  bookkeeping,
  incrementalPassActivity,
  pageActivities,
  pushActivities,
} from './activity-options.js';
import {
  defaultPollIntervalSeconds,
  maxPollIntervalSeconds,
  minPollIntervalSeconds,
  pauseSignal,
  pauseUpdate,
  repairSignal,
  repairUpdate,
  resumeSignal,
  resumeUpdate,
  setModeSignal,
  setFullReconcileDaysUpdate,
  setModeUpdate,
  setPollIntervalUpdate,
  statusQuery,
  syncNowSignal,
  syncNowUpdate,
  tenantRepairWorkflowId,
  type CarriedState,
  type ControlState,
  type PassCounts,
  type PassInProgress,
  type RepairUpdateRequest,
  type SyncNowResult,
  type TenantSyncInput,
} from './definitions.js';
import { tenantRepairWorkflow } from './tenant-repair.js';

/** Well before Temporal's suggestion (4,096 events): a year-old tenant still has a short history. */
export const continueAsNewAfterEvents = 2_000;
const defaultRetryDelaySeconds = 60;
const defaultMaxRetryDelaySeconds = 3_600;
/** Repair requests kept until the next repair runs; the same request twice is kept once. */
const maxPendingRepairs = 20;
/**
 * R21: repairs run as child workflows between passes. Histories from before kept their repair
 * requests only; patched() keeps those replaying as they ran.
 */
const repairPatch = 'repair-child-workflow';
const dayMs = 86_400_000;

/** Push activities per pass: 50 × 100 outbox rows; what is left goes with the next pass. */
const maxPushCallsPerPass = 50;
/** Passes that read by query push after the pull; histories recorded before the push existed replay without it. */
const pushAfterPullPatch = 'push-after-pull';
/** Document entities are read side by side; histories recorded before read them one after another. */
const parallelDocumentsPatch = 'parallel-document-entities';
/** What documents refer to, read before them. */
const referencedEntities: readonly SyncedEntity[] = ['Item', 'Customer'];
const documentEntities: readonly SyncedEntity[] = syncedEntities.filter(
  (entity) => !referencedEntities.includes(entity),
);

const noProgress: EntityProgress = { cursor: null, done: 0, total: null, failed: 0 };
const noCounts: PassCounts = { written: 0, unchanged: 0, skipped: 0, deleted: 0, failed: 0 };

/** The carried fields that status always shows, so a new run has them whatever the last one carried. */
type TenantStatusFields = Pick<TenantStatus, 'pollIntervalSeconds' | 'consecutiveFailures' | 'nextAttemptAt'>;

/** Thrown for a failure that is not one of ours: a bug, which must fail the workflow task, not a pass. */
export class UnclassifiedFailure extends Error {
  override readonly name = 'UnclassifiedFailure';
}

type PassOutcome = 'completed' | 'paused' | 'failed' | 'continue-as-new';

/**
 * One durable workflow per tenant (R23): a backfill from the start date, then incremental passes
 * for as long as the tenant stays connected. It decides what happens next; activities do the work
 * and PostgreSQL remembers where it stands, so the workflow only ever sees ids, windows, cursors
 * and counts (never a record, a token or personal data).
 *
 * History stays bounded at any size: the run continues as new between pages as well as between
 * passes, and an idle incremental pass costs one local activity (a marker) and one timer.
 */
export async function tenantSyncWorkflow(input: TenantSyncInput): Promise<void> {
  const carried = input.carried;
  const state = {
    phase: carried?.phase ?? ('backfill' as const),
    mode: carried?.mode ?? input.mode,
    appliedMode: carried?.appliedMode ?? carried?.mode ?? input.mode,
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
    pollIntervalSeconds: carried?.pollIntervalSeconds ?? input.pollIntervalSeconds ?? defaultPollIntervalSeconds,
    consecutiveFailures: carried?.consecutiveFailures ?? 0,
    nextAttemptAt: carried?.nextAttemptAt ?? null,
    passesFinished: carried?.passesFinished ?? 0,
    passInProgress: carried?.passInProgress ?? null,
    repairsRequested: carried?.repairsRequested ?? 0,
    repairsServed: carried?.repairsServed ?? 0,
    repairRuns: carried?.repairRuns ?? 0,
    lastRepair: carried?.lastRepair ?? null,
    lastFullReconcileAt: carried?.lastFullReconcileAt ?? null,
    fullReconcileDays: carried?.fullReconcileDays ?? defaultFullReconcileDays,
  } satisfies Required<CarriedState> & TenantStatusFields;
  /** Passes started in this run or before: a sync-now waiter waits for the next one to end. */
  let passesStarted = state.passesFinished + (state.passInProgress ? 1 : 0);
  let continuingAsNew = false;
  /** When this run's last pass ended (workflow time); a new run falls back on the last summary. */
  let lastPassEndedAt: number | null = null;
  let pollIntervalChanged = false;
  /** A repair was asked for while the loop waits for the next pass: it runs now, not at the next pass. */
  let repairWanted = false;
  let applyingMode = false;
  const eventLimit = input.continueAsNewAfterEvents ?? continueAsNewAfterEvents;
  const retryDelayMs = (input.retryDelaySeconds ?? defaultRetryDelaySeconds) * 1000;
  const maxRetryDelayMs = (input.maxRetryDelaySeconds ?? defaultMaxRetryDelaySeconds) * 1000;

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
    pollIntervalSeconds: state.pollIntervalSeconds,
    consecutiveFailures: state.consecutiveFailures,
    nextAttemptAt: state.nextAttemptAt,
    lastRepair: state.lastRepair,
    nextFullReconcileAt: nextFullReconcileAt(),
  });
  const control = (): ControlState => ({
    paused: state.paused,
    pausedReason: state.pausedReason,
    mode: state.mode,
    pollIntervalSeconds: state.pollIntervalSeconds,
    phase: state.phase,
  });

  /** Search attributes are upserted only when one changed: an unchanged upsert is a history event for nothing. */
  const published = new Map<string, unknown>(
    [tenantIdKey, realmIdKey, phaseKey, modeKey, pausedKey].map((key) => [
      key.name,
      workflowInfo().typedSearchAttributes.get(key as never),
    ]),
  );
  const publish = () => {
    const wanted: SearchAttributeUpdatePair[] = [
      { key: tenantIdKey, value: input.tenantId },
      { key: realmIdKey, value: input.realmId },
      { key: phaseKey, value: state.phase },
      { key: modeKey, value: state.mode },
      { key: pausedKey, value: state.paused },
    ];
    const changed = wanted.filter((pair) => published.get(pair.key.name) !== pair.value);
    if (changed.length > 0) {
      upsertSearchAttributes(changed);
      for (const pair of changed) published.set(pair.key.name, pair.value);
    }
    setCurrentDetails(describeProgress(status()));
  };

  const pause = (reason: string) => {
    state.paused = true;
    state.pausedReason = reason || 'paused by support';
    publish();
  };
  const resume = () => {
    state.paused = false;
    state.pausedReason = null;
    // Catch up at once from the cursors, rather than at the next interval or the end of a backoff.
    state.syncNowRequested = true;
    publish();
  };
  /**
   * The one-way lock (R8) is a database trigger on the tenant's mode, so the mode is written at
   * once, by an activity that never gives up; changes that race are applied in order, last one wins.
   */
  const applyMode = async (mode: SyncMode) => {
    state.mode = mode;
    publish();
    while (state.appliedMode !== state.mode) {
      if (applyingMode) {
        await condition(() => !applyingMode);
        continue;
      }
      applyingMode = true;
      const target = state.mode;
      try {
        await applyTenantModeActivity({ tenantId: input.tenantId, mode: target });
        state.appliedMode = target;
      } catch (error) {
        if (isCancellation(error)) throw error;
        // Left for the main loop, which applies a pending mode before each pass.
        log.warn('could not apply the tenant mode yet', { error: String(error) });
        return;
      } finally {
        applyingMode = false;
      }
    }
  };

  setHandler(statusQuery, status);
  setHandler(
    pauseUpdate,
    ({ reason }) => {
      pause(reason);
      return control();
    },
    {
      validator: (request) => {
        if (typeof request?.reason !== 'string') throw new Error('pause needs a reason (a string)');
      },
    },
  );
  setHandler(
    resumeUpdate,
    () => {
      resume();
      return control();
    },
    {
      validator: () => {
        if (!state.paused) throw new Error('the tenant is not paused');
      },
    },
  );
  setHandler(
    setModeUpdate,
    async ({ mode }) => {
      await applyMode(mode);
      return control();
    },
    { validator: ({ mode }) => assertMode(mode) },
  );
  setHandler(
    setPollIntervalUpdate,
    ({ seconds }) => {
      state.pollIntervalSeconds = seconds;
      pollIntervalChanged = true;
      publish();
      return control();
    },
    {
      validator: ({ seconds }) => {
        if (!Number.isInteger(seconds) || seconds < minPollIntervalSeconds || seconds > maxPollIntervalSeconds) {
          throw new Error(
            `the poll interval must be a whole number of seconds from ${minPollIntervalSeconds} to ${maxPollIntervalSeconds}, not ${String(seconds)}`,
          );
        }
      },
    },
  );
  setHandler(
    syncNowUpdate,
    async ({ wait }): Promise<SyncNowResult> => {
      state.syncNowRequested = true;
      if (!wait) return { ...control(), outcome: 'requested', lastPass: state.lastPass, lastError: state.lastError };
      const awaited = passesStarted + 1;
      await condition(() => state.passesFinished >= awaited || state.paused || continuingAsNew);
      const outcome =
        state.passesFinished >= awaited
          ? state.lastError === null
            ? 'succeeded'
            : 'failed'
          : state.paused
            ? 'paused'
            : 'requested';
      return { ...control(), outcome, lastPass: state.lastPass, lastError: state.lastError };
    },
    {
      validator: (_request) => {
        if (state.paused)
          throw new Error(`the tenant is paused (${state.pausedReason ?? 'no reason given'}): resume it first`);
      },
    },
  );
  setHandler(pauseSignal, ({ reason }) => pause(reason));
  setHandler(resumeSignal, resume);
  setHandler(setModeSignal, async ({ mode }) => {
    if (mode === 'two_way' || mode === 'one_way') await applyMode(mode);
  });
  setHandler(syncNowSignal, () => {
    state.syncNowRequested = true;
  });
  /** Records a repair request until the next repair serves it; returns its number. */
  const requestRepair = (request: Omit<RepairRequest, 'requestedAt' | 'number'>): number => {
    state.repairsRequested += 1;
    const requested: RepairRequest = {
      ...request,
      requestedAt: new Date().toISOString(),
      number: state.repairsRequested,
    };
    const others = state.pendingRepairs.filter(
      (r) =>
        (r.kind ?? 'merge') !== (request.kind ?? 'merge') ||
        r.survivorQboId !== request.survivorQboId ||
        r.mergedQboId !== request.mergedQboId,
    );
    state.pendingRepairs = [...others, requested].slice(-maxPendingRepairs);
    return state.repairsRequested;
  };
  setHandler(repairSignal, (request) => {
    // Webhooks send a QBO Merge event this way (R21): repaired between passes, as an update's request is.
    requestRepair({ ...request, kind: 'merge' });
    if (patched(repairPatch)) repairWanted = true;
  });
  setHandler(
    repairUpdate,
    async (request): Promise<RepairOutcome> => {
      const number = requestRepair({
        kind: request.kind,
        requestedBy: request.requestedBy,
        survivorQboId: request.survivorQboId ?? null,
        mergedQboId: request.mergedQboId ?? null,
      });
      repairWanted = true;
      await condition(() => state.repairsServed >= number || continuingAsNew);
      if (state.repairsServed < number || !state.lastRepair) return { outcome: 'requested', result: null, error: null };
      return state.lastRepair;
    },
    { validator: (request) => assertRepairRequest(request, state) },
  );
  setHandler(
    setFullReconcileDaysUpdate,
    ({ days }) => {
      state.fullReconcileDays = days;
      publish();
      return { fullReconcileDays: days };
    },
    {
      validator: ({ days }) => {
        if (!Number.isInteger(days) || days < 0 || days > maxFullReconcileDays) {
          throw new Error(
            `the days between full reconciles must be a whole number from 0 (never) to ${maxFullReconcileDays}, not ${String(days)}`,
          );
        }
      },
    },
  );

  publish();

  for (;;) {
    if (state.paused) {
      // A paused tenant makes no QBO calls at all; on resume it catches up from its cursors.
      await condition(() => !state.paused);
      continue;
    }
    if (!state.passInProgress && state.phase === 'incremental') {
      scheduleFullReconcile();
      if (state.pendingRepairs.length > 0 && patched(repairPatch)) {
        await runRepairs();
        continue;
      }
    }
    if (!state.passInProgress && !state.syncNowRequested) {
      const waitUntil = nextPassDue();
      if (waitUntil !== null && waitUntil > Date.now()) {
        pollIntervalChanged = false;
        await condition(
          () => state.syncNowRequested || state.paused || pollIntervalChanged || repairWanted,
          waitUntil - Date.now(),
        );
        continue;
      }
    }
    state.syncNowRequested = false;
    if (state.appliedMode !== state.mode) await applyMode(state.mode);
    passesStarted = state.passesFinished + 1;
    const outcome = await runPass();
    if (outcome === 'continue-as-new') {
      await continueAsNewNow();
      return;
    }
    state.passesFinished += 1;
    if (outcome === 'completed') {
      if (state.phase === 'backfill') {
        state.phase = 'incremental';
        // What changed while a long backfill ran is read at once, not an interval later.
        state.syncNowRequested = true;
      }
      state.consecutiveFailures = 0;
      state.nextAttemptAt = null;
    } else if (outcome === 'failed') {
      state.consecutiveFailures += 1;
      const delay = Math.min(retryDelayMs * 2 ** (state.consecutiveFailures - 1), maxRetryDelayMs);
      state.nextAttemptAt = new Date(Date.now() + delay).toISOString();
    }
    lastPassEndedAt = Date.now();
    publish();
    if (historyIsLong()) {
      await continueAsNewNow();
      return;
    }
  }

  /** When the next pass is due: after a failure, its backoff; in incremental, the poll interval; else now. */
  function nextPassDue(): number | null {
    if (state.nextAttemptAt !== null) return Date.parse(state.nextAttemptAt);
    if (state.phase === 'backfill') return null;
    const last = lastPassEndedAt ?? (state.lastPass ? Date.parse(state.lastPass.finishedAt) : null);
    return last === null ? null : last + state.pollIntervalSeconds * 1000;
  }

  /** When the scheduled full reconcile is due (R21), or null when the tenant has none. */
  function nextFullReconcileAt(): string | null {
    if (state.lastFullReconcileAt === null || state.fullReconcileDays <= 0) return null;
    return new Date(Date.parse(state.lastFullReconcileAt) + state.fullReconcileDays * dayMs).toISOString();
  }

  /**
   * The weekly (per-tenant) full reconcile rides on the loop's own timer: it is checked between
   * passes, so it starts at the first pass after it is due. The backfill counts as the first one.
   */
  function scheduleFullReconcile() {
    if (state.lastFullReconcileAt === null) state.lastFullReconcileAt = new Date().toISOString();
    const due = nextFullReconcileAt();
    if (due === null || Date.parse(due) > Date.now()) return;
    if (state.pendingRepairs.some((r) => r.kind === 'full')) return;
    requestRepair({ kind: 'full', requestedBy: 'schedule', survivorQboId: null, mergedQboId: null });
  }

  /** A pass wrote changes and merges are recorded, unrepaired (detected in the pull): repair them next. */
  function noteMergesPending(pending: number | undefined) {
    if (!pending) return;
    if (state.pendingRepairs.some((r) => (r.kind ?? 'merge') === 'merge' && r.mergedQboId === null)) return;
    requestRepair({ kind: 'merge', requestedBy: 'sync (merge detected)', survivorQboId: null, mergedQboId: null });
  }

  /** Runs every pending request in one repair child workflow, and waits for it. */
  async function runRepairs(): Promise<void> {
    repairWanted = false;
    const requests = state.pendingRepairs;
    const served = state.repairsRequested;
    state.pendingRepairs = [];
    const kind: RepairKind = requests.some((r) => r.kind === 'full') ? 'full' : 'merge';
    const merges = requests.flatMap((r) =>
      r.survivorQboId && r.mergedQboId ? [{ survivorQboId: r.survivorQboId, mergedQboId: r.mergedQboId }] : [],
    );
    state.repairRuns += 1;
    const workflowId = tenantRepairWorkflowId(input.tenantId, state.repairRuns);
    setCurrentDetails(
      `${describeProgress(status())}\n\nRepairing: ${kind === 'full' ? 'full reconcile' : 'merges'} (${workflowId})`,
    );
    try {
      const named = merges.map((m) => `${m.mergedQboId} into ${m.survivorQboId}`).join(', ');
      const result = await executeChild(tenantRepairWorkflow, {
        workflowId,
        args: [{ tenantId: input.tenantId, kind, merges }],
        staticSummary:
          `${kind === 'full' ? 'full reconcile' : 'merge repair'} of ${input.tenantId}${named ? `: merges of ${named}` : ''} (asked by ${[...new Set(requests.map((r) => r.requestedBy))].join(', ')})`.slice(
            0,
            200,
          ),
      });
      state.lastRepair = { outcome: 'repaired', result, error: null };
      if (kind === 'full') state.fullReconcileDays = result.fullReconcileDays;
    } catch (error) {
      if (isCancellation(error)) throw error;
      // A failed repair does not stop the sync; status and the update's answer say why.
      state.lastRepair = { outcome: 'failed', result: null, error: innermostMessage(error).slice(0, 500) };
    }
    // A reconcile that failed waits for its next turn rather than running again at every pass.
    if (kind === 'full') state.lastFullReconcileAt = new Date().toISOString();
    state.repairsServed = served;
    publish();
  }

  function historyIsLong(): boolean {
    return workflowInfo().historyLength > eventLimit || workflowInfo().continueAsNewSuggested;
  }

  async function continueAsNewNow(): Promise<void> {
    continuingAsNew = true;
    await condition(allHandlersFinished);
    await continueAsNew<typeof tenantSyncWorkflow>({ ...input, carried: { ...state, run: state.run + 1 } });
  }

  /** One pass over every entity, or the rest of one that the previous run began. */
  async function runPass(): Promise<PassOutcome> {
    let pass: PassInProgress | null = state.passInProgress;
    state.passInProgress = null;
    const counts = { ...(pass?.counts ?? noCounts) };
    try {
      if (!pass && state.phase === 'incremental') {
        const result = await incrementalPassActivity({ tenantId: input.tenantId });
        if (result.kind === 'applied') {
          noteMergesPending(result.mergesPending);
          add(counts, result.counts);
          for (const entity of syncedEntities) progress(entity, { cursor: result.cursor });
          // An idle pass stays one marker: the push runs only when CRM changes wait.
          const pushed = result.pushesWaiting > 0 ? await pushCrmChanges() : 0;
          const finishedAt = pushed > 0 ? new Date().toISOString() : result.finishedAt;
          succeeded(result.openErrors, {
            ...summary('incremental', result.startedAt, finishedAt, counts),
            ...(pushed > 0 ? { pushed } : {}),
          });
          return 'completed';
        }
        pass = openedPass('incremental', result);
      }
      pass ??= openedPass('backfill', await bookkeeping.beginSyncPass({ tenantId: input.tenantId, kind: 'backfill' }));
      const current: PassInProgress = pass;
      const finished = new Set(current.finishedEntities);
      const inProgress = new Set(
        current.entitiesInProgress ?? (current.entityInProgress ? [current.entityInProgress] : []),
      );

      /** Reads one entity to the pass's end, page activity after page activity, unless the run must stop first. */
      const readEntity = async (entity: SyncedEntity): Promise<EntityOutcome> => {
        const resuming = inProgress.has(entity);
        inProgress.add(entity);
        if (current.kind === 'backfill' && !resuming) {
          // The estimate came with the pass's opening; a pass opened without them asks, as it did
          // when its history was recorded (the branch follows the recorded result: replay-safe).
          const total =
            current.estimates?.[entity] ??
            (await bookkeeping.estimateEntityTotal({ tenantId: input.tenantId, entity, until: current.until }));
          progress(entity, { total: state.entities[entity].done + total });
          publish();
        }
        let first = !resuming;
        for (;;) {
          if (state.paused) return 'paused';
          if (historyIsLong()) return 'continue-as-new';
          const page = await pageActivities.syncEntityPage.executeWithOptions(
            { summary: `${entity} ${shortCursor(state.entities[entity].cursor)}..${shortCursor(current.until)}` },
            [
              {
                tenantId: input.tenantId,
                entity,
                until: current.until,
                overlap: current.kind === 'incremental' && first,
              },
            ],
          );
          first = false;
          noteMergesPending(page.mergesPending);
          add(counts, page.counts);
          progress(entity, {
            cursor: page.cursor,
            done: state.entities[entity].done + page.counts.written + page.counts.unchanged,
            failed: state.entities[entity].failed + page.counts.failed,
          });
          setCurrentDetails(describeProgress(status()));
          if (page.done) break;
        }
        inProgress.delete(entity);
        finished.add(entity);
        return 'read';
      };

      // Items and customers first: documents refer to them. The document entities refer to nothing
      // of each other's and are read side by side, each a chain of requests QBO answers one after
      // another: together they keep more of the realm's 10 concurrent requests busy.
      const unread = (entities: readonly SyncedEntity[]) => entities.filter((entity) => !finished.has(entity));
      const groups: SyncedEntity[][] = patched(parallelDocumentsPatch)
        ? [...referencedEntities.map((entity) => [entity]), [...documentEntities]]
        : syncedEntities.map((entity) => [entity]);
      for (const group of groups) {
        const outcomes = await readSideBySide(unread(group), readEntity);
        if (outcomes.includes('paused')) return await endPass(current, counts, 'cancelled', 'paused');
        if (outcomes.includes('continue-as-new')) {
          state.passInProgress = {
            ...current,
            finishedEntities: syncedEntities.filter((entity) => finished.has(entity)),
            entitiesInProgress: syncedEntities.filter((entity) => inProgress.has(entity)),
            entityInProgress: syncedEntities.find((entity) => inProgress.has(entity)) ?? null,
            counts,
          };
          return 'continue-as-new';
        }
      }
      if (current.kind === 'incremental') {
        // Windowed queries see edits but not hard deletes: find those by reconciliation.
        for (const entity of syncedEntities) {
          const reconciled = await pageActivities.reconcileDeletedDocuments.executeWithOptions(
            { summary: `${entity} deletions since ${shortCursor(state.entities[entity].cursor)}` },
            [{ tenantId: input.tenantId, entity }],
          );
          counts.deleted += reconciled.deleted;
        }
      }
      // CRM → QBO for customers (R7), after the pull: what both sides changed is merged there.
      const pushed = patched(pushAfterPullPatch) ? await pushCrmChanges() : 0;
      return await endPass(current, counts, 'succeeded', 'completed', pushed);
    } catch (error) {
      if (isCancellation(error)) throw error;
      const failureType = failureTypeOf(error);
      if (failureType === undefined) {
        // Not one of the failures we know: a bug. Failing the workflow task keeps the history where
        // it is, and Temporal retries the task until a fixed worker is deployed.
        throw new UnclassifiedFailure(`unclassified failure in a pass: ${describeError(error)}`);
      }
      state.lastError = `${failureType}: ${describeError(error)}`.slice(0, 500);
      if (pass) await endPass(pass, counts, 'failed', 'failed');
      if ((reconnectFailureTypes as readonly string[]).includes(failureType)) {
        // Bad credentials do not heal by retrying: pause, say why, and wait for a reconnect + resume.
        state.paused = true;
        state.pausedReason = `needs reconnect: ${failureType}`;
      }
      return 'failed';
    }
  }

  /**
   * Pushes the CRM's customer changes (two-way mode), a bounded batch per activity, until none wait
   * or the pass has pushed its share (the rest goes with the next pass). Returns how many it sent.
   */
  async function pushCrmChanges(): Promise<number> {
    let pushed = 0;
    for (let call = 0; call < maxPushCallsPerPass && state.mode === 'two_way' && !state.paused; call += 1) {
      const result = await pushActivities.pushCustomerChanges.executeWithOptions(
        { summary: 'CRM → QuickBooks customers' },
        [{ tenantId: input.tenantId }],
      );
      pushed += result.created + result.updated;
      if (result.remaining === 0 || historyIsLong()) break;
    }
    return pushed;
  }

  /** Records a pass's end; a pass is never left 'running' in the audit log. */
  async function endPass(
    pass: PassInProgress,
    counts: PassCounts,
    status: 'succeeded' | 'failed' | 'cancelled',
    outcome: PassOutcome,
    pushed = 0,
  ): Promise<PassOutcome> {
    try {
      const ended = await bookkeeping.finishSyncPass({
        passId: pass.passId,
        status,
        counts,
        ...(status === 'failed' && state.lastError ? { error: state.lastError } : {}),
      });
      if (status === 'succeeded') {
        succeeded(ended.openErrors, {
          ...summary(pass.kind, pass.startedAt, new Date().toISOString(), counts),
          ...(pushed > 0 ? { pushed } : {}),
        });
      }
    } catch (error) {
      if (isCancellation(error) || status === 'succeeded') throw error;
      // The pass already failed or stopped; a bookkeeping failure on top of it changes nothing here.
      log.warn('could not record the end of a pass', { passId: pass.passId, error: String(error) });
    }
    return outcome;
  }

  function succeeded(openErrors: number, passSummary: PassSummary) {
    state.openErrors = openErrors;
    state.lastError = null;
    state.lastPass = passSummary;
  }

  function progress(entity: SyncedEntity, change: Partial<EntityProgress>) {
    state.entities[entity] = { ...state.entities[entity], ...change };
  }
}

/** How reading an entity ended: to the pass's end, or stopped for a pause or a new run. */
type EntityOutcome = 'read' | 'paused' | 'continue-as-new';

/**
 * Reads entities side by side. When one fails, the others' activities are cancelled and the first
 * failure is what the pass sees (not a sibling's cancellation, which would read as the workflow's).
 */
async function readSideBySide(
  entities: readonly SyncedEntity[],
  read: (entity: SyncedEntity) => Promise<EntityOutcome>,
): Promise<EntityOutcome[]> {
  if (entities.length <= 1) return Promise.all(entities.map(read));
  const scope = new CancellationScope();
  let failure: { readonly error: unknown } | undefined;
  const settled = await scope.run(() =>
    Promise.allSettled(
      entities.map((entity) =>
        read(entity).catch((error: unknown) => {
          if (!failure) {
            failure = { error };
            scope.cancel();
          }
          throw error;
        }),
      ),
    ),
  );
  if (failure) throw failure.error;
  return settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : 'read'));
}

/** A pass just opened: nothing read yet. */
function openedPass(
  kind: PassInProgress['kind'],
  opened: { passId: number; until: string; estimates?: PassInProgress['estimates'] },
): PassInProgress {
  return {
    kind,
    passId: opened.passId,
    until: opened.until,
    startedAt: new Date().toISOString(),
    finishedEntities: [],
    entityInProgress: null,
    counts: noCounts,
    ...(opened.estimates ? { estimates: opened.estimates } : {}),
  };
}

/** A repair request the workflow can serve: a known kind, QBO ids as digits, both or neither. */
function assertRepairRequest(
  request: RepairUpdateRequest,
  state: { paused: boolean; phase: string; pausedReason: string | null },
) {
  if (request?.kind !== 'merge' && request?.kind !== 'full') {
    throw new Error(`unknown repair kind ${JSON.stringify(request?.kind)}: use merge or full`);
  }
  const survivor = request.survivorQboId ?? null;
  const merged = request.mergedQboId ?? null;
  for (const id of [survivor, merged]) {
    if (id !== null && !/^\d{1,20}$/.test(String(id))) {
      throw new Error(`a QuickBooks customer id is digits, not ${JSON.stringify(id)}`);
    }
  }
  if ((survivor === null) !== (merged === null))
    throw new Error('a merge names both customers, the survivor and the merged-away one');
  if (survivor !== null && survivor === merged) throw new Error(`customer ${survivor} cannot be merged into itself`);
  if (state.paused)
    throw new Error(`the tenant is paused (${state.pausedReason ?? 'no reason given'}): resume it first`);
  if (state.phase !== 'incremental')
    throw new Error('the tenant is still in its backfill: repair it once the backfill is done');
}

function assertMode(mode: unknown): asserts mode is SyncMode {
  if (mode !== 'two_way' && mode !== 'one_way') {
    throw new Error(`unknown mode ${JSON.stringify(mode)}: use two_way or one_way`);
  }
}

function add(total: { -readonly [K in keyof PassCounts]: number }, page: PassCounts) {
  total.written += page.written;
  total.unchanged += page.unchanged;
  total.skipped += page.skipped;
  total.deleted += page.deleted;
  total.failed += page.failed;
}

function summary(kind: PassSummary['kind'], startedAt: string, finishedAt: string, totals: PassCounts): PassSummary {
  return {
    kind,
    startedAt,
    finishedAt,
    durationMs: Math.max(0, Date.parse(finishedAt) - Date.parse(startedAt)),
    records: totals.written + totals.unchanged + totals.deleted,
    changed: totals.written + totals.deleted,
    failed: totals.failed,
  };
}

function shortCursor(cursor: string | null): string {
  return cursor === null ? 'start' : cursor.slice(0, 10);
}

const knownFailureTypes = new Set<string>(Object.values(FailureType));

/**
 * The failure type of an activity's failure, when it is one qbsync knows: an ApplicationFailure
 * with a type from common/failure-types.ts, or an activity that timed out (a worker that kept dying
 * or hanging). Anything else is a bug in qbsync, and undefined here. Local activities' failures
 * may arrive without the ActivityFailure wrapper, so the cause chain is walked.
 */
export function failureTypeOf(error: unknown): string | undefined {
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof ApplicationFailure)
      return cause.type && knownFailureTypes.has(cause.type) ? cause.type : undefined;
    if (cause instanceof TimeoutFailure) return 'ActivityTimedOut';
    if (!(cause instanceof ActivityFailure)) return undefined;
  }
  return undefined;
}

function describeError(error: unknown): string {
  const cause = error instanceof ActivityFailure && error.cause ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

/** A child workflow's failure wraps its activity's, which wraps the cause: the innermost says why. */
function innermostMessage(error: unknown): string {
  let cause = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return cause instanceof Error ? cause.message : String(cause);
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
    `Polls every ${status.pollIntervalSeconds} s`,
  ];
  if (status.lastError) lines.push(`Last error: ${status.lastError}`);
  if (status.nextAttemptAt)
    lines.push(`${status.consecutiveFailures} failed passes in a row; next try at ${status.nextAttemptAt}`);
  return lines.join('\n');
}
