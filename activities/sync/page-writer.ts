import { log } from '@temporalio/activity';
import { sql, type Transaction } from 'kysely';
import type { SyncedEntity } from '../../common/sync-types.js';
import type { Database } from '../../db/schema.js';
import { mapCustomer, type AccountRecord } from '../mapping/customer.js';
import { writeAccountsBulk, writeOpportunitiesBulk } from './bulk-writer.js';
import { isMappingError } from '../mapping/errors.js';
import { mapItem } from '../mapping/item.js';
import type { Language } from '../mapping/stages.js';
import { mapSalesDocument, type OpportunityRecord } from '../mapping/sales-document.js';
import type { QboRecord } from '../qbo/qbo-client.js';
import {
  markOpportunityDeleted,
  writeAccount,
  writeCategory,
  writeOpportunity,
  writeProduct,
  writeSubCustomer,
  type WriterContext,
} from './crm-writer.js';

export interface TenantSettings extends WriterContext {
  readonly startDate: string;
  readonly syncLanguage: Language;
  readonly defaultLanguage: Language;
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

const maxReferenceDepth = 6;

/**
 * Maps and writes one batch of raw QBO records of one entity, in the caller's transaction. A record
 * that fails to map or to write goes to the error table with its QBO id, inside its own savepoint,
 * so the rest of the page lands. References are kept whole: a document's customer (or a
 * sub-customer's parent, or a product's category) that the CRM lacks is fetched and written first,
 * whatever its own LastUpdatedTime.
 */
export async function writeRecords(
  trx: Trx,
  settings: TenantSettings,
  entity: SyncedEntity,
  records: readonly QboRecord[],
  fetchReferences: ReferenceFetcher,
  now: Date,
  counts: PageCounts = emptyCounts(),
  depth = 0,
): Promise<PageCounts> {
  const live = records.filter((record) => record['status'] !== 'Deleted');
  for (const stub of records.filter((record) => record['status'] === 'Deleted')) {
    const outcome = await markOpportunityDeleted(trx, settings, entity, stub.Id, now);
    if (outcome === 'written') counts.deleted += 1;
    else counts.unchanged += 1;
  }
  if (entity === 'Item') {
    // Categories before products, so a product finds its category in the same page.
    const ordered = [...live].sort((a, b) => Number(b['Type'] === 'Category') - Number(a['Type'] === 'Category'));
    const missingParents = new Set<string>();
    for (const record of ordered) {
      await guarded(trx, settings, entity, record, counts, now, async () => {
        const mapped = mapItem(record);
        if (mapped.kind === 'category') return writeCategory(trx, settings, mapped.category, now);
        const parent = mapped.product.parentQboId;
        if (parent && depth < maxReferenceDepth && !(await linked(trx, settings, 'Item', parent)))
          missingParents.add(parent);
        return writeProduct(trx, settings, mapped.product, now);
      });
    }
    if (missingParents.size > 0) {
      const parents = await fetchReferences('Item', [...missingParents]);
      await writeRecords(trx, settings, 'Item', parents, fetchReferences, now, emptyCounts(), depth + 1);
      // Write the products again now that their categories exist (their versions are equal: force by relinking).
      for (const record of ordered.filter((r) =>
        missingParents.has(String((r['ParentRef'] as { value?: unknown })?.['value'] ?? '')),
      )) {
        await guarded(trx, settings, entity, record, emptyCounts(), now, async () => {
          const mapped = mapItem(record);
          if (mapped.kind !== 'product') return 'unchanged';
          await relinkProductCategory(trx, settings, mapped.product.qboId, mapped.product.parentQboId);
          return 'unchanged';
        });
      }
    }
    return counts;
  }
  if (entity === 'Customer') {
    const waiting: QboRecord[] = [];
    const accounts: Array<{ record: QboRecord; account: AccountRecord }> = [];
    const subCustomers: QboRecord[] = [];
    for (const record of live) {
      const mapped = await mapOrRecordFailure(trx, settings, entity, record, counts, now, () =>
        mapCustomer(record, { defaultLanguage: settings.defaultLanguage }),
      );
      if (!mapped) continue;
      if (mapped.kind === 'account') accounts.push({ record, account: mapped.account });
      else subCustomers.push(record);
    }
    const bulk = await inSavepoint(trx, () =>
      writeAccountsBulk(
        trx,
        settings,
        accounts.map((a) => a.account),
        now,
      ),
    );
    if (bulk) await settleBulk(trx, settings, entity, bulk, counts, now);
    else {
      // Something in the batch broke a constraint: write one by one to find and isolate it.
      for (const { record, account } of accounts) {
        await guarded(trx, settings, entity, record, counts, now, () => writeAccount(trx, settings, account, now));
      }
    }
    for (const record of subCustomers) {
      await guarded(trx, settings, entity, record, counts, now, async () => {
        const mapped = mapCustomer(record, { defaultLanguage: settings.defaultLanguage });
        if (mapped.kind !== 'subCustomer') return 'unchanged';
        const outcome = await writeSubCustomer(trx, settings, mapped.subCustomer, now);
        if (outcome === 'missing-parent') {
          waiting.push(record);
          return 'deferred';
        }
        return outcome;
      });
    }
    if (waiting.length > 0 && depth < maxReferenceDepth) {
      const parentIds = waiting.map((record) => String((record['ParentRef'] as { value?: unknown })?.['value'] ?? ''));
      const parents = await fetchReferences(
        'Customer',
        [...new Set(parentIds)].filter((id) => id !== ''),
      );
      await writeRecords(trx, settings, 'Customer', parents, fetchReferences, now, emptyCounts(), depth + 1);
      await writeRecords(trx, settings, 'Customer', waiting, fetchReferences, now, counts, depth + 1);
    } else {
      for (const record of waiting) {
        await recordFailure(
          trx,
          settings,
          entity,
          record.Id,
          'ParentRef',
          'parent customer not found in QuickBooks',
          now,
          counts,
        );
      }
    }
    return counts;
  }
  // Sales documents: estimates, invoices, credit notes, sales receipts (R9: QBO → CRM only).
  const documents: Array<{ record: QboRecord; opportunity: OpportunityRecord }> = [];
  for (const record of live) {
    const opportunity = await mapOrRecordFailure(trx, settings, entity, record, counts, now, () =>
      mapSalesDocument(entity, record, { language: settings.syncLanguage }),
    );
    if (!opportunity) continue;
    if (opportunity.txnDate < settings.startDate) counts.skipped += 1;
    else documents.push({ record, opportunity });
  }
  await writeDocuments(documents, true);
  return counts;

  function customerNotSynced(record: QboRecord, opportunity: OpportunityRecord) {
    return recordFailure(
      trx,
      settings,
      entity,
      record.Id,
      'CustomerRef',
      `customer ${opportunity.customerQboId} is not synced: missing in QuickBooks, or it failed to map (see its own error)`,
      now,
      counts,
    );
  }

  async function writeDocuments(
    batch: Array<{ record: QboRecord; opportunity: OpportunityRecord }>,
    fetchMissing: boolean,
  ) {
    if (batch.length === 0) return;
    const bulk = await inSavepoint(trx, () =>
      writeOpportunitiesBulk(
        trx,
        settings,
        batch.map((d) => d.opportunity),
        now,
      ),
    );
    if (!bulk) {
      for (const { record, opportunity } of batch) {
        await guarded(trx, settings, entity, record, counts, now, async () => {
          const outcome = await writeOpportunity(trx, settings, opportunity, now);
          if (outcome === 'missing-customer') {
            await customerNotSynced(record, opportunity);
            return 'deferred';
          }
          return outcome;
        });
      }
      return;
    }
    await settleBulk(trx, settings, entity, bulk, counts, now);
    if (bulk.missingCustomer.length === 0) return;
    const missing = new Set(bulk.missingCustomer.map((o) => o.qboId));
    const retry = batch.filter((d) => missing.has(d.opportunity.qboId));
    if (fetchMissing && depth < maxReferenceDepth) {
      // A customer that a synced document refers to is synced whatever its own LastUpdatedTime.
      const customerIds = [...new Set(retry.map(({ opportunity }) => opportunity.customerQboId))];
      const customers = await fetchReferences('Customer', customerIds);
      await writeRecords(trx, settings, 'Customer', customers, fetchReferences, now, emptyCounts(), depth + 1);
      await writeDocuments(retry, false);
      return;
    }
    for (const { record, opportunity } of retry) {
      await customerNotSynced(record, opportunity);
    }
  }
}

/** Maps one record; a mapping failure is recorded against the record and yields undefined. */
async function mapOrRecordFailure<T>(
  trx: Trx,
  settings: TenantSettings,
  entity: SyncedEntity,
  record: QboRecord,
  counts: PageCounts,
  now: Date,
  map: () => T,
): Promise<T | undefined> {
  try {
    return map();
  } catch (error) {
    if (!isMappingError(error)) throw error;
    await recordFailure(trx, settings, entity, record.Id, error.field, error.problem, now, counts, 'MappingError');
    return undefined;
  }
}

/** Runs a set-based write in a savepoint; undefined when it failed (the caller goes record by record). */
async function inSavepoint<T>(trx: Trx, write: () => Promise<T>): Promise<T | undefined> {
  await sql`SAVEPOINT bulk_write`.execute(trx);
  try {
    const result = await write();
    await sql`RELEASE SAVEPOINT bulk_write`.execute(trx);
    return result;
  } catch (error) {
    log.warn('set-based page write failed; writing record by record', { error: String(error).slice(0, 300) });
    await sql`ROLLBACK TO SAVEPOINT bulk_write`.execute(trx);
    await sql`RELEASE SAVEPOINT bulk_write`.execute(trx);
    return undefined;
  }
}

/** Counts a set-based write's records and closes the errors of those that now went through. */
async function settleBulk(
  trx: Trx,
  settings: TenantSettings,
  entity: SyncedEntity,
  bulk: { readonly written: readonly string[]; readonly unchanged: readonly string[] },
  counts: PageCounts,
  now: Date,
) {
  counts.written += bulk.written.length;
  counts.unchanged += bulk.unchanged.length;
  await resolveErrorsFor(trx, settings, entity, [...bulk.written, ...bulk.unchanged], now);
}

async function resolveErrorsFor(
  trx: Trx,
  settings: TenantSettings,
  entity: SyncedEntity,
  qboIds: readonly string[],
  now: Date,
) {
  if (qboIds.length === 0) return;
  await sql`
    UPDATE sync_errors SET resolved_at = ${now}
    WHERE tenant_id = ${settings.tenantId} AND realm_id = ${settings.realmId} AND entity_type = ${entity}
      AND qbo_id = ANY(${qboIds as string[]}::text[]) AND resolved_at IS NULL`.execute(trx);
}

type Outcome = 'written' | 'unchanged' | 'skipped' | 'deferred';

/** Runs one record's write in a savepoint; a failure is recorded against the record, not the page. */
async function guarded(
  trx: Trx,
  settings: TenantSettings,
  entity: SyncedEntity,
  record: QboRecord,
  counts: PageCounts,
  now: Date,
  write: () => Promise<Outcome>,
): Promise<void> {
  await sql`SAVEPOINT record_write`.execute(trx);
  try {
    const outcome = await write();
    await sql`RELEASE SAVEPOINT record_write`.execute(trx);
    if (outcome === 'written') counts.written += 1;
    else if (outcome === 'unchanged') counts.unchanged += 1;
    else if (outcome === 'skipped') counts.skipped += 1;
    if (outcome === 'written' || outcome === 'unchanged') await resolveErrors(trx, settings, entity, record.Id, now);
  } catch (error) {
    await sql`ROLLBACK TO SAVEPOINT record_write`.execute(trx);
    await sql`RELEASE SAVEPOINT record_write`.execute(trx);
    if (isMappingError(error)) {
      await recordFailure(trx, settings, entity, record.Id, error.field, error.problem, now, counts, 'MappingError');
    } else {
      const message = error instanceof Error ? error.message : String(error);
      await recordFailure(trx, settings, entity, record.Id, null, message, now, counts, 'WriteError');
    }
  }
}

async function recordFailure(
  trx: Trx,
  settings: TenantSettings,
  entity: SyncedEntity,
  qboId: string,
  field: string | null,
  message: string,
  now: Date,
  counts: PageCounts,
  errorType = 'MissingReference',
): Promise<void> {
  counts.failed += 1;
  await sql`
    INSERT INTO sync_errors (tenant_id, realm_id, entity_type, qbo_id, error_type, field, message, first_seen_at, last_seen_at)
    VALUES (${settings.tenantId}, ${settings.realmId}, ${entity}, ${qboId}, ${errorType}, ${field}, ${message.slice(0, 2000)}, ${now}, ${now})
    ON CONFLICT (tenant_id, realm_id, entity_type, qbo_id, error_type) WHERE resolved_at IS NULL
    DO UPDATE SET occurrences = sync_errors.occurrences + 1, last_seen_at = EXCLUDED.last_seen_at,
                  field = EXCLUDED.field, message = EXCLUDED.message`.execute(trx);
}

async function resolveErrors(trx: Trx, settings: TenantSettings, entity: SyncedEntity, qboId: string, now: Date) {
  await trx
    .updateTable('sync_errors')
    .set({ resolved_at: now })
    .where('tenant_id', '=', settings.tenantId)
    .where('realm_id', '=', settings.realmId)
    .where('entity_type', '=', entity)
    .where('qbo_id', '=', qboId)
    .where('resolved_at', 'is', null)
    .execute();
}

async function linked(
  trx: Trx,
  settings: TenantSettings,
  entity: 'Item' | 'Customer',
  qboId: string,
): Promise<boolean> {
  const row = await trx
    .selectFrom('qbo_links')
    .select('qbo_id')
    .where('tenant_id', '=', settings.tenantId)
    .where('realm_id', '=', settings.realmId)
    .where('entity_type', '=', entity)
    .where('qbo_id', '=', qboId)
    .executeTakeFirst();
  return row !== undefined;
}

async function relinkProductCategory(
  trx: Trx,
  settings: TenantSettings,
  productQboId: string,
  categoryQboId: string | null,
) {
  if (categoryQboId === null) return;
  await sql`
    UPDATE products p SET revenue_category_id = c.revenue_category_id
    FROM qbo_links pl, qbo_links c
    WHERE pl.tenant_id = ${settings.tenantId} AND pl.realm_id = ${settings.realmId} AND pl.entity_type = 'Item'
      AND pl.qbo_id = ${productQboId} AND p.id = pl.product_id
      AND c.tenant_id = pl.tenant_id AND c.realm_id = pl.realm_id AND c.entity_type = 'Item'
      AND c.qbo_id = ${categoryQboId} AND c.revenue_category_id IS NOT NULL`.execute(trx);
}
