import { sql, type Transaction } from 'kysely';
import type { SyncedEntity } from '../../common/sync-types.js';
import { deferSubCustomers, takeDeferredSubCustomers } from '../../db/repositories/deferred-sub-customers.js';
import {
  findLinks,
  findLinkTargets,
  type LinkTarget,
  type QboLink,
  type RecordVersion,
} from '../../db/repositories/qbo-links.js';
import { recordSyncErrors, resolveSyncErrors, type RecordFailure } from '../../db/repositories/sync-errors.js';
import type { SyncSettings } from '../../db/repositories/tenants.js';
import type { ConflictPolicy, Database, QboEntityType } from '../../db/schema.js';
import { mapCustomer, type SubCustomerRecord } from '../mapping/customer.js';
import { lockEntityWrites } from '../../db/repositories/write-locks.js';
import { isMappingError } from '../mapping/errors.js';
import { mapItem } from '../mapping/item.js';
import type { Language } from '../mapping/stages.js';
import {
  isSalesDocumentEntity,
  mapSalesDocument,
  type OpportunityRecord,
  type SalesDocumentEntity,
} from '../mapping/sales-document.js';
import type { QboRecord } from '../qbo/qbo-client.js';
import { accounts, categories, documents, products, subCustomers } from './set-writers.js';

/**
 * Writes QBO records into the CRM, a whole batch per statement, inside the caller's transaction
 * (which the caller has marked as the sync's, db/crm-rules.ts asSync). Every row is reached through
 * its record's link (tenant, realm, entity type, QBO id), so a write is idempotent, and an older
 * version of a record never overwrites a newer one: the link remembers the version it applied.
 */
export interface TenantSettings {
  readonly tenantId: string;
  readonly realmId: string;
  /** The tenant's protected QuickBooks list, which holds every synced account and contact (R14). */
  readonly quickbooksListId: number;
  readonly startDate: string;
  readonly syncLanguage: Language;
  readonly defaultLanguage: Language;
  /**
   * Two-way (R7): a customer a CRM user changed and whose push is still open is merged field by
   * field rather than overwritten. Absent, QuickBooks's values are written as they come.
   */
  readonly twoWay?: { readonly policy: ConflictPolicy };
}

/** The writer's view of a tenant's settings: two-way merging on when the tenant syncs both ways. */
export function writerSettings<
  S extends Omit<TenantSettings, 'twoWay'> & Pick<SyncSettings, 'mode' | 'conflictPolicy'>,
>(settings: S): S & TenantSettings {
  return settings.mode === 'two_way' ? { ...settings, twoWay: { policy: settings.conflictPolicy } } : settings;
}

export interface PageCounts {
  written: number;
  unchanged: number;
  /** Outside the tenant's start date: not synced (R2). */
  skipped: number;
  deleted: number;
  failed: number;
}

export const emptyCounts = (): PageCounts => ({ written: 0, unchanged: 0, skipped: 0, deleted: 0, failed: 0 });

/** Fetches records that a page refers to but the CRM does not hold yet (customers, parents, categories). */
export type ReferenceFetcher = (entity: 'Customer' | 'Item', ids: readonly string[]) => Promise<QboRecord[]>;

type Trx = Transaction<Database>;

/** A mapped record, whatever its entity: its QBO id and version. */
export interface Versioned extends RecordVersion {
  readonly qboId: string;
}

/** A record newer than what its link last applied, with that link (none for a record new to the CRM). */
export interface Change<T> {
  readonly record: T;
  readonly link: QboLink | undefined;
}

/**
 * The set-based write of one kind of record (accounts, sub-customers, categories, products, one kind
 * of sales document). It writes the changed records and their links, and hands back those it could
 * not place because the record they refer to is not in the CRM.
 */
export interface SetWriter<T extends Versioned> {
  readonly entity: QboEntityType;
  readonly reference?: {
    readonly entity: 'Customer' | 'Item';
    readonly of: (record: T) => string | null;
    /** Why a record whose reference stayed missing failed; absent when such a record is written anyway. */
    readonly missing?: (record: T) => Pick<RecordFailure, 'field' | 'message'>;
  };
  write(
    trx: Trx,
    settings: TenantSettings,
    changes: readonly Change<T>[],
    references: ReadonlyMap<string, LinkTarget>,
    now: Date,
  ): Promise<T[]>;
}

/** QBO's references (a document's customer, a sub-customer's parent, …) are followed this deep at most. */
const maxReferenceDepth = 6;

/**
 * What a Customer write does with sub-customers whose parent the CRM does not hold yet (issue 16):
 * - 'defer': a page of a paged read with more Customer pages to come. Such a sub-customer waits,
 *   as QBO sent it, in deferred_sub_customers (in the page's transaction) for the page that brings
 *   its parent, instead of a read of the parent per page; each page writes the waiting ones whose
 *   parent it linked.
 * - 'settle': the read's last page, or a CDC pass. Every waiting sub-customer is written with the
 *   page, the parents still missing read together, a page's worth of ids a request.
 * Absent (the push, the repair), a missing parent is read at once and waiting rows are left alone.
 */
export type WaitingSubCustomers = 'defer' | 'settle';

export interface WriteOptions {
  /** Counts to add to (a CDC pass sums its entities' into one); fresh ones otherwise. */
  readonly counts?: PageCounts;
  /** Read for Customer writes only. */
  readonly subCustomersWaiting?: WaitingSubCustomers;
}

/**
 * Maps and writes one batch of raw QBO records of one entity. A record that fails to map, or whose
 * write the database refuses, goes to the error table with its QBO id and the rest of the batch
 * lands. References are kept whole: a document's customer (or a sub-customer's parent, or a
 * product's category) that the CRM lacks is fetched and written first, whatever its own version;
 * only a paged read's sub-customers may wait for their parent instead (WaitingSubCustomers).
 */
export async function writeRecords(
  trx: Trx,
  settings: TenantSettings,
  entity: SyncedEntity,
  records: readonly QboRecord[] | MappedDocuments,
  fetchReferences: ReferenceFetcher,
  now: Date,
  options: WriteOptions = {},
): Promise<PageCounts> {
  await lockEntityWrites(trx, settings.tenantId, entity);
  const counts = options.counts ?? emptyCounts();
  const waiting = entity === 'Customer' ? options.subCustomersWaiting : undefined;
  const page: Page = { trx, settings, fetchReferences, now, deferMissingParents: waiting === 'defer' };
  if ('documents' in records) return writeDocuments(page, records, counts);
  if (!waiting) return writePage(page, entity, records, counts, 0);
  // A waiting version and the page's version of one sub-customer meet in newestPerRecord: the newest wins.
  const taken = await takeDeferredSubCustomers(
    trx,
    settings,
    waiting === 'settle' ? { kind: 'all' } : { kind: 'ids', qboIds: records.map((record) => record.Id) },
  );
  const batch = [...taken.map(({ qboId, record }) => ({ ...record, Id: qboId })), ...records];
  await writePage(page, entity, batch, counts, 0);
  if (waiting === 'defer') {
    await writeWaitingChildren(
      page,
      batch.map((record) => record.Id),
      counts,
    );
  }
  return counts;
}

/**
 * The waiting sub-customers whose parent this batch brought, and then theirs (a job of a job), this
 * deep at most. Only this batch's customers can be the parents they wait for: one linked before a
 * sub-customer was read would have taken it at once. So each page asks the waiting rows for its own
 * ids, through their parent index, rather than probing every waiting row's parent, whose number
 * grows with the company (13 ms a page at 1M records).
 */
async function writeWaitingChildren(page: Page, parentQboIds: readonly string[], counts: PageCounts): Promise<void> {
  let parents = parentQboIds;
  for (let depth = 0; depth < maxReferenceDepth; depth += 1) {
    const ready = await takeDeferredSubCustomers(page.trx, page.settings, { kind: 'children', parentQboIds: parents });
    if (ready.length === 0) return;
    await writePage(
      page,
      'Customer',
      ready.map(({ qboId, record }) => ({ ...record, Id: qboId })),
      counts,
      0,
    );
    parents = ready.map(({ qboId }) => qboId);
  }
}

interface Page {
  readonly trx: Trx;
  readonly settings: TenantSettings;
  readonly fetchReferences: ReferenceFetcher;
  readonly now: Date;
  /** Sub-customers whose parent is missing wait for a later page rather than have it read. */
  readonly deferMissingParents: boolean;
}

/** What one page's writes came to: its counts, its failures, and the records that went through. */
interface Tally {
  readonly counts: PageCounts;
  readonly failures: RecordFailure[];
  readonly settled: string[];
}

async function writePage(
  page: Page,
  entity: SyncedEntity,
  records: readonly QboRecord[],
  counts: PageCounts,
  depth: number,
): Promise<PageCounts> {
  if (isSalesDocumentEntity(entity)) {
    return writeDocuments(page, mapDocuments(entity, records, page.settings.syncLanguage), counts);
  }
  const { live, deleted } = splitDeletions(newestPerRecord(records));
  await writeDeletions(page, entity, deleted, counts);
  const tally: Tally = { counts, failures: [], settled: [] };
  const write = <T extends Versioned>(writer: SetWriter<T>, set: readonly T[]) =>
    writeSet(page, writer, set, depth, tally);
  if (entity === 'Item') {
    const items = mapAll(live, mapItem, tally.failures);
    // Categories first, so a product finds its category written in the same page.
    await write(categories, ofKind(items, 'category'));
    await write(products, ofKind(items, 'product'));
  } else {
    const options = { defaultLanguage: page.settings.defaultLanguage };
    const customers = mapAll(live, (record) => mapCustomer(record, options), tally.failures);
    await write(accounts, ofKind(customers, 'account'));
    await writeSubCustomers(page, ofKind(customers, 'subCustomer'), live, depth, tally);
  }
  return settleTally(page, entity, tally);
}

/**
 * A batch of sales documents mapped, before any write: the syncing activity maps each page as soon
 * as QBO's answer is parsed, so that while the page waits for its write (behind the page before
 * it) the worker holds its rows, not the larger payloads they came from.
 */
export interface MappedDocuments {
  readonly entity: SalesDocumentEntity;
  /** QBO ids of the deletion stubs in the batch. */
  readonly deleted: readonly string[];
  readonly documents: readonly OpportunityRecord[];
  /** Records that did not map (MappingError). */
  readonly failures: readonly RecordFailure[];
}

/** Maps a batch of sales documents (R9: QBO → CRM only); the newest version of each record counts. */
export function mapDocuments(
  entity: SalesDocumentEntity,
  records: readonly QboRecord[],
  language: Language,
): MappedDocuments {
  const { live, deleted } = splitDeletions(newestPerRecord(records));
  const failures: RecordFailure[] = [];
  const documents = mapAll(live, (record) => mapSalesDocument(entity, record, { language }), failures);
  return { entity, deleted, documents, failures };
}

/** Writes mapped sales documents; those dated before the tenant's start date are skipped. */
async function writeDocuments(page: Page, mapped: MappedDocuments, counts: PageCounts): Promise<PageCounts> {
  await writeDeletions(page, mapped.entity, mapped.deleted, counts);
  const tally: Tally = { counts, failures: [...mapped.failures], settled: [] };
  const synced = mapped.documents.filter((document) => document.txnDate >= page.settings.startDate);
  counts.skipped += mapped.documents.length - synced.length;
  await writeSet(page, documents(mapped.entity), synced, 0, tally);
  return settleTally(page, mapped.entity, tally);
}

function splitDeletions(batch: readonly QboRecord[]): { live: QboRecord[]; deleted: string[] } {
  const live: QboRecord[] = [];
  const deleted: string[] = [];
  for (const record of batch) {
    if (record['status'] === 'Deleted') deleted.push(record.Id);
    else live.push(record);
  }
  return { live, deleted };
}

async function writeDeletions(page: Page, entity: SyncedEntity, ids: readonly string[], counts: PageCounts) {
  if (ids.length === 0) return;
  const deleted = await markDocumentsDeleted(page.trx, page.settings, entity, ids, page.now);
  counts.deleted += deleted;
  counts.unchanged += ids.length - deleted;
}

/** Files a page's failures and clears the errors of the records that went through. */
async function settleTally(page: Page, entity: SyncedEntity, tally: Tally): Promise<PageCounts> {
  tally.counts.failed += tally.failures.length;
  await recordSyncErrors(page.trx, page.settings, entity, tally.failures, page.now);
  await resolveSyncErrors(page.trx, page.settings, entity, tally.settled, page.now);
  return tally.counts;
}

/**
 * Sub-customers in waves, each wave those whose parent is linked by now, so that a job of a job in
 * the same batch costs no read of its parent. Those whose parent is still missing then wait for a
 * later page, or are written with their parents read.
 */
async function writeSubCustomers(
  page: Page,
  subs: readonly SubCustomerRecord[],
  raw: readonly QboRecord[],
  depth: number,
  tally: Tally,
): Promise<void> {
  let pending = subs;
  for (let wave = 0; pending.length > 0 && wave < maxReferenceDepth; wave += 1) {
    const linked = await findLinkTargets(
      page.trx,
      page.settings,
      'Customer',
      new Set(pending.map((sub) => sub.parentQboId)),
    );
    const ready = pending.filter((sub) => linked.has(sub.parentQboId));
    if (ready.length === 0) break;
    await writeSet(page, subCustomers, ready, depth, tally);
    pending = pending.filter((sub) => !linked.has(sub.parentQboId));
  }
  if (!page.deferMissingParents) return writeSet(page, subCustomers, pending, depth, tally);
  const rawById = new Map(raw.map((record) => [record.Id, record]));
  const waiting = pending.map((sub) => {
    const record = rawById.get(sub.qboId);
    if (!record) throw new Error(`sub-customer ${sub.qboId} was mapped from no record of its batch`);
    return { qboId: sub.qboId, parentQboId: sub.parentQboId, record };
  });
  await deferSubCustomers(page.trx, page.settings, waiting, page.now);
}

/** Writes one kind of record, after the records they refer to. */
async function writeSet<T extends Versioned>(
  page: Page,
  writer: SetWriter<T>,
  records: readonly T[],
  depth: number,
  tally: Tally,
): Promise<void> {
  if (records.length === 0) return;
  const reference = writer.reference;
  const references = reference
    ? await ensureReferences(page, reference.entity, records.map(reference.of), depth)
    : new Map<string, LinkTarget>();
  const outcome = await isolatingFailures(page.trx, records, tally.failures, (set) =>
    writeChanges(page, writer, set, references),
  );
  tally.counts.written += outcome.written.length;
  tally.counts.unchanged += outcome.unchanged.length;
  tally.settled.push(...outcome.written, ...outcome.unchanged);
  for (const record of outcome.missing) {
    if (!reference?.missing)
      throw new Error(`the ${writer.entity} writer left ${record.qboId} unwritten without a reference to blame`);
    tally.failures.push({ qboId: record.qboId, errorType: 'MissingReference', ...reference.missing(record) });
  }
}

interface SetOutcome<T> {
  readonly written: string[];
  readonly unchanged: string[];
  readonly missing: T[];
}

/** Writes the records newer than their links; the others are unchanged. */
async function writeChanges<T extends Versioned>(
  page: Page,
  writer: SetWriter<T>,
  records: readonly T[],
  references: ReadonlyMap<string, LinkTarget>,
): Promise<SetOutcome<T>> {
  const { trx, settings } = page;
  const ids = records.map((record) => record.qboId);
  const links = await findLinks(trx, settings, writer.entity, ids, { lock: true });
  const changes = records
    .map((record) => ({ record, link: links.get(record.qboId) }))
    .filter(({ record, link }) => !link || isNewer(record, link));
  const missing = await writer.write(trx, settings, changes, references, page.now);
  const placed = new Set(ids);
  for (const record of missing) placed.delete(record.qboId);
  const changed = new Set(changes.map((change) => change.record.qboId));
  return {
    written: [...placed].filter((id) => changed.has(id)),
    unchanged: [...placed].filter((id) => !changed.has(id)),
    missing,
  };
}

/**
 * Runs a set-based write in a savepoint. When the database refuses it, the set is split in halves
 * and each half written again the same way, down to a set of one: the record that breaks a
 * constraint goes to the error table and every other record of the set lands.
 */
async function isolatingFailures<T extends Versioned>(
  trx: Trx,
  records: readonly T[],
  failures: RecordFailure[],
  write: (records: readonly T[]) => Promise<SetOutcome<T>>,
): Promise<SetOutcome<T>> {
  await sql`SAVEPOINT set_write`.execute(trx);
  try {
    const outcome = await write(records);
    await sql`RELEASE SAVEPOINT set_write`.execute(trx);
    return outcome;
  } catch (error) {
    await sql`ROLLBACK TO SAVEPOINT set_write`.execute(trx);
    await sql`RELEASE SAVEPOINT set_write`.execute(trx);
    const [only] = records;
    if (records.length === 1 && only) {
      const message = error instanceof Error ? error.message : String(error);
      failures.push({ qboId: only.qboId, errorType: 'WriteError', field: null, message });
      return { written: [], unchanged: [], missing: [] };
    }
    const middle = Math.ceil(records.length / 2);
    const first = await isolatingFailures(trx, records.slice(0, middle), failures, write);
    const second = await isolatingFailures(trx, records.slice(middle), failures, write);
    return {
      written: [...first.written, ...second.written],
      unchanged: [...first.unchanged, ...second.unchanged],
      missing: [...first.missing, ...second.missing],
    };
  }
}

/**
 * The links of the referred records, by QBO id, after fetching and writing those the CRM does not
 * hold yet; a reference that stays missing has none.
 */
async function ensureReferences(
  page: Page,
  entity: 'Customer' | 'Item',
  referred: ReadonlyArray<string | null>,
  depth: number,
): Promise<Map<string, LinkTarget>> {
  const ids = [...new Set(referred)].filter((id): id is string => id !== null);
  let linked = await findLinkTargets(page.trx, page.settings, entity, ids);
  if (ids.every((id) => linked.has(id)) || depth >= maxReferenceDepth) return linked;
  // Another entity's page may be writing the same records: wait for it, then look again.
  await lockEntityWrites(page.trx, page.settings.tenantId, entity);
  linked = await findLinkTargets(page.trx, page.settings, entity, ids);
  const missing = ids.filter((id) => !linked.has(id));
  if (missing.length === 0) return linked;
  const fetched = await page.fetchReferences(entity, missing);
  await writePage(page, entity, fetched, emptyCounts(), depth + 1);
  for (const [id, link] of await findLinkTargets(page.trx, page.settings, entity, missing)) linked.set(id, link);
  return linked;
}

/** Maps each record; a mapping failure is recorded against its record and the record left out. */
function mapAll<T>(records: readonly QboRecord[], map: (record: QboRecord) => T, failures: RecordFailure[]): T[] {
  return records.flatMap((record) => {
    try {
      return [map(record)];
    } catch (error) {
      if (!isMappingError(error)) throw error;
      failures.push({ qboId: record.Id, errorType: 'MappingError', field: error.field, message: error.problem });
      return [];
    }
  });
}

/** The record a mapping of kind K carries under the key K: `{ kind: 'account', account }` and the like. */
type RecordOfKind<M, K extends string> = Extract<M, { kind: K }>[K & keyof Extract<M, { kind: K }>];

/** The records of one kind among mapped ones. */
function ofKind<M extends { readonly kind: string }, K extends M['kind']>(
  mapped: readonly M[],
  kind: K,
): Array<RecordOfKind<M, K>> {
  return mapped.flatMap((mapping) =>
    mapping.kind === kind ? [(mapping as unknown as Readonly<Record<K, RecordOfKind<M, K>>>)[kind]] : [],
  );
}

/**
 * The newest version of each record of a batch (CDC and overlapping windows can carry a record
 * twice, or its update and its deletion): the latest LastUpdatedTime, then the highest SyncToken.
 */
export function newestPerRecord(records: readonly QboRecord[]): QboRecord[] {
  const newest = new Map<string, QboRecord>();
  for (const record of records) {
    const seen = newest.get(record.Id);
    if (!seen || compareVersions(rawVersion(record), rawVersion(seen)) >= 0) newest.set(record.Id, record);
  }
  return [...newest.values()];
}

/** A raw record's version as it carries it (SyncToken, MetaData.LastUpdatedTime), unread fields null. */
export function rawVersion(record: QboRecord): RecordVersion {
  const meta = record['MetaData'];
  const time = typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>)['LastUpdatedTime'] : null;
  const token = record['SyncToken'];
  return {
    syncToken: typeof token === 'string' ? token : null,
    lastUpdatedTime: typeof time === 'string' ? time : null,
  };
}

/** Orders two versions of one record; a missing or unreadable time or token sorts first. */
function compareVersions(a: RecordVersion, b: RecordVersion): number {
  const orderOf = (x: number, y: number) => (x === y ? 0 : x < y ? -1 : 1);
  const readable = (value: number) => (Number.isFinite(value) ? value : Number.NEGATIVE_INFINITY);
  const instant = (version: RecordVersion) => readable(Date.parse(version.lastUpdatedTime ?? ''));
  const token = (version: RecordVersion) => readable(Number(version.syncToken ?? Number.NaN));
  return orderOf(instant(a), instant(b)) || orderOf(token(a), token(b));
}

/** True when `incoming` is strictly newer than what the link last applied; a version QBO did not date is applied. */
export function isNewer(incoming: RecordVersion, applied: Pick<QboLink, 'sync_token' | 'qbo_updated_at'>): boolean {
  if (Number.isNaN(Date.parse(incoming.lastUpdatedTime ?? ''))) return true;
  const appliedVersion = { syncToken: applied.sync_token, lastUpdatedTime: applied.qbo_updated_at.toISOString() };
  return compareVersions(incoming, appliedVersion) > 0;
}

/**
 * Transactions hard-deleted in QBO: their opportunities are marked deleted (R20: nothing that
 * refers to them breaks). Returns how many opportunities became deleted.
 */
export async function markDocumentsDeleted(
  trx: Trx,
  settings: TenantSettings,
  entity: QboEntityType,
  qboIds: readonly string[],
  deletedAt: Date,
): Promise<number> {
  const links = await findLinks(trx, settings, entity, qboIds, { lock: true });
  const ids = [...links.values()].flatMap((link) => (link.opportunity_id === null ? [] : [link.opportunity_id]));
  if (ids.length === 0) return 0;
  const result = await trx
    .updateTable('opportunities')
    .set({ deleted_at: deletedAt })
    .where('tenant_id', '=', settings.tenantId)
    .where(sql<boolean>`id = ANY(${ids}::int8[])`)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
