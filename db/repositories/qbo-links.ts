import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import { recordset, type Executor } from '../recordset.js';
import { isoDate } from '../dates.js';
import type { Database, QboEntityType, QboLinksTable } from '../schema.js';

/** One synced QBO record's link to its CRM row, keyed by (tenant, realm, entity type, QBO id). */
export type QboLink = Selectable<QboLinksTable>;

export interface RealmKey {
  readonly tenantId: string;
  readonly realmId: string;
}

/** A QBO version as the record carries it: SyncToken and MetaData.LastUpdatedTime. */
export interface RecordVersion {
  readonly syncToken: string | null;
  readonly lastUpdatedTime: string | null;
}

/** A link as written: one target row, the version applied, and the customer-only columns. */
export interface LinkWrite {
  readonly qboId: string;
  readonly version: RecordVersion;
  readonly target: Partial<Pick<QboLink, 'account_id' | 'opportunity_id' | 'product_id' | 'revenue_category_id'>>;
  readonly parentQboId?: string | null;
  /** The two-way fields as synced (accounts only): the base the CRM→QBO merge compares against. */
  readonly snapshot?: unknown;
}

/**
 * The links of these QBO ids, by QBO id. `lock` takes the rows for the rest of the transaction, so
 * two writers of the same records queue instead of both deciding from the same old version.
 */
export async function findLinks(
  db: Executor,
  realm: RealmKey,
  entity: QboEntityType,
  qboIds: Iterable<string>,
  options: { readonly lock?: boolean } = {},
): Promise<Map<string, QboLink>> {
  const rows = await probeLinks<QboLink>(db, realm, entity, qboIds, sql`l.*`, options.lock ?? false);
  return new Map((await resolveMerged(db, realm, rows)).map((row) => [row.qbo_id, row]));
}

/**
 * Reads the links of these ids with one primary-key probe per id, in id order. A plain
 * `qbo_id = ANY(ids)` left the choice to the planner, and with the statistics of a table a backfill
 * is filling it scanned every link of the entity with the array as a filter: about 30,000 links read
 * per lookup of a 100k-record backfill, growing with the company. The probes cost what the ids cost.
 * The order is the order in which `lock` takes the rows, the same in every writer.
 */
async function probeLinks<Row>(
  db: Executor,
  realm: RealmKey,
  entity: QboEntityType,
  qboIds: Iterable<string>,
  columns: RawBuilder<unknown>,
  lock: boolean,
): Promise<Row[]> {
  const ids = [...new Set(qboIds)].sort();
  if (ids.length === 0) return [];
  // LIMIT 1 (the key is unique) keeps the subquery a parameterized probe: PostgreSQL cannot turn
  // it into a join it would plan on its own.
  const { rows } = await sql<Row>`
    SELECT ${columns}
    FROM unnest(${ids}::text[]) AS wanted(qbo_id)
    CROSS JOIN LATERAL (
      SELECT * FROM qbo_links
      WHERE tenant_id = ${realm.tenantId} AND realm_id = ${realm.realmId} AND entity_type = ${entity}
        AND qbo_id = wanted.qbo_id
      LIMIT 1 ${lock ? sql`FOR UPDATE` : sql``}
    ) AS l`.execute(db);
  return rows;
}

/** What a reference to a record needs of its link: the CRM rows it points at. */
const linkTargetColumns = [
  'qbo_id',
  'account_id',
  'opportunity_id',
  'product_id',
  'revenue_category_id',
  'merged_into_qbo_id',
] as const;
export type LinkTarget = Pick<QboLink, (typeof linkTargetColumns)[number]>;

/**
 * The targets of these QBO ids' links, by QBO id, merges resolved as findLinks does: for records
 * that refer to them (a document's customer, a line's item), where a page's references are a
 * thousand links whose versions and two-way snapshots nobody reads.
 */
export async function findLinkTargets(
  db: Executor,
  realm: RealmKey,
  entity: QboEntityType,
  qboIds: Iterable<string>,
): Promise<Map<string, LinkTarget>> {
  const rows = await probeLinks<LinkTarget>(
    db,
    realm,
    entity,
    qboIds,
    sql.join(linkTargetColumns.map((column) => sql.ref(`l.${column}`))),
    false,
  );
  return new Map((await resolveMerged(db, realm, rows)).map((row) => [row.qbo_id, row]));
}

/** A chain of merges (A into B, then B into C) is followed this far at most. */
const maxMergeChain = 8;

/**
 * R21: a customer merged away in QBO resolves to the account of the customer it was merged into, so
 * a later reference to its id (a document QBO still names it on, say) lands on the survivor. Before
 * the repair has run, the merged-away link still names its own account; after, both agree.
 */
async function resolveMerged<T extends LinkTarget>(db: Executor, realm: RealmKey, rows: T[]): Promise<T[]> {
  let pending = rows.filter((row) => row.merged_into_qbo_id !== null);
  if (pending.length === 0) return rows;
  const accountOf = new Map<string, number | null>();
  for (let depth = 0; pending.length > 0 && depth < maxMergeChain; depth += 1) {
    const survivors = await db
      .selectFrom('qbo_links')
      .select(['qbo_id', 'account_id', 'merged_into_qbo_id'])
      .where('tenant_id', '=', realm.tenantId)
      .where('realm_id', '=', realm.realmId)
      .where('entity_type', '=', 'Customer')
      .where(sql<boolean>`qbo_id = ANY(${pending.map((row) => row.merged_into_qbo_id)}::text[])`)
      .execute();
    const byId = new Map(survivors.map((row) => [row.qbo_id, row]));
    const next: T[] = [];
    for (const row of pending) {
      const survivor = byId.get(row.merged_into_qbo_id!);
      if (!survivor) continue;
      accountOf.set(row.qbo_id, survivor.account_id);
      if (survivor.merged_into_qbo_id !== null) next.push({ ...row, merged_into_qbo_id: survivor.merged_into_qbo_id });
    }
    pending = next;
  }
  return rows.map((row) => (accountOf.has(row.qbo_id) ? { ...row, account_id: accountOf.get(row.qbo_id)! } : row));
}

/** A version as a link stores it; a version QBO did not date is dated now. */
function versionColumns(version: RecordVersion, now: Date) {
  const lastUpdated = version.lastUpdatedTime ?? now.toISOString();
  const at = Date.parse(lastUpdated);
  return {
    sync_token: version.syncToken ?? '0',
    qbo_last_updated_time: lastUpdated,
    qbo_updated_at: new Date(Number.isNaN(at) ? now.getTime() : at),
  };
}

/**
 * Writes the links of one entity's records, replacing any earlier target: an item that turned from
 * a product into a category, or a customer that became a sub-customer, points at its new row.
 */
export async function upsertLinks(
  db: Executor,
  realm: RealmKey,
  entity: QboEntityType,
  links: readonly LinkWrite[],
  now: Date,
): Promise<void> {
  if (links.length === 0) return;
  const rows = links.map((link) => ({
    qbo_id: link.qboId,
    account_id: link.target.account_id ?? null,
    opportunity_id: link.target.opportunity_id ?? null,
    product_id: link.target.product_id ?? null,
    revenue_category_id: link.target.revenue_category_id ?? null,
    parent_qbo_id: link.parentQboId ?? null,
    ...versionColumns(link.version, now),
    synced_snapshot: link.snapshot ?? {},
  }));
  const columns = {
    qbo_id: 'text',
    account_id: 'int8',
    opportunity_id: 'int8',
    product_id: 'int8',
    revenue_category_id: 'int8',
    parent_qbo_id: 'text',
    sync_token: 'text',
    qbo_last_updated_time: 'text',
    qbo_updated_at: 'timestamptz',
    synced_snapshot: 'jsonb',
  };
  const names = Object.keys(columns);
  await sql`
    INSERT INTO qbo_links (tenant_id, realm_id, entity_type, ${sql.join(names.map((name) => sql.id(name)))})
    SELECT ${realm.tenantId}, ${realm.realmId}, ${entity}, ${sql.join(names.map((name) => sql.ref(`r.${name}`)))}
    FROM ${recordset(rows, columns)}
    ON CONFLICT (tenant_id, realm_id, entity_type, qbo_id) DO UPDATE SET
      ${sql.join(names.slice(1).map((name) => sql`${sql.id(name)} = ${sql.ref(`excluded.${name}`)}`))}`.execute(db);
}

/** Records the version applied to links whose target does not change (a merged-away customer's, R21). */
export async function saveLinkVersions(
  db: Executor,
  realm: RealmKey,
  entity: QboEntityType,
  versions: ReadonlyArray<Pick<LinkWrite, 'qboId' | 'version'>>,
  now: Date,
): Promise<void> {
  for (const { qboId, version } of versions) {
    await db
      .updateTable('qbo_links')
      .set(versionColumns(version, now))
      .where('tenant_id', '=', realm.tenantId)
      .where('realm_id', '=', realm.realmId)
      .where('entity_type', '=', entity)
      .where('qbo_id', '=', qboId)
      .execute();
  }
}

/**
 * Makes the sync forget which version of these records it applied, so that the next write of each
 * rewrites its CRM row even at the same version: a full reconcile re-applies what differs (R21).
 */
export async function forgetAppliedVersions(
  db: Executor,
  realm: RealmKey,
  entity: QboEntityType,
  qboIds: readonly string[],
): Promise<void> {
  if (qboIds.length === 0) return;
  await db
    .updateTable('qbo_links')
    .set({ qbo_updated_at: new Date(0), sync_token: '-1' })
    .where('tenant_id', '=', realm.tenantId)
    .where('realm_id', '=', realm.realmId)
    .where('entity_type', '=', entity)
    .where(sql<boolean>`qbo_id = ANY(${[...qboIds]}::text[])`)
    .execute();
}

/**
 * Of these customers, those whose account a CRM user changed and whose push is still open (an
 * outbox row pending or refused): in two-way mode, edits on their way to QBO, not differences.
 */
export async function customersEditedInCrm(
  db: Executor,
  realm: RealmKey,
  qboIds: readonly string[],
): Promise<Set<string>> {
  if (qboIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('qbo_links')
    .innerJoin('crm_outbox', (join) =>
      join
        .onRef('crm_outbox.account_id', '=', 'qbo_links.account_id')
        .onRef('crm_outbox.tenant_id', '=', 'qbo_links.tenant_id')
        .on('crm_outbox.state', 'in', ['pending', 'blocked']),
    )
    .select('qbo_links.qbo_id')
    .where('qbo_links.tenant_id', '=', realm.tenantId)
    .where('qbo_links.realm_id', '=', realm.realmId)
    .where('qbo_links.entity_type', '=', 'Customer')
    .where(sql<boolean>`qbo_links.qbo_id = ANY(${[...qboIds]}::text[])`)
    .execute();
  return new Set(rows.map((row) => row.qbo_id));
}

export interface LinkedDocument {
  readonly qboId: string;
  /** The document's TxnDate, YYYY-MM-DD. */
  readonly txnDate: string;
}

/** The QBO documents of one type that the CRM holds as live opportunities. */
export async function listLinkedDocuments(
  db: Executor,
  key: { readonly tenantId: string; readonly realmId: string },
  entity: QboEntityType,
): Promise<LinkedDocument[]> {
  const rows = await db
    .selectFrom('qbo_links')
    .innerJoin('opportunities', 'opportunities.id', 'qbo_links.opportunity_id')
    .select(['qbo_links.qbo_id', 'opportunities.txn_date'])
    .where('qbo_links.tenant_id', '=', key.tenantId)
    .where('qbo_links.realm_id', '=', key.realmId)
    .where('qbo_links.entity_type', '=', entity)
    .where('opportunities.deleted_at', 'is', null)
    .execute();
  return rows.map((row) => ({ qboId: row.qbo_id, txnDate: isoDate(row.txn_date) }));
}

const verifiedLinkColumns = [
  'entity_type',
  'qbo_id',
  'account_id',
  'opportunity_id',
  'product_id',
  'revenue_category_id',
  'parent_qbo_id',
  'merged_into_qbo_id',
  'sync_token',
] as const;

/** The links of these QBO records of one entity (in the tenant's company), for verify. */
export async function listLinksOf(
  db: Kysely<Database>,
  realm: RealmKey,
  entity: QboEntityType,
  qboIds: readonly string[],
) {
  if (qboIds.length === 0) return [];
  return db
    .selectFrom('qbo_links')
    .select(verifiedLinkColumns)
    .where('tenant_id', '=', realm.tenantId)
    .where('realm_id', '=', realm.realmId)
    .where('entity_type', '=', entity)
    .where(sql<boolean>`qbo_id = ANY(${[...new Set(qboIds)]}::text[])`)
    .execute();
}

/**
 * One entity's links in the tenant's company, by QBO id after `afterQboId`, `limit` at a time: verify
 * walks them to find the CRM rows QBO no longer holds without loading them all at once.
 */
export async function listLinksAfter(
  db: Kysely<Database>,
  realm: RealmKey,
  entity: QboEntityType,
  afterQboId: string | null,
  limit: number,
) {
  let query = db
    .selectFrom('qbo_links')
    .select(['qbo_id', 'opportunity_id'])
    .where('tenant_id', '=', realm.tenantId)
    .where('realm_id', '=', realm.realmId)
    .where('entity_type', '=', entity);
  if (afterQboId !== null) query = query.where('qbo_id', '>', afterQboId);
  return query.orderBy('qbo_id').limit(limit).execute();
}

/** Links the tenant holds to records of any other QuickBooks company than the one it is connected to. */
export async function listLinksOutsideRealm(db: Kysely<Database>, tenantId: string, realmId: string) {
  return db
    .selectFrom('qbo_links')
    .select(['entity_type', 'qbo_id', 'realm_id'])
    .where('tenant_id', '=', tenantId)
    .where('realm_id', '!=', realmId)
    .execute();
}

/** The links of these accounts' own QuickBooks customers (not of sub-customers rolled up onto them), by account id. */
export async function findCustomerLinksOfAccounts(
  db: Executor,
  realm: RealmKey,
  accountIds: readonly number[],
): Promise<Map<number, QboLink>> {
  if (accountIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('qbo_links')
    .selectAll()
    .where('tenant_id', '=', realm.tenantId)
    .where('realm_id', '=', realm.realmId)
    .where('entity_type', '=', 'Customer')
    .where(sql<boolean>`account_id = ANY(${[...accountIds]}::int8[])`)
    .where('parent_qbo_id', 'is', null)
    // A customer merged away in QBO names the survivor's account but is not its customer (R21).
    .where('merged_into_qbo_id', 'is', null)
    .execute();
  return new Map(rows.map((row) => [row.account_id as number, row]));
}

/** Replaces a customer link's snapshot (the two-way merge's base) and nothing else. */
export async function saveCustomerSnapshot(
  db: Executor,
  realm: RealmKey,
  qboId: string,
  snapshot: unknown,
): Promise<void> {
  await db
    .updateTable('qbo_links')
    .set({ synced_snapshot: JSON.stringify(snapshot) })
    .where('tenant_id', '=', realm.tenantId)
    .where('realm_id', '=', realm.realmId)
    .where('entity_type', '=', 'Customer')
    .where('qbo_id', '=', qboId)
    .execute();
}
