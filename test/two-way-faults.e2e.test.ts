import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QboClient } from '../activities/qbo/qbo-client.js';
import { listOpenConflicts, resolveConflict } from '../db/repositories/sync-conflicts.js';
import type { Database } from '../db/schema.js';
import { startTenantHarness, type TenantHarness } from './tenant-harness.js';
import {
  createAccountInList,
  customersNamed,
  outboxStates,
  qboCustomerOf,
  setTenant,
  userEdit,
} from './two-way-helpers.js';

/**
 * What QuickBooks answers a push with when it will not take it as sent: a stale SyncToken (5010), a
 * duplicate name (6240), a validation fault (2010 and the like). Real Temporal, PostgreSQL, worker
 * and simulator.
 */
describe('R7: pushes QuickBooks refuses or answers stale', () => {
  let tenant: TenantHarness;
  let db: Kysely<Database>;
  /** A QuickBooks user's save of the customer just before the push's update reaches QuickBooks. */
  let concurrentEdit: Record<string, unknown> | null = null;

  beforeAll(async () => {
    tenant = await startTenantHarness({
      tenantId: 'two-way-faults',
      company: { customers: 6, transactions: 6, items: 3, seed: 73 },
      wrapQboClient: (client): QboClient => ({
        ...client,
        async updateCustomer(change, requestId) {
          if (concurrentEdit) {
            tenant.fixture.sim.sim.adminEditCustomer(tenant.realmId, change.Id, concurrentEdit);
            concurrentEdit = null;
          }
          return client.updateCustomer(change, requestId);
        },
      }),
    });
    db = tenant.fixture.database.db;
    await tenant.backfilled();
    await setTenant(db, tenant.tenantId, { allow_crm_edits: true });
  });

  afterAll(async () => {
    await tenant?.stop();
  });

  it('R7 stale SyncToken (5010): the push re-reads, merges again and retries once; both edits land, and a field both changed is a recorded conflict', async () => {
    const account = await createAccountInList(db, tenant.tenantId, 'Jeton périmé inc.', { fullName: 'Luc Gagnon' });
    await tenant.pass();
    await userEdit(db, (trx) =>
      trx
        .updateTable('accounts')
        .set({ city: 'Lévis', website: 'https://crm.example' })
        .where('id', '=', account)
        .execute(),
    );
    concurrentEdit = { Title: 'Dr', BillAddr: { City: 'Sillery' } };
    await tenant.pass();
    expect(concurrentEdit).toBeNull();
    const customer = qboCustomerOf(tenant, 'Jeton périmé inc.');
    // QuickBooks's edit (Title) stays, the CRM's (website) lands, and the city both changed follows
    // the default policy: QuickBooks wins, and the CRM's value is kept in the conflict.
    expect(customer).toMatchObject({
      Title: 'Dr',
      WebAddr: { URI: 'https://crm.example' },
      BillAddr: { City: 'Sillery' },
    });
    const conflicts = (await listOpenConflicts(db, tenant.tenantId)).filter((c) => c.account_id === account);
    expect(conflicts.map((c) => [c.kind, c.field, c.crm_value, c.qbo_value, c.applied])).toEqual([
      ['field', 'city', 'Lévis', 'Sillery', 'qbo'],
    ]);
    await tenant.expectInStep();

    // Support takes the CRM's side: the next pass sends it.
    expect(await resolveConflict(db, conflicts[0]!.id, 'crm', 'test', new Date())).toBe(true);
    await tenant.pass();
    expect((qboCustomerOf(tenant, 'Jeton périmé inc.')['BillAddr'] as Record<string, unknown>)['City']).toBe('Lévis');
    await tenant.expectInStep();
  });

  it('R7 duplicate name (6240): a conflict the user can act on, never a silent rename, and no retry until someone acts', async () => {
    const taken = tenant.company()['Customer']!.find((c) => !c.Job && c.DisplayName)!.DisplayName!;
    const account = await createAccountInList(db, tenant.tenantId, taken, {});
    await tenant.pass();
    expect(customersNamed(tenant, taken)).toHaveLength(1);
    const [conflict] = (await listOpenConflicts(db, tenant.tenantId)).filter((c) => c.account_id === account);
    expect(conflict).toMatchObject({ kind: 'duplicate_name', qbo_code: '6240' });
    expect(conflict?.message).toContain('Duplicate Name');
    expect(await outboxStates(db, tenant.tenantId)).toContain('blocked');
    const writes = tenant.fixture.sim.sim.apiRequestCount(tenant.realmId, 'write');
    await tenant.pass();
    expect(tenant.fixture.sim.sim.apiRequestCount(tenant.realmId, 'write')).toBe(writes);

    // The user renames the account in the CRM: that edit retries the push under the new name.
    await userEdit(db, (trx) =>
      trx
        .updateTable('accounts')
        .set({ company_name: `${taken} (Montréal)` })
        .where('id', '=', account)
        .execute(),
    );
    await tenant.pass();
    expect(customersNamed(tenant, `${taken} (Montréal)`)).toHaveLength(1);
    // The rename settled the conflict.
    expect((await listOpenConflicts(db, tenant.tenantId)).filter((c) => c.account_id === account)).toEqual([]);
    await tenant.expectInStep();
  });

  it('R7 validation fault: recorded against the CRM record with QuickBooks’s message, never retried, and the rest of the batch goes on', async () => {
    const bad = await createAccountInList(db, tenant.tenantId, 'Téléphone trop long inc.', {
      fullName: 'Eve Long',
      phone1: '1'.repeat(45),
    });
    await createAccountInList(db, tenant.tenantId, 'Voisin correct inc.', { fullName: 'Guy Bon' });
    await tenant.pass();
    expect(customersNamed(tenant, 'Téléphone trop long inc.')).toHaveLength(0);
    expect(customersNamed(tenant, 'Voisin correct inc.')).toHaveLength(1);
    const [conflict] = (await listOpenConflicts(db, tenant.tenantId)).filter((c) => c.account_id === bad);
    expect(conflict?.kind).toBe('validation');
    expect(conflict?.message).toContain('String length');
    const writes = tenant.fixture.sim.sim.apiRequestCount(tenant.realmId, 'write');
    await tenant.pass();
    expect(tenant.fixture.sim.sim.apiRequestCount(tenant.realmId, 'write')).toBe(writes);
  });
});
