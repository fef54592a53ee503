/**
 * Loads a company from recorded QBO responses: every `*.json` in a directory, each a query
 * response (`QueryResponse`), a single-entity response (`{"Customer":{…}}`) or a CDC response
 * (`CDCResponse`). Ids, SyncTokens and times are kept. A record seen twice keeps its newest version.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { entityFromName, isObject, TRANSACTIONS, type Company, type EntityName, type Json, type Row } from './store.js';
import { formatLocal, parseQboDateTime } from './time.js';

/** A recorded file that cannot be read; names the file and the field. */
export class LoadError extends Error {
  override readonly name = 'LoadError';
}

export interface LoadedRecord {
  readonly entity: EntityName;
  readonly record: Json;
  readonly file: string;
  readonly where: string;
}

export interface LoadedDeletion {
  readonly entity: EntityName;
  readonly id: string;
  readonly at: number;
}

export interface LoadedFiles {
  readonly records: LoadedRecord[];
  readonly deletions: LoadedDeletion[];
  readonly files: string[];
  /** Entity keys found but not simulated (e.g. Vendor), with counts. */
  readonly skipped: Record<string, number>;
  /** Every timestamp text seen, used to pick a matching time zone. */
  readonly times: string[];
}

/** Reads and validates every `*.json` file in a directory (sorted by name). */
export async function readRecordedDirectory(dir: string): Promise<LoadedFiles> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    throw new LoadError(`cannot read directory ${dir}: ${(err as Error).message}`);
  }
  if (names.length === 0) throw new LoadError(`no *.json files in ${dir}`);
  const out: LoadedFiles = { records: [], deletions: [], files: [], skipped: {}, times: [] };
  for (const name of names) {
    const file = path.join(dir, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      throw new LoadError(`${file}: not valid JSON (${(err as Error).message})`);
    }
    collectResponse(parsed, file, out);
    out.files.push(file);
  }
  return out;
}

/** Collects the records of one recorded response; throws LoadError naming the file and field. */
export function collectResponse(parsed: unknown, file: string, out: LoadedFiles): void {
  if (Array.isArray(parsed) || (isObject(parsed) && 'eventNotifications' in parsed)) {
    out.skipped['webhook payload'] = (out.skipped['webhook payload'] ?? 0) + 1;
    return;
  }
  if (!isObject(parsed)) throw new LoadError(`${file}: expected a QBO response object at the top level`);
  if ('QueryResponse' in parsed) {
    const qr = parsed['QueryResponse'];
    if (!isObject(qr)) throw new LoadError(`${file}: field QueryResponse must be an object`);
    collectBlock(qr, file, 'QueryResponse', out);
    return;
  }
  if ('CDCResponse' in parsed) {
    const cdc = parsed['CDCResponse'];
    if (!Array.isArray(cdc)) throw new LoadError(`${file}: field CDCResponse must be an array`);
    cdc.forEach((element, i) => {
      const blocks = isObject(element) ? element['QueryResponse'] : undefined;
      if (!Array.isArray(blocks))
        throw new LoadError(`${file}: field CDCResponse[${i}].QueryResponse must be an array`);
      blocks.forEach((block, j) => {
        if (!isObject(block))
          throw new LoadError(`${file}: field CDCResponse[${i}].QueryResponse[${j}] must be an object`);
        collectBlock(block, file, `CDCResponse[${i}].QueryResponse[${j}]`, out);
      });
    });
    return;
  }
  if ('Fault' in parsed || 'fault' in parsed) {
    out.skipped['Fault'] = (out.skipped['Fault'] ?? 0) + 1;
    return;
  }
  let found = false;
  for (const [key, value] of Object.entries(parsed)) {
    if (key === 'time') continue;
    const entity = entityFromName(key);
    if (!entity || entity !== key) {
      out.skipped[key] = (out.skipped[key] ?? 0) + 1;
      continue;
    }
    if (!isObject(value)) throw new LoadError(`${file}: field ${key} must be an object`);
    addRecord(entity, value, file, key, out);
    found = true;
  }
  if (!found && Object.keys(out.skipped).length === 0)
    throw new LoadError(
      `${file}: no QueryResponse, CDCResponse or entity field (Customer, Item, Estimate, Invoice, CreditMemo, SalesReceipt)`,
    );
}

function collectBlock(block: Json, file: string, where: string, out: LoadedFiles): void {
  for (const [key, value] of Object.entries(block)) {
    if (key === 'startPosition' || key === 'maxResults' || key === 'totalCount') continue;
    const entity = entityFromName(key);
    if (!entity || entity !== key) {
      out.skipped[key] = (out.skipped[key] ?? 0) + (Array.isArray(value) ? value.length : 1);
      continue;
    }
    const list = Array.isArray(value) ? value : [value];
    list.forEach((record, i) => {
      if (!isObject(record)) throw new LoadError(`${file}: field ${where}.${key}[${i}] must be an object`);
      addRecord(entity, record, file, `${where}.${key}[${i}]`, out);
    });
  }
}

function addRecord(entity: EntityName, record: Json, file: string, where: string, out: LoadedFiles): void {
  const fail = (field: string, problem: string) => new LoadError(`${file}: field ${where}.${field} ${problem}`);
  if (typeof record['Id'] !== 'string' || record['Id'] === '') throw fail('Id', 'must be a non-empty string');
  const meta = record['MetaData'];
  if (record['status'] === 'Deleted') {
    const updated = isObject(meta) ? meta['LastUpdatedTime'] : undefined;
    const at = typeof updated === 'string' ? Date.parse(updated) : NaN;
    if (typeof updated === 'string') out.times.push(updated);
    out.deletions.push({ entity, id: record['Id'], at: Number.isNaN(at) ? 0 : at });
    return;
  }
  if (typeof record['SyncToken'] !== 'string' || !/^\d+$/.test(record['SyncToken']))
    throw fail('SyncToken', 'must be a string of digits');
  if (!isObject(meta)) throw fail('MetaData', 'must be an object');
  for (const key of ['CreateTime', 'LastUpdatedTime']) {
    const value = meta[key];
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value)))
      throw fail(`MetaData.${key}`, 'must be a date-time string');
    out.times.push(value);
  }
  if (entity === 'Customer' && typeof record['DisplayName'] !== 'string') throw fail('DisplayName', 'must be a string');
  if (entity === 'Item' && typeof record['Name'] !== 'string') throw fail('Name', 'must be a string');
  if (TRANSACTIONS.has(entity)) {
    const ref = record['CustomerRef'];
    if (ref !== undefined && !(isObject(ref) && typeof ref['value'] === 'string'))
      throw fail('CustomerRef.value', 'must be a string');
  }
  out.records.push({ entity, record, file, where });
}

const CANDIDATE_ZONES = [
  'America/Los_Angeles',
  'America/Toronto',
  'America/Denver',
  'America/Chicago',
  'America/Phoenix',
  'America/Halifax',
  'America/St_Johns',
  'America/Regina',
  'Europe/London',
  'Australia/Sydney',
  'Asia/Kolkata',
  'UTC',
];

/** The first candidate zone that reproduces every recorded offset, so times re-render verbatim. */
export function detectTimeZone(times: readonly string[], fallback: string): string {
  const withOffset = times.filter((t) => /[+-]\d{2}:\d{2}$/.test(t)).slice(0, 2000);
  if (withOffset.length === 0) return fallback;
  for (const zone of [fallback, ...CANDIDATE_ZONES]) {
    if (withOffset.every((t) => formatLocal(Date.parse(t), zone).slice(-6) === t.slice(-6))) return zone;
  }
  return fallback;
}

/** Puts loaded records into a company (which should be empty). */
export function applyLoaded(
  company: Company,
  loaded: LoadedFiles,
): { readonly records: number; readonly deletions: number } {
  const newest = new Map<string, LoadedRecord & { updated: number; syncToken: number }>();
  for (const item of loaded.records) {
    const meta = item.record['MetaData'] as Json;
    const updated =
      parseQboDateTime(String(meta['LastUpdatedTime']), company.timeZone) ??
      Date.parse(String(meta['LastUpdatedTime']));
    const syncToken = Number(item.record['SyncToken']);
    const key = `${item.entity}/${String(item.record['Id'])}`;
    const seen = newest.get(key);
    if (!seen || updated > seen.updated || (updated === seen.updated && syncToken > seen.syncToken))
      newest.set(key, { ...item, updated, syncToken });
  }
  for (const item of newest.values())
    company.insert(toRow(company.timeZone, item.entity, item.record, item.updated, item.syncToken));
  for (const deletion of loaded.deletions) {
    company.tables[deletion.entity].remove(deletion.id);
    company.deleted.push(deletion);
  }
  return { records: newest.size, deletions: loaded.deletions.length };
}

function toRow(timeZone: string, entity: EntityName, record: Json, updated: number, syncToken: number): Row {
  const meta = record['MetaData'] as Json;
  const created = parseQboDateTime(String(meta['CreateTime']), timeZone) ?? updated;
  const body: Json = { ...record };
  const id = String(record['Id']);
  for (const key of [
    'Id',
    'SyncToken',
    'domain',
    'sparse',
    'DisplayName',
    'Name',
    'Active',
    'Type',
    'DocNumber',
    'TxnDate',
  ])
    delete body[key];
  const restMeta: Json = { ...meta };
  delete restMeta['CreateTime'];
  delete restMeta['LastUpdatedTime'];
  if (Object.keys(restMeta).length > 0) body['MetaData'] = restMeta;
  else delete body['MetaData'];
  const ref = record['CustomerRef'];
  const row: Row = {
    entity,
    id,
    idNum: /^\d+$/.test(id) ? Number(id) : Number.MAX_SAFE_INTEGER,
    syncToken,
    created,
    updated,
    active: record['Active'] !== false,
    name: String(record['DisplayName'] ?? record['Name'] ?? ''),
    body,
  };
  if (typeof record['Type'] === 'string') row.itemType = record['Type'];
  if (typeof record['DocNumber'] === 'string') row.docNumber = record['DocNumber'];
  if (typeof record['TxnDate'] === 'string') row.txnDate = record['TxnDate'];
  if (isObject(ref) && typeof ref['value'] === 'string') row.customerId = ref['value'];
  return row;
}
