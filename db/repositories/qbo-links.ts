import { sql, type Kysely, type Selectable } from 'kysely';
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
  const ids = [...new Set(qboIds)];
  if (ids.length === 0) return new Map();
  const query = db
    .selectFrom('qbo_links')
    .selectAll()
    .where('tenant_id', '=', realm.tenantId)
    .where('realm_id', '=', realm.realmId)
    .where('entity_type', '=', entity)
    .where(sql<boolean>`qbo_id = ANY(${ids}::text[])`);
  const rows = await (options.lock ? query.forUpdate() : query).execute();
  return new Map(rows.map((row) => [row.qbo_id, row]));
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
  const rows = links.map((link) => {
    const lastUpdated = link.version.lastUpdatedTime ?? now.toISOString();
    const at = Date.parse(lastUpdated);
    return {
      qbo_id: link.qboId,
      account_id: link.target.account_id ?? null,
      opportunity_id: link.target.opportunity_id ?? null,
      product_id: link.target.product_id ?? null,
      revenue_category_id: link.target.revenue_category_id ?? null,
      parent_qbo_id: link.parentQboId ?? null,
      sync_token: link.version.syncToken ?? '0',
      qbo_last_updated_time: lastUpdated,
      qbo_updated_at: new Date(Number.isNaN(at) ? now.getTime() : at),
      synced_snapshot: link.snapshot ?? {},
    };
  });
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

/** Every link between the tenant's QBO records (in that company) and its CRM rows. */
export async function listTenantLinks(db: Kysely<Database>, tenantId: string, realmId: string) {
  return db
    .selectFrom('qbo_links')
    .select([
      'entity_type',
      'qbo_id',
      'account_id',
      'opportunity_id',
      'product_id',
      'revenue_category_id',
      'parent_qbo_id',
      'sync_token',
    ])
    .where('tenant_id', '=', tenantId)
    .where('realm_id', '=', realmId)
    .execute();
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

/** The link of an account's own QuickBooks customer (not of a sub-customer rolled up onto it). */
export async function findCustomerLinkOfAccount(
  db: Executor,
  realm: RealmKey,
  accountId: number,
): Promise<QboLink | undefined> {
  return db
    .selectFrom('qbo_links')
    .selectAll()
    .where('tenant_id', '=', realm.tenantId)
    .where('realm_id', '=', realm.realmId)
    .where('entity_type', '=', 'Customer')
    .where('account_id', '=', accountId)
    .where('parent_qbo_id', 'is', null)
    .executeTakeFirst();
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
