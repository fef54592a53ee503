import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * The qbo_connections table as the commands need it: which QuickBooks company a tenant is
 * connected to. Tokens are read and written by activities/qbo/qbo-auth.ts only.
 */
export async function findConnectedRealm(db: Kysely<Database>, tenantId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('qbo_connections')
    .select('realm_id')
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return row?.realm_id;
}
