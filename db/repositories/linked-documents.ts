import type { Kysely, Transaction } from 'kysely';
import type { Database, QboEntityType } from '../schema.js';
import { isoDate } from './sync-settings.js';

export interface LinkedDocument {
  readonly qboId: string;
  /** The document's TxnDate, YYYY-MM-DD. */
  readonly txnDate: string;
}

/** The QBO documents of one type that the CRM holds as live opportunities. */
export async function listLinkedDocuments(
  db: Kysely<Database> | Transaction<Database>,
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
