import type { SyncedEntity } from '../../common/sync-types.js';
import type { SalesDocumentEntityType } from '../../db/schema.js';
import type { QboClient, QboRecord } from '../qbo/qbo-client.js';
import { maxPageSize, qboDateTime, type QboCondition } from '../qbo/qbo-query.js';
import type { ReferenceFetcher, TenantSettings } from './crm-writer.js';
import type { PagingRequest, TimeWindow } from './paging-planner.js';
import { dayText, type DocumentSource } from './reconcile-deletes.js';

/** The sync's questions to QBO, as the planners and the writer ask them. */

export const transactionEntities: readonly SyncedEntity[] = ['Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt'];
const referenceChunk = 50;

/** A planner request as a QBO query of one entity, the entity's own conditions added. */
export async function askQbo(
  client: QboClient,
  settings: TenantSettings,
  entity: SyncedEntity,
  request: PagingRequest,
): Promise<number | QboRecord[]> {
  const where = windowConditions(settings, entity, request.window);
  if (request.kind === 'count') return client.count({ entity, where });
  const page = await client.query({
    entity,
    where,
    orderBy: { field: request.orderBy, direction: 'ASC' },
    ...(request.startPosition > 1 ? { startPosition: request.startPosition } : {}),
    maxResults: request.maxResults,
  });
  return page.records;
}

export function windowConditions(settings: TenantSettings, entity: SyncedEntity, window: TimeWindow): QboCondition[] {
  const conditions: QboCondition[] = [
    { field: 'MetaData.LastUpdatedTime', op: '>=', value: qboDateTime(new Date(window.from)) },
    { field: 'MetaData.LastUpdatedTime', op: '<', value: qboDateTime(new Date(window.to)) },
  ];
  if (entity === 'Customer' || entity === 'Item') conditions.push({ field: 'Active', op: 'IN', value: [true, false] });
  if (transactionEntities.includes(entity)) conditions.push({ field: 'TxnDate', op: '>=', value: settings.startDate });
  return conditions;
}

export function referenceFetcher(client: QboClient): ReferenceFetcher {
  return async (entity, ids) => {
    const found: QboRecord[] = [];
    for (let start = 0; start < ids.length; start += referenceChunk) {
      const page = await client.query({
        entity,
        where: [
          { field: 'Id', op: 'IN', value: ids.slice(start, start + referenceChunk) },
          { field: 'Active', op: 'IN', value: [true, false] },
        ],
        maxResults: maxPageSize,
      });
      found.push(...page.records);
    }
    return found;
  };
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
      return page.records.map((record) => record.Id);
    },
  };
}
