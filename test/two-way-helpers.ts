import type { Kysely, Transaction, Updateable } from 'kysely';
import type { Database, TenantsTable } from '../db/schema.js';
import type { TenantHarness } from './tenant-harness.js';

/** Runs fn as a CRM user would: a plain transaction, not marked as the sync's (no echo guard applies). */
export function userEdit<T>(db: Kysely<Database>, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.transaction().execute(fn);
}

export interface ContactFields {
  readonly fullName?: string;
  readonly title?: string;
  readonly phone1?: string;
  readonly phone2?: string;
  readonly fax?: string;
  readonly mobile?: string;
  readonly email?: string;
}

/**
 * A CRM user creates an account with a contact, in the QuickBooks list (R15) or, given another
 * list, in that one. Returns the account id.
 */
export async function createAccountInList(
  db: Kysely<Database>,
  tenantId: string,
  companyName: string,
  contact: ContactFields,
  listId?: number,
): Promise<number> {
  return userEdit(db, async (trx) => {
    const account = await trx
      .insertInto('accounts')
      .values({ tenant_id: tenantId, company_name: companyName, language: 'fr' })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (Object.keys(contact).length > 0) {
      await trx
        .insertInto('contacts')
        .values({
          tenant_id: tenantId,
          account_id: account.id,
          language: 'fr',
          full_name: contact.fullName ?? null,
          title: contact.title ?? null,
          phone1: contact.phone1 ?? null,
          phone2: contact.phone2 ?? null,
          fax: contact.fax ?? null,
          mobile: contact.mobile ?? null,
          email: contact.email ?? null,
        })
        .execute();
    }
    const list =
      listId ??
      (
        await trx
          .selectFrom('lists')
          .select('id')
          .where('tenant_id', '=', tenantId)
          .where('is_quickbooks', '=', true)
          .executeTakeFirstOrThrow()
      ).id;
    await trx
      .insertInto('list_members')
      .values({ tenant_id: tenantId, list_id: list, account_id: account.id })
      .execute();
    return account.id;
  });
}

/** Changes a tenant's settings directly, as an operator's tool would. */
export async function setTenant(
  db: Kysely<Database>,
  tenantId: string,
  change: Updateable<TenantsTable>,
): Promise<void> {
  await db.updateTable('tenants').set(change).where('id', '=', tenantId).execute();
}

/** The states of a tenant's outbox rows, oldest first. */
export async function outboxStates(db: Kysely<Database>, tenantId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('crm_outbox')
    .select('state')
    .where('tenant_id', '=', tenantId)
    .orderBy('id')
    .execute();
  return rows.map((row) => row.state);
}

export async function accountIdByName(db: Kysely<Database>, tenantId: string, name: string): Promise<number[]> {
  const rows = await db
    .selectFrom('accounts')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('company_name', '=', name)
    .orderBy('id')
    .execute();
  return rows.map((row) => row.id);
}

/** An account the sync brought from QuickBooks (linked to a customer of its own). */
export async function syncedAccountId(db: Kysely<Database>, tenantId: string): Promise<number> {
  const row = await db
    .selectFrom('qbo_links')
    .select('account_id')
    .where('tenant_id', '=', tenantId)
    .where('entity_type', '=', 'Customer')
    .where('parent_qbo_id', 'is', null)
    .orderBy('account_id')
    .executeTakeFirstOrThrow();
  return row.account_id as number;
}

/** The simulated company's customers with this DisplayName or CompanyName. */
export function customersNamed(tenant: TenantHarness, name: string): Array<Record<string, unknown>> {
  return (tenant.company()['Customer'] ?? [])
    .filter((customer) => customer.DisplayName === name || customer.CompanyName === name)
    .map((customer) => customer as unknown as Record<string, unknown>);
}

/** The one QuickBooks customer with this name, as the simulator holds it. */
export function qboCustomerOf(tenant: TenantHarness, name: string): Record<string, unknown> {
  const [customer, ...others] = customersNamed(tenant, name);
  if (!customer || others.length > 0)
    throw new Error(`expected one customer named ${name}, found ${others.length + (customer ? 1 : 0)}`);
  return customer;
}
