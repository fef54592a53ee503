import { sql } from 'kysely';
import {
  findLinkTargets,
  saveLinkVersions,
  upsertLinks,
  type LinkWrite,
  type LinkTarget,
  type QboLink,
} from '../../db/repositories/qbo-links.js';
import { recordDetectedMerges } from '../../db/repositories/merges.js';
import { insertRows, writeRows, type Executor, type Placed, type RecordsetColumns } from '../../db/recordset.js';
import type { AccountRecord, ContactRecord, SubCustomerRecord } from '../mapping/customer.js';
import { snapshotOfAccount } from '../push/customer-fields.js';
import { mergeCrmEdits } from '../push/merge-on-pull.js';
import type { ProductRecord, RevenueCategoryRecord } from '../mapping/item.js';
import { moneyText } from '../mapping/money.js';
import type { OpportunityRecord, SalesDocumentEntity } from '../mapping/sales-document.js';
import type { SetWriter, TenantSettings, Versioned } from './crm-writer.js';

/**
 * The one write of each kind of record, set-based: a few statements per batch whatever its size.
 * crm-writer.ts decides which records changed, finds the records they refer to, and isolates a
 * record the database refuses; these write the rows and the links.
 */

const linksOf = <R extends Versioned>(
  placed: readonly Placed<R>[],
  target: (id: number, record: R) => Omit<LinkWrite, 'qboId' | 'version'>,
): LinkWrite[] => placed.map(({ record, id }) => ({ qboId: record.qboId, version: record, ...target(id, record) }));

export const accounts: SetWriter<AccountRecord> = {
  entity: 'Customer',
  async write(trx, settings, allChanges, _references, now) {
    // R21: a customer merged away in QBO no longer owns an account; its link only follows its version.
    const merged = allChanges.filter(({ link }) => link?.merged_into_qbo_id);
    await saveLinkVersions(
      trx,
      settings,
      'Customer',
      merged.map(({ record }) => ({ qboId: record.qboId, version: record })),
      now,
    );
    const changes = allChanges.filter(({ link }) => !link?.merged_into_qbo_id);
    // Two-way: customers a CRM user changed are merged rather than overwritten; a customer the
    // push created, met before the push could link it, goes to the account it came from.
    const twoWay = settings.twoWay ? await mergeCrmEdits(trx, settings, settings.twoWay.policy, changes, now) : null;
    const asQbo = new Map(changes.map(({ record }) => [record.qboId, record]));
    // A sub-customer promoted to a customer of its own gets a fresh account (R4: default language).
    const existing = changes.map(({ record, link }) => ({
      record: twoWay?.crmValues.get(record.qboId) ?? record,
      id: link && link.parent_qbo_id === null ? link.account_id : (twoWay?.createdByPush.get(record.qboId) ?? null),
    }));
    const { inserted, updated } = await writeAccounts(trx, settings, existing);
    const links = linksOf([...inserted, ...updated], (id, account) => ({
      target: { account_id: id },
      parentQboId: null,
      snapshot: snapshotOfAccount(asQbo.get(account.qboId) ?? account),
    }));
    await upsertLinks(trx, settings, 'Customer', links, now);
    return [];
  },
};

/**
 * Writes accounts and their primary contacts (no links): new ones join the QuickBooks list (R14).
 * The two-way push also writes through here the values it settled on, without touching the links.
 */
export async function writeAccounts(
  trx: Executor,
  settings: TenantSettings,
  accounts: ReadonlyArray<{ readonly record: AccountRecord; readonly id: number | null }>,
): Promise<{ inserted: Placed<AccountRecord>[]; updated: Placed<AccountRecord>[] }> {
  const { inserted, updated } = await writeRows(
    trx,
    'accounts',
    settings.tenantId,
    accounts,
    {
      company_name: 'text',
      website: 'text',
      address_lines: 'text[]',
      city: 'text',
      province: 'text',
      postal_code: 'text',
      country: 'text',
      active: 'boolean',
    },
    (account) => ({
      company_name: account.companyName,
      website: account.website,
      address_lines: account.address.lines,
      city: account.address.city,
      province: account.address.province,
      postal_code: account.address.postalCode,
      country: account.address.country,
      active: account.active,
      language: account.languageForNewAccount,
    }),
    { language: 'text' },
  );
  await joinQuickbooksList(
    trx,
    settings,
    inserted.map(({ id }) => ({ account_id: id })),
  );
  await writePrimaryContacts(trx, settings, [...inserted, ...updated]);
  return { inserted, updated };
}

/**
 * R16: QBO's person fields land on the account's primary contact, its `is_primary` one (the oldest,
 * kept so by the database); an account without one gets one when QBO has person data.
 */
async function writePrimaryContacts(trx: Executor, settings: TenantSettings, placed: readonly Placed<AccountRecord>[]) {
  if (placed.length === 0) return;
  const primaries = await trx
    .selectFrom('contacts')
    .select(['id', 'account_id'])
    .where('tenant_id', '=', settings.tenantId)
    .where(sql<boolean>`account_id = ANY(${placed.map(({ id }) => id)}::int8[])`)
    .where('is_primary', '=', true)
    .execute();
  const primaryOf = new Map(primaries.map((row) => [row.account_id, row.id]));
  const contacts = placed.map(({ record, id: accountId }) => ({
    record: { accountId, language: record.languageForNewAccount, contact: record.primaryContact },
    id: primaryOf.get(accountId) ?? null,
  }));
  const { inserted } = await writeRows(
    trx,
    'contacts',
    settings.tenantId,
    contacts.filter(({ record, id }) => id !== null || record.contact !== null),
    {
      title: 'text',
      full_name: 'text',
      phone1: 'text',
      phone2: 'text',
      fax: 'text',
      mobile: 'text',
      email: 'text',
    },
    ({ accountId, language, contact }) => ({ account_id: accountId, language, ...contactFields(contact) }),
    { account_id: 'int8', language: 'text' },
  );
  await joinQuickbooksList(
    trx,
    settings,
    inserted.map(({ id }) => ({ contact_id: id })),
  );
}

function contactFields(contact: ContactRecord | null) {
  return {
    title: contact?.title ?? null,
    full_name: contact?.fullName ?? null,
    phone1: contact?.phone1 ?? null,
    phone2: contact?.phone2 ?? null,
    fax: contact?.fax ?? null,
    mobile: contact?.mobile ?? null,
    email: contact?.email ?? null,
  };
}

/** R14: every account and contact the sync creates is a member of the tenant's QuickBooks list. */
async function joinQuickbooksList(
  trx: Executor,
  settings: TenantSettings,
  members: ReadonlyArray<{ account_id: number } | { contact_id: number }>,
) {
  await insertRows(
    trx,
    'list_members',
    settings.tenantId,
    { list_id: 'int8', account_id: 'int8', contact_id: 'int8' },
    members.map((member) => ({ list_id: settings.quickbooksListId, ...member })),
  );
}

/** A sub-customer is no account of its own: its link points at its parent's account (mapping/customer.ts). */
export const subCustomers: SetWriter<SubCustomerRecord> = {
  entity: 'Customer',
  reference: {
    entity: 'Customer',
    of: (sub) => sub.parentQboId,
    missing: () => ({ field: 'ParentRef', message: 'parent customer not found in QuickBooks' }),
  },
  async write(trx, settings, changes, parents, now) {
    const accountOf = (sub: SubCustomerRecord) => parents.get(sub.parentQboId)?.account_id ?? null;
    const placed = changes.flatMap(({ record }) => {
      const accountId = accountOf(record);
      return accountId === null ? [] : [{ record, id: accountId }];
    });
    const links = linksOf(placed, (id, sub) => ({ target: { account_id: id }, parentQboId: sub.parentQboId }));
    await upsertLinks(trx, settings, 'Customer', links, now);
    return changes.map(({ record }) => record).filter((sub) => accountOf(sub) === null);
  },
};

/** Catalogue rows (R13): each item's row is in the table its link column names. */
function catalogue<T extends 'revenue_categories' | 'products', R extends Versioned>(
  table: T,
  target: 'revenue_category_id' | 'product_id',
  columns: RecordsetColumns<T>,
  fields: (record: R, parents: ReadonlyMap<string, LinkTarget>) => object,
  reference?: SetWriter<R>['reference'],
): SetWriter<R> {
  return {
    entity: 'Item',
    ...(reference ? { reference } : {}),
    async write(trx, settings, changes, parents, now) {
      const { inserted, updated } = await writeRows(
        trx,
        table,
        settings.tenantId,
        changes.map(({ record, link }) => ({ record, id: link?.[target] ?? null })),
        columns,
        (record) => fields(record, parents),
      );
      const links = linksOf([...inserted, ...updated], (id) => ({ target: { [target]: id } }));
      await upsertLinks(trx, settings, 'Item', links, now);
      return [];
    },
  };
}

/** R22: a category made inactive in QBO is deactivated here, never deleted. */
export const categories = catalogue<'revenue_categories', RevenueCategoryRecord>(
  'revenue_categories',
  'revenue_category_id',
  { name: 'text', active: 'boolean' },
  (category) => ({ name: category.name, active: category.active }),
);

/** A product whose category QBO does not give is written without one. */
export const products = catalogue<'products', ProductRecord>(
  'products',
  'product_id',
  { code: 'text', sku: 'text', description: 'text', active: 'boolean', revenue_category_id: 'int8' },
  (product, parents) => ({
    code: product.code,
    sku: product.sku,
    description: product.description,
    active: product.active,
    revenue_category_id: parents.get(product.parentQboId ?? '')?.revenue_category_id ?? null,
  }),
  { entity: 'Item', of: (product) => product.parentQboId },
);

/** Estimates, invoices, credit notes and sales receipts: opportunities with their lines (R11, R12). */
export function documents(entity: SalesDocumentEntity): SetWriter<OpportunityRecord> {
  return {
    entity,
    reference: {
      entity: 'Customer',
      of: (document) => document.customerQboId,
      missing: (document) => ({
        field: 'CustomerRef',
        message: `customer ${document.customerQboId} is not synced: missing in QuickBooks, or it failed to map (see its own error)`,
      }),
    },
    async write(trx, settings, changes, customers, now) {
      const accountOf = (document: OpportunityRecord) => customers.get(document.customerQboId)?.account_id ?? null;
      const placeable = changes.filter(({ record }) => accountOf(record) !== null);
      const accountsBefore = await currentAccounts(trx, settings, placeable);
      const { inserted, updated } = await writeRows(
        trx,
        'opportunities',
        settings.tenantId,
        placeable.map(({ record, link }) => ({ record, id: link?.opportunity_id ?? null })),
        {
          account_id: 'int8',
          source_entity: 'text',
          title: 'text',
          txn_date: 'date',
          expected_close_date: 'date',
          currency: 'text',
          stage: 'text',
          stage_label: 'text',
          probability: 'numeric',
          shipping: 'numeric',
          discount: 'numeric',
          discount_percent: 'numeric',
          total_before_tax: 'numeric',
          deleted_at: 'timestamptz',
        },
        (document) => ({
          account_id: accountOf(document),
          source_entity: document.qboEntity,
          title: document.title,
          txn_date: document.txnDate,
          expected_close_date: document.expirationDate,
          currency: document.currency,
          stage: document.stage,
          stage_label: document.stageLabel,
          probability: document.probability,
          shipping: moneyText(document.shipping),
          discount: moneyText(document.discount),
          discount_percent: document.discountPercent,
          total_before_tax: moneyText(document.totalBeforeTax),
          deleted_at: null,
        }),
      );
      await replaceLines(trx, settings, [...inserted, ...updated], updated);
      const links = linksOf([...inserted, ...updated], (id) => ({ target: { opportunity_id: id } }));
      await upsertLinks(trx, settings, entity, links, now);
      const moves = updated.flatMap(({ record, id }) => {
        const from = accountsBefore.get(id);
        const to = accountOf(record);
        return from === undefined || to === null || from === to ? [] : [{ fromAccountId: from, toAccountId: to }];
      });
      await recordDetectedMerges(trx, settings, moves);
      return changes.map(({ record }) => record).filter((document) => accountOf(document) === null);
    },
  };
}

/** The accounts the opportunities of these documents are on before the write, by opportunity id. */
async function currentAccounts(
  trx: Executor,
  settings: TenantSettings,
  changes: ReadonlyArray<{ readonly link: QboLink | undefined }>,
): Promise<Map<number, number>> {
  const ids = changes.flatMap(({ link }) => (link?.opportunity_id ? [link.opportunity_id] : []));
  if (ids.length === 0) return new Map();
  const rows = await trx
    .selectFrom('opportunities')
    .select(['id', 'account_id'])
    .where('tenant_id', '=', settings.tenantId)
    .where(sql<boolean>`id = ANY(${ids}::int8[])`)
    .execute();
  return new Map(rows.map((row) => [row.id, row.account_id]));
}

/** An opportunity's lines are its document's, replaced whole; their products are found in one lookup per batch. */
async function replaceLines(
  trx: Executor,
  settings: TenantSettings,
  placed: readonly Placed<OpportunityRecord>[],
  updated: readonly Placed<OpportunityRecord>[],
) {
  if (updated.length > 0) {
    await trx
      .deleteFrom('opportunity_lines')
      .where('tenant_id', '=', settings.tenantId)
      .where(sql<boolean>`opportunity_id = ANY(${updated.map(({ id }) => id)}::int8[])`)
      .execute();
  }
  const itemIds = placed.flatMap(({ record }) => record.lines.flatMap((line) => line.itemQboId ?? []));
  const items = await findLinkTargets(trx, settings, 'Item', itemIds);
  const lines = placed.flatMap(({ record, id }) =>
    record.lines.map((line) => ({
      opportunity_id: id,
      line_number: line.lineNumber,
      product_code: line.productCode,
      item_qbo_id: line.itemQboId,
      product_id: items.get(line.itemQboId ?? '')?.product_id ?? null,
      description: line.description,
      quantity: line.quantity,
      unit_price: line.unitPrice,
      amount: moneyText(line.amount),
    })),
  );
  await insertRows(
    trx,
    'opportunity_lines',
    settings.tenantId,
    {
      opportunity_id: 'int8',
      line_number: 'int4',
      product_code: 'text',
      item_qbo_id: 'text',
      product_id: 'int8',
      description: 'text',
      quantity: 'numeric',
      unit_price: 'numeric',
      amount: 'numeric',
    },
    lines,
  );
}
