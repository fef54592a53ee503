import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * The duplicate check of the kill tests and the fault benchmarks: after any number of retried or
 * killed pages, each synced CRM row must have exactly one link and one QuickBooks-list entry.
 */
export interface DuplicateCounts {
  readonly accounts: number;
  readonly accountLinks: number;
  readonly opportunities: number;
  readonly opportunityLinks: number;
  readonly members: number;
  readonly contacts: number;
  /** Rows without exactly one counterpart: 0 when every CRM row has one link and one list entry. */
  readonly duplicates: number;
}

/** Every synced account and opportunity has exactly one link, and every account one QuickBooks-list entry. */
export async function duplicateCounts(db: Kysely<Database>, tenantId: string): Promise<DuplicateCounts> {
  const result = await sql<{
    accounts: number;
    account_links: number;
    opportunities: number;
    opportunity_links: number;
    members: number;
    contacts: number;
  }>`
    SELECT (SELECT count(*) FROM accounts WHERE tenant_id = ${tenantId})::int AS accounts,
           (SELECT count(DISTINCT account_id) FROM qbo_links WHERE tenant_id = ${tenantId} AND entity_type = 'Customer')::int AS account_links,
           (SELECT count(*) FROM opportunities WHERE tenant_id = ${tenantId})::int AS opportunities,
           (SELECT count(*) FROM qbo_links WHERE tenant_id = ${tenantId} AND opportunity_id IS NOT NULL)::int AS opportunity_links,
           (SELECT count(*) FROM list_members WHERE tenant_id = ${tenantId} AND account_id IS NOT NULL)::int AS members,
           (SELECT count(*) FROM contacts WHERE tenant_id = ${tenantId})::int AS contacts`.execute(db);
  const row = result.rows[0]!;
  return {
    accounts: row.accounts,
    accountLinks: row.account_links,
    opportunities: row.opportunities,
    opportunityLinks: row.opportunity_links,
    members: row.members,
    contacts: row.contacts,
    duplicates:
      Math.abs(row.accounts - row.account_links) +
      Math.abs(row.opportunities - row.opportunity_links) +
      Math.abs(row.members - row.accounts) +
      Math.max(0, row.contacts - row.accounts),
  };
}
