import type { Transaction } from 'kysely';
import type { Database, QboEntityType } from '../../db/schema.js';
import type { AccountRecord, SubCustomerRecord } from '../mapping/customer.js';
import type { ProductRecord, RevenueCategoryRecord } from '../mapping/item.js';
import { moneyText } from '../mapping/money.js';
import type { OpportunityRecord } from '../mapping/sales-document.js';

/**
 * Writes mapped QBO records into the CRM, inside the caller's transaction (which the caller has
 * marked as the sync's, see db/crm-rules.ts asSync). Every write goes through the record's link
 * (tenant, realm, entity type, QBO id), so it is idempotent, and it never lets an older version of
 * a record overwrite a newer one: the link remembers the LastUpdatedTime and SyncToken applied.
 */
export interface WriterContext {
  readonly tenantId: string;
  readonly realmId: string;
  /** The tenant's protected QuickBooks list, which holds every synced account and contact (R14). */
  readonly quickbooksListId: number;
}

export type WriteOutcome = 'written' | 'unchanged';

type Trx = Transaction<Database>;

interface LinkVersion {
  readonly syncToken: string | null;
  readonly lastUpdatedTime: string | null;
}

type LinkRow = Awaited<ReturnType<typeof findLink>>;

export async function findLink(trx: Trx, ctx: WriterContext, entity: QboEntityType, qboId: string) {
  return trx
    .selectFrom('qbo_links')
    .selectAll()
    .where('tenant_id', '=', ctx.tenantId)
    .where('realm_id', '=', ctx.realmId)
    .where('entity_type', '=', entity)
    .where('qbo_id', '=', qboId)
    .forUpdate()
    .executeTakeFirst();
}

/** True when `incoming` is strictly newer than what the link last applied. */
export function isNewer(incoming: LinkVersion, applied: { sync_token: string; qbo_updated_at: Date }): boolean {
  if (incoming.lastUpdatedTime === null) return true;
  const incomingAt = Date.parse(incoming.lastUpdatedTime);
  const appliedAt = applied.qbo_updated_at.getTime();
  if (Number.isNaN(incomingAt)) return true;
  if (incomingAt !== appliedAt) return incomingAt > appliedAt;
  const incomingToken = Number(incoming.syncToken ?? Number.NaN);
  const appliedToken = Number(applied.sync_token);
  return Number.isFinite(incomingToken) && Number.isFinite(appliedToken) && incomingToken > appliedToken;
}

function versionColumns(version: LinkVersion, fallbackTime: Date) {
  const lastUpdated = version.lastUpdatedTime ?? fallbackTime.toISOString();
  return {
    sync_token: version.syncToken ?? '0',
    qbo_last_updated_time: lastUpdated,
    qbo_updated_at: new Date(Date.parse(lastUpdated) || fallbackTime.getTime()),
  };
}

/**
 * Writes a record's link, replacing one that pointed at another kind of row (an item that turned
 * from a product into a category, say).
 */
async function insertLink(
  trx: Trx,
  ctx: WriterContext,
  entity: QboEntityType,
  qboId: string,
  version: LinkVersion,
  target: { account_id?: number; opportunity_id?: number; product_id?: number; revenue_category_id?: number },
  extra: { parent_qbo_id?: string | null; synced_snapshot?: unknown } = {},
  now: Date,
): Promise<void> {
  await trx
    .insertInto('qbo_links')
    .values({
      tenant_id: ctx.tenantId,
      realm_id: ctx.realmId,
      entity_type: entity,
      qbo_id: qboId,
      account_id: target.account_id ?? null,
      opportunity_id: target.opportunity_id ?? null,
      product_id: target.product_id ?? null,
      revenue_category_id: target.revenue_category_id ?? null,
      parent_qbo_id: extra.parent_qbo_id ?? null,
      ...versionColumns(version, now),
      ...(extra.synced_snapshot !== undefined ? { synced_snapshot: JSON.stringify(extra.synced_snapshot) } : {}),
    })
    .onConflict((conflict) =>
      conflict.columns(['tenant_id', 'realm_id', 'entity_type', 'qbo_id']).doUpdateSet((eb) => ({
        account_id: eb.ref('excluded.account_id'),
        opportunity_id: eb.ref('excluded.opportunity_id'),
        product_id: eb.ref('excluded.product_id'),
        revenue_category_id: eb.ref('excluded.revenue_category_id'),
        parent_qbo_id: eb.ref('excluded.parent_qbo_id'),
        sync_token: eb.ref('excluded.sync_token'),
        qbo_last_updated_time: eb.ref('excluded.qbo_last_updated_time'),
        qbo_updated_at: eb.ref('excluded.qbo_updated_at'),
        synced_snapshot: eb.ref('excluded.synced_snapshot'),
      })),
    )
    .execute();
}

async function updateLinkVersion(
  trx: Trx,
  ctx: WriterContext,
  link: NonNullable<LinkRow>,
  version: LinkVersion,
  now: Date,
  extra: { account_id?: number; parent_qbo_id?: string | null; synced_snapshot?: unknown } = {},
) {
  await trx
    .updateTable('qbo_links')
    .set({
      ...versionColumns(version, now),
      ...(extra.account_id !== undefined ? { account_id: extra.account_id } : {}),
      ...(extra.parent_qbo_id !== undefined ? { parent_qbo_id: extra.parent_qbo_id } : {}),
      ...(extra.synced_snapshot !== undefined ? { synced_snapshot: JSON.stringify(extra.synced_snapshot) } : {}),
    })
    .where('tenant_id', '=', ctx.tenantId)
    .where('realm_id', '=', ctx.realmId)
    .where('entity_type', '=', link.entity_type)
    .where('qbo_id', '=', link.qbo_id)
    .execute();
}

/** The two-way fields as synced: the base the CRM→QBO direction merges against. */
export function customerSnapshot(account: AccountRecord) {
  return {
    companyName: account.companyName,
    website: account.website,
    address: account.address,
    primaryContact: account.primaryContact,
  };
}

export async function writeAccount(
  trx: Trx,
  ctx: WriterContext,
  account: AccountRecord,
  now: Date,
): Promise<WriteOutcome> {
  const link = await findLink(trx, ctx, 'Customer', account.qboId);
  if (link && !isNewer(account, link)) return 'unchanged';
  const fields = {
    company_name: account.companyName,
    website: account.website,
    address_lines: [...account.address.lines],
    city: account.address.city,
    province: account.address.province,
    postal_code: account.address.postalCode,
    country: account.address.country,
    active: account.active,
  };
  let accountId: number;
  if (link && link.account_id !== null && link.parent_qbo_id === null) {
    accountId = link.account_id;
    await trx
      .updateTable('accounts')
      .set(fields)
      .where('id', '=', accountId)
      .where('tenant_id', '=', ctx.tenantId)
      .execute();
  } else {
    // New, or a sub-customer promoted to a customer of its own: a fresh account (R4: default language).
    const inserted = await trx
      .insertInto('accounts')
      .values({ tenant_id: ctx.tenantId, language: account.languageForNewAccount, ...fields })
      .returning('id')
      .executeTakeFirstOrThrow();
    accountId = inserted.id;
    await trx
      .insertInto('list_members')
      .values({ tenant_id: ctx.tenantId, list_id: ctx.quickbooksListId, account_id: accountId })
      .execute();
  }
  await writePrimaryContact(trx, ctx, accountId, account);
  const snapshot = customerSnapshot(account);
  if (link)
    await updateLinkVersion(trx, ctx, link, account, now, {
      account_id: accountId,
      parent_qbo_id: null,
      synced_snapshot: snapshot,
    });
  else
    await insertLink(
      trx,
      ctx,
      'Customer',
      account.qboId,
      account,
      { account_id: accountId },
      { synced_snapshot: snapshot },
      now,
    );
  return 'written';
}

async function writePrimaryContact(
  trx: Trx,
  ctx: WriterContext,
  accountId: number,
  account: AccountRecord,
): Promise<void> {
  const contact = account.primaryContact;
  const primary = await trx
    .selectFrom('contacts')
    .select(['id'])
    .where('tenant_id', '=', ctx.tenantId)
    .where('account_id', '=', accountId)
    .where('is_primary', '=', true)
    .executeTakeFirst();
  const fields = {
    title: contact?.title ?? null,
    full_name: contact?.fullName ?? null,
    phone1: contact?.phone1 ?? null,
    phone2: contact?.phone2 ?? null,
    fax: contact?.fax ?? null,
    mobile: contact?.mobile ?? null,
    email: contact?.email ?? null,
  };
  if (primary) {
    // R16: the synced contact is the account's oldest; QBO's person fields land on it.
    await trx.updateTable('contacts').set(fields).where('id', '=', primary.id).execute();
    return;
  }
  if (contact === null) return;
  const inserted = await trx
    .insertInto('contacts')
    .values({ tenant_id: ctx.tenantId, account_id: accountId, language: account.languageForNewAccount, ...fields })
    .returning('id')
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('list_members')
    .values({ tenant_id: ctx.tenantId, list_id: ctx.quickbooksListId, contact_id: inserted.id })
    .execute();
}

/**
 * A sub-customer is linked to its parent's account (see mapping/customer.ts). Returns 'missing-parent'
 * when the parent is not synced yet: the caller fetches it first.
 */
export async function writeSubCustomer(
  trx: Trx,
  ctx: WriterContext,
  sub: SubCustomerRecord,
  now: Date,
): Promise<WriteOutcome | 'missing-parent'> {
  const parent = await findLink(trx, ctx, 'Customer', sub.parentQboId);
  if (!parent || parent.account_id === null) return 'missing-parent';
  const link = await findLink(trx, ctx, 'Customer', sub.qboId);
  if (link && !isNewer(sub, link)) return 'unchanged';
  if (link) {
    await updateLinkVersion(trx, ctx, link, sub, now, {
      account_id: parent.account_id,
      parent_qbo_id: sub.parentQboId,
    });
  } else {
    await insertLink(
      trx,
      ctx,
      'Customer',
      sub.qboId,
      sub,
      { account_id: parent.account_id },
      { parent_qbo_id: sub.parentQboId },
      now,
    );
  }
  return 'written';
}

export async function writeCategory(
  trx: Trx,
  ctx: WriterContext,
  category: RevenueCategoryRecord,
  now: Date,
): Promise<WriteOutcome> {
  const link = await findLink(trx, ctx, 'Item', category.qboId);
  if (link && !isNewer(category, link)) return 'unchanged';
  // R22: a category made inactive in QBO is deactivated here, never deleted.
  const fields = { name: category.name, active: category.active };
  if (link && link.revenue_category_id !== null) {
    await trx.updateTable('revenue_categories').set(fields).where('id', '=', link.revenue_category_id).execute();
    await updateLinkVersion(trx, ctx, link, category, now);
  } else {
    const inserted = await trx
      .insertInto('revenue_categories')
      .values({ tenant_id: ctx.tenantId, ...fields })
      .returning('id')
      .executeTakeFirstOrThrow();
    await insertLink(trx, ctx, 'Item', category.qboId, category, { revenue_category_id: inserted.id }, {}, now);
  }
  return 'written';
}

export async function writeProduct(
  trx: Trx,
  ctx: WriterContext,
  product: ProductRecord,
  now: Date,
): Promise<WriteOutcome> {
  const link = await findLink(trx, ctx, 'Item', product.qboId);
  if (link && !isNewer(product, link)) return 'unchanged';
  const category = product.parentQboId ? await findLink(trx, ctx, 'Item', product.parentQboId) : undefined;
  const fields = {
    code: product.code,
    sku: product.sku,
    description: product.description,
    active: product.active,
    revenue_category_id: category?.revenue_category_id ?? null,
  };
  if (link && link.product_id !== null) {
    await trx.updateTable('products').set(fields).where('id', '=', link.product_id).execute();
    await updateLinkVersion(trx, ctx, link, product, now);
  } else {
    const inserted = await trx
      .insertInto('products')
      .values({ tenant_id: ctx.tenantId, ...fields })
      .returning('id')
      .executeTakeFirstOrThrow();
    await insertLink(trx, ctx, 'Item', product.qboId, product, { product_id: inserted.id }, {}, now);
  }
  return 'written';
}

/** The opportunity columns a synced document sets, shared by the per-record and set-based writers. */
export function opportunityColumns(opportunity: OpportunityRecord, accountId: number) {
  return {
    account_id: accountId,
    source_entity: opportunity.qboEntity,
    title: opportunity.title,
    txn_date: opportunity.txnDate,
    expected_close_date: opportunity.expirationDate,
    currency: opportunity.currency,
    stage: opportunity.stage,
    stage_label: opportunity.stageLabel,
    probability: opportunity.probability,
    shipping: moneyText(opportunity.shipping),
    discount: moneyText(opportunity.discount),
    discount_percent: opportunity.discountPercent,
    total_before_tax: moneyText(opportunity.totalBeforeTax),
  };
}

/** Returns 'missing-customer' when the document's customer is not synced yet: the caller fetches it first. */
export async function writeOpportunity(
  trx: Trx,
  ctx: WriterContext,
  opportunity: OpportunityRecord,
  now: Date,
): Promise<WriteOutcome | 'missing-customer'> {
  const customer = await findLink(trx, ctx, 'Customer', opportunity.customerQboId);
  if (!customer || customer.account_id === null) return 'missing-customer';
  const link = await findLink(trx, ctx, opportunity.qboEntity, opportunity.qboId);
  if (link && !isNewer(opportunity, link)) return 'unchanged';
  const fields = { ...opportunityColumns(opportunity, customer.account_id), deleted_at: null };
  let opportunityId: number;
  if (link && link.opportunity_id !== null) {
    opportunityId = link.opportunity_id;
    await trx.updateTable('opportunities').set(fields).where('id', '=', opportunityId).execute();
    await trx.deleteFrom('opportunity_lines').where('opportunity_id', '=', opportunityId).execute();
    await updateLinkVersion(trx, ctx, link, opportunity, now);
  } else {
    const inserted = await trx
      .insertInto('opportunities')
      .values({ tenant_id: ctx.tenantId, ...fields })
      .returning('id')
      .executeTakeFirstOrThrow();
    opportunityId = inserted.id;
    await insertLink(
      trx,
      ctx,
      opportunity.qboEntity,
      opportunity.qboId,
      opportunity,
      { opportunity_id: opportunityId },
      {},
      now,
    );
  }
  if (opportunity.lines.length > 0) {
    const itemIds = [
      ...new Set(opportunity.lines.map((line) => line.itemQboId).filter((id): id is string => id !== null)),
    ];
    const products = itemIds.length
      ? await trx
          .selectFrom('qbo_links')
          .select(['qbo_id', 'product_id'])
          .where('tenant_id', '=', ctx.tenantId)
          .where('realm_id', '=', ctx.realmId)
          .where('entity_type', '=', 'Item')
          .where('qbo_id', 'in', itemIds)
          .execute()
      : [];
    const productByItem = new Map(products.map((row) => [row.qbo_id, row.product_id]));
    await trx
      .insertInto('opportunity_lines')
      .values(
        opportunity.lines.map((line) => ({
          tenant_id: ctx.tenantId,
          opportunity_id: opportunityId,
          line_number: line.lineNumber,
          product_code: line.productCode,
          item_qbo_id: line.itemQboId,
          product_id: line.itemQboId ? (productByItem.get(line.itemQboId) ?? null) : null,
          description: line.description,
          quantity: line.quantity,
          unit_price: line.unitPrice,
          amount: moneyText(line.amount),
        })),
      )
      .execute();
  }
  return 'written';
}

/** A transaction hard-deleted in QBO: its opportunity is marked deleted (R20: nothing breaks). */
export async function markOpportunityDeleted(
  trx: Trx,
  ctx: WriterContext,
  entity: QboEntityType,
  qboId: string,
  deletedAt: Date,
): Promise<WriteOutcome> {
  const link = await findLink(trx, ctx, entity, qboId);
  if (!link || link.opportunity_id === null) return 'unchanged';
  const result = await trx
    .updateTable('opportunities')
    .set({ deleted_at: deletedAt })
    .where('id', '=', link.opportunity_id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n ? 'written' : 'unchanged';
}
