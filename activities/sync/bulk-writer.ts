import { sql, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { AccountRecord } from '../mapping/customer.js';
import { moneyText } from '../mapping/money.js';
import type { OpportunityRecord } from '../mapping/sales-document.js';
import { customerSnapshot, isNewer, opportunityColumns, type WriterContext } from './crm-writer.js';

/**
 * Set-based writes of a whole page: a handful of statements per page instead of several per record,
 * with the same rules as crm-writer.ts (links keyed by tenant, realm, entity and QBO id; an older
 * version never overwrites a newer one; new accounts take the tenant's default language). Rows are
 * passed as one JSON parameter and expanded with jsonb_to_recordset; ids of new rows are drawn from
 * their sequences first, so no statement relies on the order RETURNING gives rows back.
 */
type Trx = Transaction<Database>;

interface LinkRow {
  qbo_id: string;
  sync_token: string;
  qbo_updated_at: Date;
  account_id: number | null;
  opportunity_id: number | null;
  parent_qbo_id: string | null;
}

async function loadLinks(
  trx: Trx,
  ctx: WriterContext,
  entity: string,
  ids: readonly string[],
): Promise<Map<string, LinkRow>> {
  if (ids.length === 0) return new Map();
  const rows = await sql<LinkRow>`
    SELECT qbo_id, sync_token, qbo_updated_at, account_id, opportunity_id, parent_qbo_id
    FROM qbo_links
    WHERE tenant_id = ${ctx.tenantId} AND realm_id = ${ctx.realmId} AND entity_type = ${entity}
      AND qbo_id = ANY(${ids as string[]}::text[])
    FOR UPDATE`.execute(trx);
  return new Map(rows.rows.map((row) => [row.qbo_id, row]));
}

async function allocateIds(
  trx: Trx,
  table: 'accounts' | 'contacts' | 'opportunities',
  count: number,
): Promise<number[]> {
  if (count === 0) return [];
  const rows = await sql<{ id: number }>`
    SELECT nextval(pg_get_serial_sequence(${table}, 'id'))::int8 AS id FROM generate_series(1, ${count})`.execute(trx);
  return rows.rows.map((row) => Number(row.id));
}

function version(record: { syncToken: string | null; lastUpdatedTime: string | null }, now: Date) {
  const lastUpdated = record.lastUpdatedTime ?? now.toISOString();
  const at = Date.parse(lastUpdated);
  return {
    sync_token: record.syncToken ?? '0',
    qbo_last_updated_time: lastUpdated,
    qbo_updated_at: new Date(Number.isNaN(at) ? now.getTime() : at).toISOString(),
  };
}

async function upsertLinks(
  trx: Trx,
  ctx: WriterContext,
  entity: string,
  rows: ReadonlyArray<Record<string, unknown> & { qbo_id: string }>,
): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    INSERT INTO qbo_links (tenant_id, realm_id, entity_type, qbo_id, account_id, opportunity_id, parent_qbo_id,
                           sync_token, qbo_last_updated_time, qbo_updated_at, synced_snapshot)
    SELECT ${ctx.tenantId}, ${ctx.realmId}, ${entity}, r.qbo_id, r.account_id, r.opportunity_id, NULL,
           r.sync_token, r.qbo_last_updated_time, r.qbo_updated_at, coalesce(r.synced_snapshot, '{}'::jsonb)
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(
      qbo_id text, account_id int8, opportunity_id int8, sync_token text, qbo_last_updated_time text,
      qbo_updated_at timestamptz, synced_snapshot jsonb)
    ON CONFLICT (tenant_id, realm_id, entity_type, qbo_id) DO UPDATE SET
      account_id = EXCLUDED.account_id,
      opportunity_id = EXCLUDED.opportunity_id,
      parent_qbo_id = NULL,
      sync_token = EXCLUDED.sync_token,
      qbo_last_updated_time = EXCLUDED.qbo_last_updated_time,
      qbo_updated_at = EXCLUDED.qbo_updated_at,
      synced_snapshot = EXCLUDED.synced_snapshot`.execute(trx);
}

export interface BulkOutcome {
  readonly written: string[];
  readonly unchanged: string[];
}

/** Writes top-level customers (accounts with their primary contact). */
export async function writeAccountsBulk(
  trx: Trx,
  ctx: WriterContext,
  accounts: readonly AccountRecord[],
  now: Date,
): Promise<BulkOutcome> {
  // The same customer twice in one batch (CDC can do that): keep the newest.
  const latest = new Map<string, AccountRecord>();
  for (const account of accounts) {
    const seen = latest.get(account.qboId);
    if (
      !seen ||
      isNewer(account, {
        sync_token: seen.syncToken ?? '0',
        qbo_updated_at: new Date(Date.parse(seen.lastUpdatedTime ?? '') || 0),
      })
    ) {
      latest.set(account.qboId, account);
    }
  }
  const links = await loadLinks(trx, ctx, 'Customer', [...latest.keys()]);
  const unchanged: string[] = [];
  const updates: Array<{ account: AccountRecord; accountId: number }> = [];
  const inserts: AccountRecord[] = [];
  for (const account of latest.values()) {
    const link = links.get(account.qboId);
    if (link && !isNewer(account, link)) unchanged.push(account.qboId);
    else if (link && link.account_id !== null && link.parent_qbo_id === null)
      updates.push({ account, accountId: link.account_id });
    else inserts.push(account);
  }
  const newIds = await allocateIds(trx, 'accounts', inserts.length);
  const fields = (account: AccountRecord) => ({
    company_name: account.companyName,
    website: account.website,
    address_lines: account.address.lines,
    city: account.address.city,
    province: account.address.province,
    postal_code: account.address.postalCode,
    country: account.address.country,
    active: account.active,
  });
  const accountColumns = sql`company_name text, website text, address_lines text[], city text, province text,
    postal_code text, country text, active boolean`;
  if (inserts.length > 0) {
    const rows = inserts.map((account, index) => ({
      id: newIds[index],
      language: account.languageForNewAccount,
      ...fields(account),
    }));
    await sql`
      INSERT INTO accounts (id, tenant_id, language, company_name, website, address_lines, city, province, postal_code, country, active)
      SELECT r.id, ${ctx.tenantId}, r.language, r.company_name, r.website, coalesce(r.address_lines, '{}'), r.city, r.province,
             r.postal_code, r.country, r.active
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(id int8, language text, ${accountColumns})`.execute(
      trx,
    );
    await sql`
      INSERT INTO list_members (tenant_id, list_id, account_id)
      SELECT ${ctx.tenantId}, ${ctx.quickbooksListId}, unnest(${newIds}::int8[])`.execute(trx);
  }
  if (updates.length > 0) {
    const rows = updates.map(({ account, accountId }) => ({ id: accountId, ...fields(account) }));
    await sql`
      UPDATE accounts a SET company_name = r.company_name, website = r.website,
        address_lines = coalesce(r.address_lines, '{}'), city = r.city, province = r.province,
        postal_code = r.postal_code, country = r.country, active = r.active
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(id int8, ${accountColumns})
      WHERE a.id = r.id AND a.tenant_id = ${ctx.tenantId}`.execute(trx);
  }
  // Primary contacts (R16: QBO's person fields land on the account's oldest contact).
  const contactRows = [...inserts.map((account, index) => ({ account, accountId: newIds[index]! })), ...updates].map(
    ({ account, accountId }) => ({
      account_id: accountId,
      has_contact: account.primaryContact !== null,
      language: account.languageForNewAccount,
      title: account.primaryContact?.title ?? null,
      full_name: account.primaryContact?.fullName ?? null,
      phone1: account.primaryContact?.phone1 ?? null,
      phone2: account.primaryContact?.phone2 ?? null,
      fax: account.primaryContact?.fax ?? null,
      mobile: account.primaryContact?.mobile ?? null,
      email: account.primaryContact?.email ?? null,
    }),
  );
  if (contactRows.length > 0) {
    const contactColumns = sql`account_id int8, has_contact boolean, language text, title text, full_name text,
      phone1 text, phone2 text, fax text, mobile text, email text`;
    await sql`
      UPDATE contacts c SET title = r.title, full_name = r.full_name, phone1 = r.phone1, phone2 = r.phone2,
        fax = r.fax, mobile = r.mobile, email = r.email
      FROM jsonb_to_recordset(${JSON.stringify(contactRows)}::jsonb) AS r(${contactColumns})
      WHERE c.account_id = r.account_id AND c.is_primary AND c.tenant_id = ${ctx.tenantId}`.execute(trx);
    const missing = await sql<{ account_id: number }>`
      SELECT r.account_id FROM jsonb_to_recordset(${JSON.stringify(contactRows)}::jsonb) AS r(${contactColumns})
      WHERE r.has_contact AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.account_id = r.account_id)`.execute(trx);
    if (missing.rows.length > 0) {
      const wanted = new Set(missing.rows.map((row) => Number(row.account_id)));
      const rows = contactRows.filter((row) => wanted.has(row.account_id));
      const ids = await allocateIds(trx, 'contacts', rows.length);
      const withIds = rows.map((row, index) => ({ ...row, id: ids[index] }));
      await sql`
        INSERT INTO contacts (id, tenant_id, account_id, language, title, full_name, phone1, phone2, fax, mobile, email)
        SELECT r.id, ${ctx.tenantId}, r.account_id, r.language, r.title, r.full_name, r.phone1, r.phone2, r.fax, r.mobile, r.email
        FROM jsonb_to_recordset(${JSON.stringify(withIds)}::jsonb) AS r(id int8, ${contactColumns})`.execute(trx);
      await sql`
        INSERT INTO list_members (tenant_id, list_id, contact_id)
        SELECT ${ctx.tenantId}, ${ctx.quickbooksListId}, unnest(${ids}::int8[])`.execute(trx);
    }
  }
  await upsertLinks(
    trx,
    ctx,
    'Customer',
    [...inserts.map((account, index) => ({ account, accountId: newIds[index]! })), ...updates].map(
      ({ account, accountId }) => ({
        qbo_id: account.qboId,
        account_id: accountId,
        opportunity_id: null,
        synced_snapshot: customerSnapshot(account),
        ...version(account, now),
      }),
    ),
  );
  return { written: [...inserts, ...updates.map((u) => u.account)].map((a) => a.qboId), unchanged };
}

/**
 * Writes sales documents whose customers are all linked already (the caller fetched missing ones).
 * Returns the documents it could not place (customer still unknown) separately.
 */
export async function writeOpportunitiesBulk(
  trx: Trx,
  ctx: WriterContext,
  opportunities: readonly OpportunityRecord[],
  now: Date,
): Promise<BulkOutcome & { missingCustomer: OpportunityRecord[] }> {
  const latest = new Map<string, OpportunityRecord>();
  for (const opportunity of opportunities) latest.set(`${opportunity.qboEntity}:${opportunity.qboId}`, opportunity);
  const customerIds = [...new Set([...latest.values()].map((o) => o.customerQboId))];
  const customers = await loadLinks(trx, ctx, 'Customer', customerIds);
  const entity = opportunities[0]?.qboEntity;
  if (!entity) return { written: [], unchanged: [], missingCustomer: [] };
  const links = await loadLinks(
    trx,
    ctx,
    entity,
    [...latest.values()].map((o) => o.qboId),
  );
  const unchanged: string[] = [];
  const missingCustomer: OpportunityRecord[] = [];
  const updates: Array<{ opportunity: OpportunityRecord; id: number; accountId: number }> = [];
  const inserts: Array<{ opportunity: OpportunityRecord; accountId: number }> = [];
  for (const opportunity of latest.values()) {
    const accountId = customers.get(opportunity.customerQboId)?.account_id ?? null;
    if (accountId === null) {
      missingCustomer.push(opportunity);
      continue;
    }
    const link = links.get(opportunity.qboId);
    if (link && !isNewer(opportunity, link)) unchanged.push(opportunity.qboId);
    else if (link && link.opportunity_id !== null) updates.push({ opportunity, id: link.opportunity_id, accountId });
    else inserts.push({ opportunity, accountId });
  }
  const newIds = await allocateIds(trx, 'opportunities', inserts.length);
  const placed = [...inserts.map((entry, index) => ({ ...entry, id: newIds[index]! })), ...updates];
  const rows = placed.map(({ opportunity, id, accountId }) => ({ id, ...opportunityColumns(opportunity, accountId) }));
  const columns = sql`id int8, account_id int8, source_entity text, title text, txn_date date, expected_close_date date,
    currency text, stage text, stage_label text, probability numeric, shipping numeric, discount numeric,
    discount_percent numeric, total_before_tax numeric`;
  if (inserts.length > 0) {
    await sql`
      INSERT INTO opportunities (id, tenant_id, account_id, source_entity, title, txn_date, expected_close_date, currency,
        stage, stage_label, probability, shipping, discount, discount_percent, total_before_tax)
      SELECT r.id, ${ctx.tenantId}, r.account_id, r.source_entity, r.title, r.txn_date, r.expected_close_date, r.currency,
        r.stage, r.stage_label, r.probability, r.shipping, r.discount, r.discount_percent, r.total_before_tax
      FROM jsonb_to_recordset(${JSON.stringify(rows.slice(0, inserts.length))}::jsonb) AS r(${columns})`.execute(trx);
  }
  if (updates.length > 0) {
    await sql`
      UPDATE opportunities o SET account_id = r.account_id, source_entity = r.source_entity, title = r.title,
        txn_date = r.txn_date, expected_close_date = r.expected_close_date, currency = r.currency, stage = r.stage,
        stage_label = r.stage_label, probability = r.probability, shipping = r.shipping, discount = r.discount,
        discount_percent = r.discount_percent, total_before_tax = r.total_before_tax, deleted_at = NULL
      FROM jsonb_to_recordset(${JSON.stringify(rows.slice(inserts.length))}::jsonb) AS r(${columns})
      WHERE o.id = r.id AND o.tenant_id = ${ctx.tenantId}`.execute(trx);
    await sql`DELETE FROM opportunity_lines WHERE opportunity_id = ANY(${updates.map((u) => u.id)}::int8[])`.execute(
      trx,
    );
  }
  const lines = placed.flatMap(({ opportunity, id }) =>
    opportunity.lines.map((line) => ({
      opportunity_id: id,
      line_number: line.lineNumber,
      product_code: line.productCode,
      item_qbo_id: line.itemQboId,
      description: line.description,
      quantity: line.quantity,
      unit_price: line.unitPrice,
      amount: moneyText(line.amount),
    })),
  );
  if (lines.length > 0) {
    await sql`
      INSERT INTO opportunity_lines (tenant_id, opportunity_id, line_number, product_code, item_qbo_id, product_id,
        description, quantity, unit_price, amount)
      SELECT ${ctx.tenantId}, r.opportunity_id, r.line_number, r.product_code, r.item_qbo_id, l.product_id,
        r.description, r.quantity, r.unit_price, r.amount
      FROM jsonb_to_recordset(${JSON.stringify(lines)}::jsonb) AS r(opportunity_id int8, line_number int, product_code text,
        item_qbo_id text, description text, quantity numeric, unit_price numeric, amount numeric)
      LEFT JOIN qbo_links l ON l.tenant_id = ${ctx.tenantId} AND l.realm_id = ${ctx.realmId}
        AND l.entity_type = 'Item' AND l.qbo_id = r.item_qbo_id`.execute(trx);
  }
  await upsertLinks(
    trx,
    ctx,
    entity,
    placed.map(({ opportunity, id }) => ({
      qbo_id: opportunity.qboId,
      account_id: null,
      opportunity_id: id,
      ...version(opportunity, now),
    })),
  );
  return { written: placed.map((p) => p.opportunity.qboId), unchanged, missingCustomer };
}
