import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * The CRM company name of the accounts synced from these QBO customers, by customer id: how the
 * webhook tests and the freshness benchmark see an edit made in QuickBooks arrive.
 */
export async function accountNamesOf(
  db: Kysely<Database>,
  tenantId: string,
  customerIds: readonly string[],
): Promise<Map<string, string | null>> {
  if (customerIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('qbo_links')
    .innerJoin('accounts', 'accounts.id', 'qbo_links.account_id')
    .select(['qbo_links.qbo_id', 'accounts.company_name'])
    .where('qbo_links.tenant_id', '=', tenantId)
    .where('qbo_links.entity_type', '=', 'Customer')
    .where('qbo_links.qbo_id', 'in', customerIds)
    .execute();
  return new Map(rows.map((row) => [row.qbo_id, row.company_name]));
}

/** Waits until the customer's account carries `name`; the milliseconds from `since`. Fails after `timeoutMs`. */
export async function untilAccountNamed(
  db: Kysely<Database>,
  tenantId: string,
  customerId: string,
  name: string,
  since: number,
  timeoutMs: number,
): Promise<number> {
  for (;;) {
    if ((await accountNamesOf(db, tenantId, [customerId])).get(customerId) === name) return Date.now() - since;
    if (Date.now() - since > timeoutMs) {
      throw new Error(`customer ${customerId}'s account was not named "${name}" within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
