import type { SyncedEntity } from '../../common/sync-types.js';
import type { SalesDocumentEntityType } from '../../db/schema.js';
import type { RecordFailure } from '../../db/repositories/sync-errors.js';
import type { DamagedRecord, QboClient, QboRecord } from '../qbo/qbo-client.js';
import { maxPageSize, qboDateTime, type QboCondition } from '../qbo/qbo-query.js';
import { rawVersion, type ReferenceFetcher, type TenantSettings } from './crm-writer.js';
import type { PagingRequest, RecordKey, TimeWindow } from './paging-planner.js';
import { dayText, type DocumentSource } from './reconcile-deletes.js';

/** The sync's questions to QBO, as the planners and the writer ask them. */

export const transactionEntities: readonly SyncedEntity[] = ['Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt'];
/**
 * Ids asked in one `Id IN (…)` query. A query answers at most 1,000 records (MAXRESULTS' maximum,
 * qbo-api.md § 2), so a query of as many ids answers all of them in one page. Queries go as the POST
 * body, where no URL length limits the list (the reason SDKs chunk ids by about 50 for GET
 * queries); 1,000 ids make a statement of about 10 KB. No limit on the IN list itself is documented.
 */
const idsPerQuery = maxPageSize;

/**
 * A page element QBO returned damaged (no usable Id, not an object), as the error to file for it.
 * It stays in the page in its record's place: the planner counts what a page read, and a page one
 * short would look like the end of its window or burst.
 */
export class DamagedEntry {
  constructor(readonly failure: RecordFailure) {}
}

export type PageEntry = QboRecord | DamagedEntry;

/**
 * The error filed for a damaged record: its id if one can be read, else its place in the answer,
 * `#<position>@<where the answer starts>` (a position alone would be shared by records of different
 * pages, and their errors merged into one).
 */
export function damagedFailure(
  damaged: DamagedRecord,
  position: number,
  answer: { readonly start: string; readonly label: string },
): RecordFailure {
  return {
    qboId: damaged.qboId ?? `#${position}@${answer.start}`,
    errorType: 'MappingError',
    field: damaged.field,
    message: `${damaged.problem} (QBO returned this ${damaged.entity} damaged: element ${position} of ${answer.label})`,
  };
}

/** A planner request as a QBO query of one entity, the entity's own conditions added. */
export async function askQbo(
  client: QboClient,
  settings: TenantSettings,
  entity: SyncedEntity,
  request: PagingRequest,
): Promise<number | PageEntry[]> {
  const where = windowConditions(settings, entity, request.window);
  if (request.kind === 'count') return client.count({ entity, where });
  const page = await client.query({
    entity,
    where,
    orderBy: { field: request.orderBy, direction: 'ASC' },
    ...(request.startPosition > 1 ? { startPosition: request.startPosition } : {}),
    maxResults: request.maxResults,
  });
  const start = isoSecond(request.window.from);
  const answer = {
    start,
    label: `the ${entity} query of LastUpdatedTime ${start}..${isoSecond(request.window.to)} by ${request.orderBy}`,
  };
  return [
    ...page.records,
    ...page.damaged.map(
      (damaged) => new DamagedEntry(damagedFailure(damaged, request.startPosition + damaged.index, answer)),
    ),
  ];
}

/** The damaged entries of a page as their errors, and its records. */
export function splitPage(entries: readonly PageEntry[]): { records: QboRecord[]; damaged: RecordFailure[] } {
  const records: QboRecord[] = [];
  const damaged: RecordFailure[] = [];
  for (const entry of entries) {
    if (entry instanceof DamagedEntry) damaged.push(entry.failure);
    else records.push(entry);
  }
  return { records, damaged };
}

/** A page entry's Id and LastUpdatedTime for the paging planner; a damaged entry has neither. */
export function pageEntryKey(entry: PageEntry): RecordKey {
  if (entry instanceof DamagedEntry) return { id: undefined, lastUpdated: undefined };
  const lastUpdated = Date.parse(rawVersion(entry).lastUpdatedTime ?? '');
  return { id: entry.Id, lastUpdated: Number.isNaN(lastUpdated) ? undefined : lastUpdated };
}

const isoSecond = (ms: number) => new Date(ms).toISOString().slice(0, 19);

/** The conditions of an entity's read over a window; without `to`, of everything from `from` on. */
export function windowConditions(
  settings: TenantSettings,
  entity: SyncedEntity,
  window: Pick<TimeWindow, 'from'> & Partial<Pick<TimeWindow, 'to'>>,
): QboCondition[] {
  const conditions: QboCondition[] = [
    { field: 'MetaData.LastUpdatedTime', op: '>=', value: qboDateTime(new Date(window.from)) },
  ];
  if (window.to !== undefined) {
    conditions.push({ field: 'MetaData.LastUpdatedTime', op: '<', value: qboDateTime(new Date(window.to)) });
  }
  if (entity === 'Customer' || entity === 'Item') conditions.push({ field: 'Active', op: 'IN', value: [true, false] });
  if (transactionEntities.includes(entity)) conditions.push({ field: 'TxnDate', op: '>=', value: settings.startDate });
  return conditions;
}

/**
 * count(*) of what each entity holds from its start on, all in one batch request, with QBO's clock
 * at the answer. A count QBO refused fails the whole as that count's fault.
 */
export async function countsFrom(
  client: QboClient,
  settings: TenantSettings,
  starts: ReadonlyArray<{ readonly entity: SyncedEntity; readonly from: number }>,
): Promise<{ totals: Map<SyncedEntity, number>; time: string | undefined }> {
  const { answers, time } = await client.countBatch(
    starts.map(({ entity, from }) => ({ entity, where: windowConditions(settings, entity, { from }) })),
  );
  const totals = new Map<SyncedEntity, number>();
  starts.forEach(({ entity }, index) => {
    const answer = answers[index];
    if (!answer) throw new Error(`the batch of counts came back without its answer ${index}`);
    if ('error' in answer) throw answer.error;
    totals.set(entity, answer.total);
  });
  return { totals, time };
}

export function referenceFetcher(client: QboClient): ReferenceFetcher {
  return (entity, ids) => recordsById(client, entity, ids);
}

/** Records of one entity by id, inactive ones included, up to a page's worth of ids a query. */
export async function recordsById(
  client: QboClient,
  entity: SyncedEntity,
  ids: readonly string[],
): Promise<QboRecord[]> {
  const found: QboRecord[] = [];
  for (let start = 0; start < ids.length; start += idsPerQuery) {
    const where: QboCondition[] = [{ field: 'Id', op: 'IN', value: ids.slice(start, start + idsPerQuery) }];
    if (entity === 'Customer' || entity === 'Item') where.push({ field: 'Active', op: 'IN', value: [true, false] });
    const page = await client.query({ entity, where, maxResults: maxPageSize });
    found.push(...page.records);
  }
  return found;
}

/** count(*) and ids of an entity's documents by TxnDate range, for the reconciliation of deletes. */
export function documentsByTxnDate(client: QboClient, entity: SalesDocumentEntityType): DocumentSource {
  const range = (from: number, to: number): QboCondition[] => [
    { field: 'TxnDate', op: '>=', value: dayText(from) },
    { field: 'TxnDate', op: '<', value: dayText(to) },
  ];
  return {
    count: (from, to) => client.count({ entity, where: range(from, to) }),
    ids: async (from, to, startPosition) => {
      const page = await client.query({
        entity,
        where: range(from, to),
        orderBy: { field: 'Id', direction: 'ASC' },
        startPosition,
        maxResults: maxPageSize,
      });
      // A damaged record keeps its place, under a name no held document has: the reconciliation
      // takes a short page for the last one.
      return [
        ...page.records.map((record) => record.Id),
        ...page.damaged.map((damaged) => damaged.qboId ?? `#${startPosition + damaged.index}`),
      ];
    },
  };
}
