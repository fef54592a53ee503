import type { Kysely } from 'kysely';
import { syncedEntities, type SyncedEntity } from '../../common/sync-types.js';
import { mapCustomer } from '../mapping/customer.js';
import { isMappingError, type MappingError } from '../mapping/errors.js';
import { mapItem } from '../mapping/item.js';
import { moneyText } from '../mapping/money.js';
import { mapSalesDocument } from '../mapping/sales-document.js';
import type { QboClient, QboRecord } from '../qbo/qbo-client.js';
import { maxPageSize, type QboCondition } from '../qbo/qbo-query.js';
import {
  deletedOpportunityIds,
  listAccountsNotInQuickbooks,
  loadSyncedCrmRows,
  type SyncedRowIds,
} from '../../db/repositories/crm-records.js';
import { listLinksAfter, listLinksOf, listLinksOutsideRealm } from '../../db/repositories/qbo-links.js';
import { isoDate } from '../../db/dates.js';
import { openErrorKeys } from '../../db/repositories/sync-errors.js';
import { findVerifyScope } from '../../db/repositories/tenants.js';
import type { Database } from '../../db/schema.js';

/**
 * `qbsync verify` and the full reconcile (R21): compares a tenant's QuickBooks company, read through the normal API, with what
 * the CRM holds, on the fields that sync. Counts per entity first, then every record by id and
 * content. Reads by offset (ORDERBY Id), so it is meant for a company that is not being edited at
 * the same moment; a difference caused by an edit in flight shows up and clears on the next run.
 */
export interface VerifyDifference {
  readonly entity: SyncedEntity;
  /** The QBO id; for an account of the QuickBooks list that QuickBooks lacks, `account <CRM id>`. */
  readonly qboId: string;
  readonly kind: 'missing' | 'extra' | 'different' | 'failed';
  /**
   * For `different`: the fields that differ; for `failed`, the field the mapping refused, when that
   * is why. Names only, never values: the output may be shared.
   */
  readonly fields: readonly string[];
}

export interface VerifyReport {
  /**
   * Records QBO holds that the sync could not write: each has an open entry in the error table, or
   * its current version does not map (the sync will record it when it reads that version).
   */
  readonly failed: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
  readonly counts: Record<SyncedEntity, { readonly qbo: number; readonly crm: number }>;
  readonly records: VerifyDifference[];
}

interface TenantScope {
  readonly tenantId: string;
  readonly realmId: string;
  readonly startDate: string;
  readonly language: 'fr' | 'en';
}

/** QBO's records of an entity, a page at a time, in Id order. */
async function* qboPages(
  client: QboClient,
  entity: SyncedEntity,
  where: QboCondition[],
  pageSize: number,
): AsyncGenerator<QboRecord[]> {
  for (let start = 1; ; start += pageSize) {
    const page = await client.query({
      entity,
      where,
      orderBy: { field: 'Id', direction: 'ASC' },
      startPosition: start,
      maxResults: pageSize,
    });
    yield page.records;
    // A damaged record still takes its place in the page: only a short page is the last.
    if (page.records.length + page.damaged.length < pageSize) return;
  }
}

/** The QBO id a record's reference names (a document's customer, a sub-customer's parent), if any. */
function refOf(record: QboRecord, field: 'CustomerRef' | 'ParentRef'): string | undefined {
  return (record[field] as { value?: string } | undefined)?.value || undefined;
}

const transactionEntities = ['Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt'] as const;

export interface VerifyOptions {
  /** QBO records read, and compared, at a time: at most QBO's 1,000 (the default). */
  readonly pageSize?: number;
  /** Links read at a time when looking for CRM rows QBO no longer holds (default 10,000). */
  readonly linksPerRead?: number;
}

/** A customer as verify keeps it until it knows which customers are in scope: a few fields, not the record. */
interface CustomerSeen {
  /** Changed since the start date (R2). */
  readonly changedInScope: boolean;
  readonly parentQboId: string | undefined;
  /** What comparing it found; undefined when it matches. */
  readonly difference: VerifyDifference | undefined;
}

/**
 * Compares a page at a time, so that memory follows the page, not the company: QBO's records of the
 * page, their links and CRM rows. What is kept across pages is the QBO ids seen (to find the CRM
 * rows QBO no longer holds) and, for customers, which are in scope.
 */
export async function verifyTenant(
  db: Kysely<Database>,
  client: QboClient,
  tenantId: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const pageSize = options.pageSize ?? maxPageSize;
  const linksPerRead = options.linksPerRead ?? 10_000;
  const tenant = await findVerifyScope(db, tenantId);
  const scope: TenantScope = {
    tenantId,
    realmId: tenant.realm_id,
    startDate: isoDate(tenant.start_date),
    language: tenant.sync_language,
  };
  const realm = { tenantId, realmId: scope.realmId };
  const startsAt = Date.parse(`${scope.startDate}T00:00:00Z`);
  const counts = Object.fromEntries(syncedEntities.map((e) => [e, { qbo: 0, crm: 0 }])) as Record<
    SyncedEntity,
    { qbo: number; crm: number }
  >;
  const found = Object.fromEntries(syncedEntities.map((e) => [e, [] as VerifyDifference[]])) as Record<
    SyncedEntity,
    VerifyDifference[]
  >;
  const openErrors = await openErrorKeys(db, tenantId);
  const deletedOpportunities = await deletedOpportunityIds(db, tenantId);

  /** Compares one page of an entity's records; says what differs for each record that does not match. */
  const comparePage = async (entity: SyncedEntity, records: readonly QboRecord[]) => {
    const links = await listLinksOf(
      db,
      realm,
      entity,
      records.map((record) => record.Id),
    );
    const linkOf = new Map(links.map((link) => [`${entity}:${link.qbo_id}`, link]));
    // The customers the page's documents name, and the survivors of merged customers (R21).
    const customerIds = records.flatMap((record) => refOf(record, 'CustomerRef') ?? []);
    const survivorIds = links.flatMap((link) => (link.merged_into_qbo_id ? [link.merged_into_qbo_id] : []));
    for (const link of await listLinksOf(db, realm, 'Customer', [...customerIds, ...survivorIds])) {
      linkOf.set(`Customer:${link.qbo_id}`, link);
    }
    const targets = (column: 'account_id' | 'revenue_category_id' | 'product_id' | 'opportunity_id') =>
      [...linkOf.values()].flatMap((link) => (link[column] === null ? [] : [link[column]]));
    const crm = await loadCrmRows(db, tenantId, {
      accountIds: entity === 'Customer' ? targets('account_id') : [],
      categoryIds: targets('revenue_category_id'),
      productIds: targets('product_id'),
      opportunityIds: targets('opportunity_id'),
    });
    return records.map((record) => ({
      record,
      difference: compareRecord(crm, linkOf, entity, record, scope, openErrors, deletedOpportunities),
    }));
  };

  /** Walks the entity's links: counts the CRM's side, and finds those whose QBO record is not in scope. */
  const walkLinks = async (entity: SyncedEntity, inQbo: (qboId: string) => boolean) => {
    let after: string | null = null;
    for (;;) {
      const links = await listLinksAfter(db, realm, entity, after, linksPerRead);
      for (const link of links) {
        if (link.opportunity_id !== null && deletedOpportunities.has(link.opportunity_id)) continue;
        counts[entity].crm += 1;
        if (!inQbo(link.qbo_id)) found[entity].push({ entity, qboId: link.qbo_id, kind: 'extra', fields: [] });
      }
      if (links.length < linksPerRead) return;
      after = links[links.length - 1]!.qbo_id;
    }
  };

  // What QBO holds in scope: the whole catalogue, transactions from the start date (R2), customers
  // changed since the start date plus every customer such a transaction refers to.
  const referredCustomers = new Set<string>();
  const catalogue: Array<[SyncedEntity, QboCondition[]]> = [
    ['Item', [{ field: 'Active', op: 'IN', value: [true, false] }]],
    ...transactionEntities.map((entity): [SyncedEntity, QboCondition[]] => [
      entity,
      [{ field: 'TxnDate', op: '>=', value: scope.startDate }],
    ]),
  ];
  for (const [entity, where] of catalogue) {
    const seen = new Set<string>();
    const differences: VerifyDifference[] = [];
    for await (const records of qboPages(client, entity, where, pageSize)) {
      for (const { record, difference } of await comparePage(entity, records)) {
        seen.add(record.Id);
        if (difference) differences.push(difference);
        const customer = refOf(record, 'CustomerRef');
        if (customer) referredCustomers.add(customer);
      }
    }
    counts[entity].qbo = seen.size;
    await walkLinks(entity, (qboId) => seen.has(qboId));
    found[entity].push(...differences);
  }

  const customers = new Map<string, CustomerSeen>();
  for await (const records of qboPages(
    client,
    'Customer',
    [{ field: 'Active', op: 'IN', value: [true, false] }],
    pageSize,
  )) {
    for (const { record, difference } of await comparePage('Customer', records)) {
      const updated = String((record['MetaData'] as { LastUpdatedTime?: string } | undefined)?.LastUpdatedTime ?? '');
      customers.set(record.Id, {
        changedInScope: Date.parse(updated) >= startsAt,
        parentQboId: refOf(record, 'ParentRef'),
        difference,
      });
    }
  }
  const wanted = new Set<string>(referredCustomers);
  for (const [id, customer] of customers) if (customer.changedInScope) wanted.add(id);
  // Parents of wanted sub-customers are wanted too.
  for (let grew = true; grew;) {
    grew = false;
    for (const id of [...wanted]) {
      const parent = customers.get(id)?.parentQboId;
      if (parent && !wanted.has(parent)) {
        wanted.add(parent);
        grew = true;
      }
    }
  }
  const customersInScope = (qboId: string) => wanted.has(qboId) && customers.has(qboId);
  await walkLinks('Customer', customersInScope);
  for (const [id, customer] of customers) {
    if (!customersInScope(id)) continue;
    counts.Customer.qbo += 1;
    if (customer.difference) found.Customer.push(customer.difference);
  }

  const records = syncedEntities.flatMap((entity) => found[entity]);
  // CRM → QBO (R7, R15), two-way only: an account of the QuickBooks list must be a customer in
  // QuickBooks. One QuickBooks refused is known (an open conflict says why); any other is extra
  // until pushed.
  const crmToQbo = tenant.sync_mode === 'two_way' ? await listAccountsNotInQuickbooks(db, tenantId) : [];
  for (const account of crmToQbo) {
    records.push({
      entity: 'Customer',
      qboId: `account ${account.id}`,
      kind: account.refused ? 'failed' : 'extra',
      fields: ['not in QuickBooks'],
    });
  }
  // CRM rows brought in from another company are extra whatever that company holds: the tenant
  // is connected to this one, and its rows must come from it alone.
  for (const link of await listLinksOutsideRealm(db, tenantId, scope.realmId)) {
    records.push({ entity: link.entity_type, qboId: link.qbo_id, kind: 'extra', fields: [`realm ${link.realm_id}`] });
  }
  return {
    failed: records.filter((r) => r.kind === 'failed').length,
    missing: records.filter((r) => r.kind === 'missing').length,
    extra: records.filter((r) => r.kind === 'extra').length,
    different: records.filter((r) => r.kind === 'different').length,
    counts,
    records,
  };
}

type VerifiedLink = Awaited<ReturnType<typeof listLinksOf>>[number];

/** What comparing one QBO record with the CRM finds, or undefined when they match. */
function compareRecord(
  crm: CrmRows,
  linkOf: ReadonlyMap<string, VerifiedLink>,
  entity: SyncedEntity,
  record: QboRecord,
  scope: TenantScope,
  openErrors: ReadonlySet<string>,
  deletedOpportunities: ReadonlySet<number>,
): VerifyDifference | undefined {
  const id = record.Id;
  const link = linkOf.get(`${entity}:${id}`);
  if (!link || (link.opportunity_id !== null && deletedOpportunities.has(link.opportunity_id))) {
    // Records the sync could not write are in the error table, with the reason: known, not lost.
    const refused = mappingFailure(entity, record, scope);
    if (openErrors.has(`${entity}:${id}`) || refused) {
      return { entity, qboId: id, kind: 'failed', fields: refused ? [refused.field] : [] };
    }
    return { entity, qboId: id, kind: 'missing', fields: [] };
  }
  let fields: string[];
  try {
    fields = compare(crm, linkOf, entity, record, link, scope);
  } catch (error) {
    // QBO's current version of a synced record no longer maps: the sync cannot write it either.
    if (!isMappingError(error)) throw error;
    return { entity, qboId: id, kind: 'failed', fields: [error.field] };
  }
  if (fields.length === 0) return undefined;
  // A later version that could not be written is in the error table: known, not lost.
  return { entity, qboId: id, kind: openErrors.has(`${entity}:${id}`) ? 'failed' : 'different', fields };
}

/** These CRM rows, arranged for comparing: by id, and each opportunity's lines. */
async function loadCrmRows(db: Kysely<Database>, tenantId: string, ids: SyncedRowIds) {
  const {
    accounts,
    primaryContacts: contacts,
    categories,
    products,
    opportunities,
    lines,
  } = await loadSyncedCrmRows(db, tenantId, ids);
  const linesOf = new Map<number, typeof lines>();
  for (const line of lines) {
    const list = linesOf.get(line.opportunity_id);
    if (list) list.push(line);
    else linesOf.set(line.opportunity_id, [line]);
  }
  return {
    accounts: new Map(accounts.map((row) => [row.id, row])),
    primaryContacts: new Map(contacts.map((row) => [row.account_id!, row])),
    categories: new Map(categories.map((row) => [row.id, row])),
    products: new Map(products.map((row) => [row.id, row])),
    opportunities: new Map(opportunities.map((row) => [row.id, row])),
    linesOf,
  };
}

type CrmRows = Awaited<ReturnType<typeof loadCrmRows>>;

/** Why the record does not map, or undefined when it does. */
function mappingFailure(entity: SyncedEntity, record: QboRecord, scope: TenantScope): MappingError | undefined {
  try {
    if (entity === 'Customer') mapCustomer(record, { defaultLanguage: scope.language });
    else if (entity === 'Item') mapItem(record);
    else mapSalesDocument(entity, record, { language: scope.language });
    return undefined;
  } catch (error) {
    if (isMappingError(error)) return error;
    throw error;
  }
}

type Link = {
  sync_token: string;
  account_id: number | null;
  opportunity_id: number | null;
  product_id: number | null;
  revenue_category_id: number | null;
  parent_qbo_id: string | null;
  merged_into_qbo_id: string | null;
};

function compare(
  crm: CrmRows,
  linkOf: ReadonlyMap<string, Link>,
  entity: SyncedEntity,
  record: QboRecord,
  link: Link,
  scope: TenantScope,
): string[] {
  const differs: string[] = [];
  const check = (field: string, expected: unknown, actual: unknown) => {
    if (JSON.stringify(expected ?? null) !== JSON.stringify(actual ?? null)) differs.push(field);
  };
  // The version proves the latest edit arrived even when it touched no synced field (a bulk
  // import that only changes notes, say): the CRM must have applied QBO's current SyncToken.
  check('version', String(record['SyncToken'] ?? '0'), link.sync_token);
  if (entity === 'Customer' && link.merged_into_qbo_id !== null) {
    // R21: a customer merged away has no account of its own once repaired: it names the survivor's.
    check('mergedInto', linkOf.get(`Customer:${link.merged_into_qbo_id}`)?.account_id, link.account_id);
    return differs;
  }
  if (entity === 'Customer') {
    const mapped = mapCustomer(record, { defaultLanguage: scope.language });
    if (mapped.kind === 'subCustomer') {
      check('parent', mapped.subCustomer.parentQboId, link.parent_qbo_id);
      return differs;
    }
    const account = mapped.account;
    const row = link.account_id === null ? undefined : crm.accounts.get(link.account_id);
    if (!row) return [...differs, 'account'];
    check('companyName', account.companyName, row.company_name);
    check('website', account.website, row.website);
    check('active', account.active, row.active);
    check('address.lines', account.address.lines, row.address_lines);
    check('address.city', account.address.city, row.city);
    check('address.province', account.address.province, row.province);
    check('address.postalCode', account.address.postalCode, row.postal_code);
    check('address.country', account.address.country, row.country);
    const contact = crm.primaryContacts.get(row.id);
    const expected = account.primaryContact;
    if (expected || contact) {
      check('primaryContact.title', expected?.title, contact?.title);
      check('primaryContact.fullName', expected?.fullName, contact?.full_name);
      check('primaryContact.phone1', expected?.phone1, contact?.phone1);
      check('primaryContact.phone2', expected?.phone2, contact?.phone2);
      check('primaryContact.fax', expected?.fax, contact?.fax);
      check('primaryContact.mobile', expected?.mobile, contact?.mobile);
      check('primaryContact.email', expected?.email, contact?.email);
    }
    return differs;
  }
  if (entity === 'Item') {
    const mapped = mapItem(record);
    if (mapped.kind === 'category') {
      const row = link.revenue_category_id === null ? undefined : crm.categories.get(link.revenue_category_id);
      check('name', mapped.category.name, row?.name);
      check('active', mapped.category.active, row?.active);
    } else {
      const row = link.product_id === null ? undefined : crm.products.get(link.product_id);
      check('code', mapped.product.code, row?.code);
      check('active', mapped.product.active, row?.active);
    }
    return differs;
  }
  const mapped = mapSalesDocument(entity, record, { language: scope.language });
  const row = link.opportunity_id === null ? undefined : crm.opportunities.get(link.opportunity_id);
  if (!row) return [...differs, 'opportunity'];
  check('customer', linkOf.get(`Customer:${mapped.customerQboId}`)?.account_id, row.account_id);
  check('title', mapped.title, row.title);
  check('txnDate', mapped.txnDate, isoDate(row.txn_date));
  check('stage', mapped.stage, row.stage);
  check('probability', mapped.probability, Number(row.probability));
  check('shipping', moneyText(mapped.shipping), Number(row.shipping).toFixed(2));
  check('discount', moneyText(mapped.discount), Number(row.discount).toFixed(2));
  check('totalBeforeTax', moneyText(mapped.totalBeforeTax), Number(row.total_before_tax).toFixed(2));
  const lines = crm.linesOf.get(row.id) ?? [];
  check(
    'lines',
    mapped.lines.map((line) => [line.lineNumber, line.productCode, moneyText(line.amount)]),
    lines.map((line) => [line.line_number, line.product_code, Number(line.amount).toFixed(2)]),
  );
  return differs;
}
