import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { FailureType } from '../../common/failure-types.js';
import { syncedEntities, type SyncedEntity, type SyncMode } from '../../common/sync-types.js';
import { asSync } from '../../db/crm-rules.js';
import { analyzeGrownTables } from '../../db/table-statistics.js';
import type { Database } from '../../db/schema.js';
import type { QboClient, QboRecord } from '../qbo/qbo-client.js';
import { toApplicationFailure } from '../qbo/qbo-errors.js';
import { maxPageSize, qboDateTime, type QboCondition } from '../qbo/qbo-query.js';
import {
  emptyCounts,
  markDocumentsDeleted,
  writeRecords,
  type PageCounts,
  type ReferenceFetcher,
  type TenantSettings,
} from './crm-writer.js';

/**
 * The sync's activities. Each one does a bounded piece of work and commits it together with the
 * cursor that follows it, in one transaction; it returns counts and cursors, never records.
 */
export interface SyncDeps {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
  /** The QBO client for a tenant's company (tokens, limiter and base URL already wired). */
  readonly qboClientFor: (tenantId: string) => Promise<QboClient>;
}

/** Records changed in the last seconds may still be committing in QBO: passes stop short of now. */
export const settleLagMs = 5_000;
/** CDC looks back 30 days; past 29 the sync uses windowed queries instead (as Nango does). */
export const cdcMaxAgeMs = 29 * 24 * 3600 * 1000;
/** Incremental reads start this far before the cursor: replays are harmless, gaps are not. */
export const overlapMs = 60_000;
const transactionEntities: readonly SyncedEntity[] = ['Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt'];
const referenceChunk = 50;
/** A third of the page activities' heartbeat timeout. */
const heartbeatEveryMs = 3_000;
const maxProbesPerPage = 12;

/** Where an entity's reading stands; stored as JSON in sync_cursors.cursor. */
interface CursorState {
  /** LastUpdatedTime position: every record before it (and before the pass's end) is written. */
  readonly from: string;
  /** The window span last used, a hint for the next one. */
  readonly spanMs?: number;
  /** More than a page of records share one second: paged by Id within it, verified by count. */
  readonly burst?: { readonly second: string; readonly offset: number; readonly expected: number };
}

export interface PageResult {
  readonly counts: PageCounts;
  /** The cursor after this page (an ISO instant), for status. */
  readonly cursor: string;
  /** True when the entity has been read up to the pass's end. */
  readonly done: boolean;
  /** The window this page read, for the activity summary of the next one. */
  readonly window: string;
}

export interface PassStart {
  readonly passId: number;
  /** The pass reads changes up to this instant (QBO's clock, minus the settle lag). */
  readonly until: string;
}

export interface CdcResult {
  /** False when CDC could not be used (a cursor too old) or was cut at its 1000-object cap. */
  readonly applied: boolean;
  readonly reason: string | null;
  readonly counts: PageCounts;
  readonly cursor: string | null;
}

export function createSyncActivities(deps: SyncDeps) {
  const { db } = deps;

  /** After a write: keeps the planner's view of fast-growing tables current (db/table-statistics.ts). */
  async function refreshStatistics(counts: PageCounts): Promise<void> {
    if (counts.written === 0) return;
    await analyzeGrownTables(db, (table, error) =>
      log.warn('could not refresh table statistics', { table, error: String(error).slice(0, 200) }),
    );
  }

  async function tenantSettings(tenantId: string): Promise<TenantSettings & { mode: SyncMode }> {
    const row = await db
      .selectFrom('tenants')
      .innerJoin('qbo_connections', 'qbo_connections.tenant_id', 'tenants.id')
      .innerJoin('lists', (join) =>
        join.onRef('lists.tenant_id', '=', 'tenants.id').on('lists.is_quickbooks', '=', true),
      )
      .select([
        'tenants.id',
        'tenants.start_date',
        'tenants.sync_language',
        'tenants.default_customer_language',
        'tenants.sync_mode',
        'qbo_connections.realm_id',
        'lists.id as list_id',
      ])
      .where('tenants.id', '=', tenantId)
      .executeTakeFirst();
    if (!row) {
      throw ApplicationFailure.create({
        type: FailureType.TenantNotConnected,
        message: `tenant ${tenantId} has no QuickBooks connection`,
        nonRetryable: true,
      });
    }
    return {
      tenantId,
      realmId: row.realm_id,
      quickbooksListId: row.list_id,
      startDate: isoDate(row.start_date),
      syncLanguage: row.sync_language,
      defaultLanguage: row.default_customer_language,
      mode: row.sync_mode,
    };
  }

  /**
   * Runs QBO work with the failure classified for Temporal, heartbeating all along: a slow QBO
   * answer or a long transaction is progress, while a worker that died stops heartbeating and its
   * activity is retried elsewhere within the heartbeat timeout (workflows/activity-options.ts).
   */
  async function withQbo<T>(tenantId: string, work: (client: QboClient) => Promise<T>): Promise<T> {
    const context = Context.current();
    const beat = setInterval(() => context.heartbeat(), heartbeatEveryMs);
    try {
      return await work(await deps.qboClientFor(tenantId));
    } catch (error) {
      throw toApplicationFailure(error);
    } finally {
      clearInterval(beat);
    }
  }

  function referenceFetcher(client: QboClient): ReferenceFetcher {
    return async (entity, ids) => {
      const found: QboRecord[] = [];
      for (let start = 0; start < ids.length; start += referenceChunk) {
        const chunk = ids.slice(start, start + referenceChunk);
        const page = await client.query({
          entity,
          where: [
            { field: 'Id', op: 'IN', value: chunk },
            { field: 'Active', op: 'IN', value: [true, false] },
          ],
          maxResults: maxPageSize,
        });
        found.push(...page.records);
      }
      return found;
    };
  }

  async function readCursor(settings: TenantSettings, entity: SyncedEntity): Promise<CursorState | undefined> {
    const row = await db
      .selectFrom('sync_cursors')
      .select('cursor')
      .where('tenant_id', '=', settings.tenantId)
      .where('realm_id', '=', settings.realmId)
      .where('entity_type', '=', entity)
      .executeTakeFirst();
    return row ? (JSON.parse(row.cursor) as CursorState) : undefined;
  }

  function initialCursor(settings: TenantSettings, entity: SyncedEntity): CursorState {
    // The catalogue (items and categories) is synced whole; customers and documents from the start date (R2).
    return { from: entity === 'Item' ? '2000-01-01T00:00:00.000Z' : `${settings.startDate}T00:00:00.000Z` };
  }

  async function saveCursor(
    trx: Parameters<Parameters<typeof asSync>[1]>[0],
    settings: TenantSettings,
    entity: string,
    state: CursorState,
  ) {
    await trx
      .insertInto('sync_cursors')
      .values({
        tenant_id: settings.tenantId,
        realm_id: settings.realmId,
        entity_type: entity,
        cursor: JSON.stringify(state),
        cursor_at: state.from,
      })
      .onConflict((conflict) =>
        conflict.columns(['tenant_id', 'realm_id', 'entity_type']).doUpdateSet({
          cursor: JSON.stringify(state),
          cursor_at: state.from,
        }),
      )
      .execute();
  }

  function windowConditions(settings: TenantSettings, entity: SyncedEntity, from: number, to: number): QboCondition[] {
    const conditions: QboCondition[] = [
      { field: 'MetaData.LastUpdatedTime', op: '>=', value: qboDateTime(new Date(from)) },
      { field: 'MetaData.LastUpdatedTime', op: '<', value: qboDateTime(new Date(to)) },
    ];
    if (entity === 'Customer' || entity === 'Item')
      conditions.push({ field: 'Active', op: 'IN', value: [true, false] });
    if (transactionEntities.includes(entity))
      conditions.push({ field: 'TxnDate', op: '>=', value: settings.startDate });
    return conditions;
  }

  return {
    /** Opens a pass: records it in the audit log and fixes its end on QBO's clock. */
    async beginSyncPass(input: { tenantId: string; kind: 'backfill' | 'incremental' }): Promise<PassStart> {
      const settings = await tenantSettings(input.tenantId);
      const serverTime = await withQbo(input.tenantId, async (client) => {
        const answer = await client.countAt({ entity: 'Item', where: [{ field: 'Id', op: '=', value: '0' }] });
        return answer.time ? Date.parse(answer.time) : deps.now().getTime();
      });
      const info = Context.current().info;
      const pass = await db
        .insertInto('sync_passes')
        .values({
          tenant_id: settings.tenantId,
          realm_id: settings.realmId,
          kind: input.kind,
          workflow_id: info.workflowExecution?.workflowId ?? null,
          run_id: info.workflowExecution?.runId ?? null,
          started_at: deps.now(),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const until = Math.floor((serverTime - settleLagMs) / 1000) * 1000;
      return { passId: pass.id, until: new Date(until).toISOString() };
    },

    async finishSyncPass(input: {
      passId: number;
      status: 'succeeded' | 'failed' | 'cancelled';
      counts: PageCounts;
      error?: string;
    }) {
      await db
        .updateTable('sync_passes')
        .set({
          status: input.status,
          finished_at: deps.now(),
          counts: JSON.stringify(input.counts),
          error: input.error ?? null,
        })
        .where('id', '=', input.passId)
        .execute();
    },

    /** count(*) of what the backfill will read for an entity, for progress and ETA. */
    async estimateEntityTotal(input: { tenantId: string; entity: SyncedEntity; until: string }): Promise<number> {
      const settings = await tenantSettings(input.tenantId);
      const cursor = (await readCursor(settings, input.entity)) ?? initialCursor(settings, input.entity);
      return withQbo(input.tenantId, (client) =>
        client.count({
          entity: input.entity,
          where: windowConditions(settings, input.entity, Date.parse(cursor.from), Date.parse(input.until)),
        }),
      );
    },

    /**
     * Reads the next window of an entity by LastUpdatedTime, up to the pass's end. A window is sized
     * so that it fits one page (so offset paging never shifts under it); a second holding more than
     * a page is read by Id and verified by count. The page and its cursor commit together.
     */
    async syncEntityPage(input: {
      tenantId: string;
      entity: SyncedEntity;
      until: string;
      overlap: boolean;
    }): Promise<PageResult> {
      const settings = await tenantSettings(input.tenantId);
      const until = Date.parse(input.until);
      const stored = await readCursor(settings, input.entity);
      let state: CursorState = stored ?? initialCursor(settings, input.entity);
      if (!stored && input.overlap) state = { ...state };
      if (stored && input.overlap && !state.burst) {
        state = { ...state, from: new Date(Math.max(0, Date.parse(state.from) - overlapMs)).toISOString() };
      }
      return withQbo(input.tenantId, async (client) => {
        const fetchReferences = referenceFetcher(client);
        let from = Date.parse(state.from);
        const commit = async (records: QboRecord[], next: CursorState) => {
          const counts = await asSync(db, async (trx) => {
            const counts = await writeRecords(trx, settings, input.entity, records, fetchReferences, deps.now());
            await saveCursor(trx, settings, input.entity, next);
            return counts;
          });
          await refreshStatistics(counts);
          return counts;
        };

        if (state.burst) return readBurstPage(client, settings, input.entity, state, until, commit);
        if (from >= until) {
          return { counts: emptyCounts(), cursor: new Date(from).toISOString(), done: true, window: 'up to date' };
        }
        let span = Math.max(1000, Math.min(state.spanMs ?? until - from, until - from));
        for (let probe = 0; probe < maxProbesPerPage; probe += 1) {
          const to = Math.min(from + span, until);
          const conditions = windowConditions(settings, input.entity, from, to);
          const total = await client.count({ entity: input.entity, where: conditions });
          if (total === 0) {
            if (to >= until) {
              const counts = await commit([], { from: new Date(until).toISOString(), spanMs: span });
              return { counts, cursor: new Date(until).toISOString(), done: true, window: windowLabel(from, to) };
            }
            from = to;
            span *= 4;
            continue;
          }
          if (total <= maxPageSize) {
            const page = await client.query({
              entity: input.entity,
              where: conditions,
              orderBy: { field: 'MetaData.LastUpdatedTime', direction: 'ASC' },
              maxResults: maxPageSize,
            });
            const nextSpan = total < maxPageSize / 4 ? span * 2 : span;
            const counts = await commit(page.records, { from: new Date(to).toISOString(), spanMs: nextSpan });
            return { counts, cursor: new Date(to).toISOString(), done: to >= until, window: windowLabel(from, to) };
          }
          if (span <= 1000) {
            // A bulk import: more than a page in one second. Page through it by Id.
            const burst = { second: new Date(from).toISOString(), offset: 0, expected: total };
            return readBurstPage(
              client,
              settings,
              input.entity,
              { from: new Date(from).toISOString(), spanMs: 1000, burst },
              until,
              commit,
            );
          }
          // Too many for one page: shrink the window to what should fit, at least a second.
          span = Math.max(1000, Math.floor((span * (maxPageSize * 0.8)) / total / 1000) * 1000);
        }
        // Still probing (sparse data far apart): save how far we got; the next call goes on.
        const counts = await commit([], { from: new Date(from).toISOString(), spanMs: span });
        return { counts, cursor: new Date(from).toISOString(), done: from >= until, window: windowLabel(from, from) };
      });

      async function readBurstPage(
        client: QboClient,
        settings: TenantSettings,
        entity: SyncedEntity,
        state: CursorState,
        until: number,
        commit: (records: QboRecord[], next: CursorState) => Promise<PageCounts>,
      ): Promise<PageResult> {
        const burst = state.burst!;
        const second = Date.parse(burst.second);
        const conditions = windowConditions(settings, entity, second, second + 1000);
        const page = await client.query({
          entity,
          where: conditions,
          orderBy: { field: 'Id', direction: 'ASC' },
          startPosition: burst.offset + 1,
          maxResults: maxPageSize,
        });
        const offset = burst.offset + page.records.length;
        let next: CursorState;
        if (offset < burst.expected && page.records.length === maxPageSize) {
          next = { from: burst.second, spanMs: 1000, burst: { ...burst, offset } };
        } else {
          // Records can only leave a past second (an edit moves them to now). If none left while we
          // read, no offset shifted under us; otherwise read the second again.
          const remaining = await client.count({ entity, where: conditions });
          next =
            remaining === burst.expected
              ? { from: new Date(second + 1000).toISOString(), spanMs: 1000 }
              : { from: burst.second, spanMs: 1000, burst: { second: burst.second, offset: 0, expected: remaining } };
        }
        const counts = await commit(page.records, next);
        return {
          counts,
          cursor: next.from,
          done: !next.burst && Date.parse(next.from) >= until,
          window: `${burst.second} (burst, ${burst.offset + 1}..${offset} of ${burst.expected})`,
        };
      }
    },

    /**
     * An incremental pass's fast path: one CDC call for every entity. Used while every cursor is
     * under 29 days old; when CDC's silent 1000-object cap is reached nothing is applied and the
     * workflow reads by windowed queries instead.
     */
    async syncChangesByCdc(input: { tenantId: string; until: string }): Promise<CdcResult> {
      const settings = await tenantSettings(input.tenantId);
      const cursors = await Promise.all(syncedEntities.map((entity) => readCursor(settings, entity)));
      if (cursors.some((cursor) => cursor === undefined || cursor.burst)) {
        return { applied: false, reason: 'an entity is mid-window', counts: emptyCounts(), cursor: null };
      }
      const oldest = Math.min(...cursors.map((cursor) => Date.parse(cursor!.from)));
      // Ages are measured on QBO's clock (the pass's end), which LastUpdatedTime values follow.
      if (Date.parse(input.until) - oldest > cdcMaxAgeMs) {
        return { applied: false, reason: 'a cursor is older than 29 days', counts: emptyCounts(), cursor: null };
      }
      return withQbo(input.tenantId, async (client) => {
        const changedSince = new Date(oldest - overlapMs);
        const result = await client.cdc(syncedEntities, changedSince);
        const total = Object.values(result.changes).reduce((sum, list) => sum + list.length, 0);
        const cut = syncedEntities.find((entity) => result.changes[entity]!.length >= maxPageSize);
        if (total >= maxPageSize || cut) {
          return {
            applied: false,
            reason: `CDC returned ${total} objects: maybe cut at its cap`,
            counts: emptyCounts(),
            cursor: null,
          };
        }
        const serverTime = Date.parse(result.time);
        const next = new Date(Math.floor((serverTime - settleLagMs) / 1000) * 1000).toISOString();
        const fetchReferences = referenceFetcher(client);
        const counts = await asSync(db, async (trx) => {
          const counts = emptyCounts();
          for (const entity of syncedEntities) {
            await writeRecords(trx, settings, entity, result.changes[entity]!, fetchReferences, deps.now(), counts);
            await saveCursor(trx, settings, entity, { from: next });
          }
          return counts;
        });
        await refreshStatistics(counts);
        return { applied: true, reason: null, counts, cursor: next };
      });
    },

    /**
     * Finds documents hard-deleted in QBO that CDC could not report (a pause past its 30 days, or a
     * burst past its 1000-object cap): compares count(*) per TxnDate range with the CRM's, narrows
     * the ranges that differ by halves, and reads only those to see which ids are gone.
     */
    async reconcileDeletedDocuments(input: {
      tenantId: string;
      entity: SyncedEntity;
    }): Promise<{ deleted: number; requests: number }> {
      if (!transactionEntities.includes(input.entity)) return { deleted: 0, requests: 0 };
      const settings = await tenantSettings(input.tenantId);
      const held = await db
        .selectFrom('qbo_links')
        .innerJoin('opportunities', 'opportunities.id', 'qbo_links.opportunity_id')
        .select(['qbo_links.qbo_id', 'opportunities.txn_date'])
        .where('qbo_links.tenant_id', '=', settings.tenantId)
        .where('qbo_links.realm_id', '=', settings.realmId)
        .where('qbo_links.entity_type', '=', input.entity)
        .where('opportunities.deleted_at', 'is', null)
        .execute();
      if (held.length === 0) return { deleted: 0, requests: 0 };
      const dayOf = (value: Date | string) => Math.floor(Date.parse(isoDate(value)) / 86_400_000);
      const crm = held.map((row) => ({ id: row.qbo_id, day: dayOf(row.txn_date) }));
      const first = Math.min(...crm.map((row) => row.day));
      const last = Math.max(...crm.map((row) => row.day));
      const dayText = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);
      let requests = 0;
      const gone: string[] = [];
      await withQbo(input.tenantId, async (client) => {
        const range = (from: number, to: number): QboCondition[] => [
          { field: 'TxnDate', op: '>=', value: dayText(from) },
          { field: 'TxnDate', op: '<', value: dayText(to) },
        ];
        const pending: Array<[number, number]> = [[first, last + 1]];
        while (pending.length > 0) {
          const [from, to] = pending.pop()!;
          const held = crm.filter((row) => row.day >= from && row.day < to);
          if (held.length === 0) continue;
          requests += 1;
          const total = await client.count({ entity: input.entity, where: range(from, to) });
          if (total >= held.length) continue;
          if (total <= maxPageSize || to - from <= 1) {
            const present = new Set<string>();
            for (let start = 1; ; start += maxPageSize) {
              requests += 1;
              const page = await client.query({
                entity: input.entity,
                where: range(from, to),
                orderBy: { field: 'Id', direction: 'ASC' },
                startPosition: start,
                maxResults: maxPageSize,
              });
              for (const record of page.records) present.add(record.Id);
              if (page.records.length < maxPageSize) break;
            }
            gone.push(...held.filter((row) => !present.has(row.id)).map((row) => row.id));
            continue;
          }
          const middle = Math.floor((from + to) / 2);
          pending.push([from, middle], [middle, to]);
        }
      });
      if (gone.length > 0) {
        await asSync(db, (trx) => markDocumentsDeleted(trx, settings, input.entity, gone, deps.now()));
      }
      return { deleted: gone.length, requests };
    },

    async countOpenSyncErrors(input: { tenantId: string }): Promise<number> {
      const row = await db
        .selectFrom('sync_errors')
        .select((eb) => eb.fn.countAll<number>().as('open'))
        .where('tenant_id', '=', input.tenantId)
        .where('resolved_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.open);
    },

    /** Applies a mode change to the database at once: the one-way lock is a trigger on sync_mode (R8). */
    async applyTenantMode(input: { tenantId: string; mode: SyncMode }): Promise<void> {
      await db.updateTable('tenants').set({ sync_mode: input.mode }).where('id', '=', input.tenantId).execute();
    },
  };
}

function isoDate(value: Date | string): string {
  return typeof value === 'string' ? value.slice(0, 10) : value.toISOString().slice(0, 10);
}

function windowLabel(from: number, to: number): string {
  return `${new Date(from).toISOString().slice(0, 19)}..${new Date(to).toISOString().slice(0, 19)}`;
}

export type SyncActivities = ReturnType<typeof createSyncActivities>;
