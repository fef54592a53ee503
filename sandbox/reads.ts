/**
 * The QBO read operations on a company: a query, change data capture and the read of one entity,
 * each as the UTF-8 JSON the HTTP API sends, joined from each record's cached bytes.
 */
import { faults } from './faults.js';
import { runQuery, type QueryOptions } from './query.js';
import { type Company, ENTITIES, entityFromName, type EntityName, type Row } from './store.js';
import { formatLocal, parseQboDateTime } from './time.js';

export interface CdcOptions {
  readonly lookbackDays: number;
  readonly maxObjects: number;
  /**
   * Where the 1000-object cap applies. Intuit: "A given CDC request returns a maximum of 1000
   * objects"; 'request' (default) caps the sum over entities, 'entity' caps each block. UNCONFIRMED.
   */
  readonly capScope: 'request' | 'entity';
  /**
   * A changedSince older than the look-back: 'reject' (default) answers 400 ValidationFault,
   * 'clamp' silently serves the last 30 days. UNCONFIRMED which one production does.
   */
  readonly outOfRange: 'reject' | 'clamp';
}

const DAY_MS = 86_400_000;

/**
 * The QueryResponse as the HTTP API sends it: the same bytes as JSON.stringify of
 * `{QueryResponse: {Entity: [...records], startPosition, maxResults[, totalCount]}, time}`, with
 * each record's text taken from its cache rather than rendered and stringified again.
 */
export function queryBytes(company: Company, statement: string, options: QueryOptions, now: string): Buffer {
  const result = runQuery(company, statement, options);
  const time = JSON.stringify(now);
  if (result.count) return Buffer.from(`{"QueryResponse":{"totalCount":${result.totalCount ?? 0}},"time":${time}}`);
  if (result.rows.length === 0) return Buffer.from(`{"QueryResponse":{},"time":${time}}`);
  const total = result.totalCount !== undefined ? `,"totalCount":${result.totalCount}` : '';
  return joinJson(
    `{"QueryResponse":{${JSON.stringify(result.entity)}:[`,
    result.rows.map((r) => company.renderBytes(r)),
    `],"startPosition":${result.startPosition},"maxResults":${result.rows.length}${total}},"time":${time}}`,
  );
}

/** GET /cdc: changes since a time, grouped by entity, deleted stubs last, capped silently. */
export function cdcBytes(
  company: Company,
  entitiesParam: string | null,
  changedSinceParam: string | null,
  options: CdcOptions,
  now: number,
  time: string,
): Buffer {
  if (!entitiesParam) throw faults.required('entities');
  if (!changedSinceParam) throw faults.required('changedSince');
  const entities: EntityName[] = [];
  for (const name of entitiesParam
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const entity = entityFromName(name);
    if (!entity)
      throw faults.invalid(
        `Entity ${name} is not supported by ChangeDataCapture in this simulator (supported: ${ENTITIES.join(', ')})`,
        'entities',
      );
    if (!entities.includes(entity)) entities.push(entity);
  }
  if (entities.length === 0) throw faults.required('entities');
  let since = parseQboDateTime(changedSinceParam, company.timeZone);
  if (since === undefined)
    throw faults.invalid(`changedSince ${changedSinceParam} is not a valid date or date-time`, 'changedSince');
  const oldest = now - options.lookbackDays * DAY_MS;
  if (since < oldest) {
    if (options.outOfRange === 'reject')
      throw faults.invalid(
        `changedSince must be within the last ${options.lookbackDays} days (look-back limit of ChangeDataCapture)`,
        'changedSince',
      );
    since = oldest;
  }
  let budget = options.maxObjects;
  const blocks: Buffer[] = [];
  for (const entity of entities) {
    if (options.capScope === 'entity') budget = options.maxObjects;
    const byUpdated = company.tables[entity].view('updated', (r) => r.updated, ['updated']).rows;
    let lo = 0;
    let hi = byUpdated.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((byUpdated[mid] as Row).updated < since) lo = mid + 1;
      else hi = mid;
    }
    const objects: Buffer[] = [];
    for (let i = lo; i < byUpdated.length && budget > 0; i++, budget--)
      objects.push(company.renderBytes(byUpdated[i] as Row));
    const deleted = company.deleted.filter((d) => d.entity === entity && d.at >= since!).sort((a, b) => a.at - b.at);
    for (const d of deleted) {
      if (budget <= 0) break;
      budget--;
      objects.push(
        Buffer.from(
          JSON.stringify({
            status: 'Deleted',
            domain: 'QBO',
            Id: d.id,
            MetaData: { LastUpdatedTime: formatLocal(d.at, company.timeZone) },
          }),
        ),
      );
    }
    blocks.push(
      objects.length
        ? joinJson(`{${JSON.stringify(entity)}:[`, objects, `],"startPosition":1,"maxResults":${objects.length}}`)
        : Buffer.from('{}'),
    );
  }
  return joinJson('{"CDCResponse":[{"QueryResponse":[', blocks, `]}],"time":${JSON.stringify(time)}}`);
}

/** GET /{entity}/{id}. */
export function readBytes(company: Company, entityName: string, id: string, time: string): Buffer {
  const entity = entityFromName(entityName);
  if (!entity) throw faults.routeNotFound(`GET /${entityName}`);
  const row = company.get(entity, id);
  if (!row) throw faults.notFound(entity, id);
  return joinJson(`{${JSON.stringify(entity)}:`, [company.renderBytes(row)], `,"time":${JSON.stringify(time)}}`);
}

const COMMA = Buffer.from(',');

/** `head` + the parts separated by commas + `tail`, as one Buffer (one copy of each part). */
export function joinJson(head: string, parts: readonly Buffer[], tail: string): Buffer {
  const list: Buffer[] = [Buffer.from(head)];
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) list.push(COMMA);
    list.push(parts[i] as Buffer);
  }
  list.push(Buffer.from(tail));
  return Buffer.concat(list);
}
