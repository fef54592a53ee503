import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { FailureType } from '../../common/failure-types.js';
import { readSyncSettings, type SyncSettings } from '../../db/repositories/tenants.js';
import type { Database } from '../../db/schema.js';
import { writerSettings, type TenantSettings } from './crm-writer.js';

/** A connected tenant's settings, as every sync activity needs them; a tenant with no connection is a non-retryable failure. */
export async function connectedTenantSettings(
  db: Kysely<Database>,
  tenantId: string,
): Promise<SyncSettings & TenantSettings> {
  const settings = await readSyncSettings(db, tenantId);
  if (!settings) {
    throw ApplicationFailure.create({
      type: FailureType.TenantNotConnected,
      message: `tenant ${tenantId} has no QuickBooks connection`,
      nonRetryable: true,
    });
  }
  return writerSettings(settings);
}
