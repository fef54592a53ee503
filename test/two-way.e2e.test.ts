import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QboClient } from '../activities/qbo/qbo-client.js';
import type { Database } from '../db/schema.js';
import { startTenantHarness, type TenantHarness } from './tenant-harness.js';
import {
  accountIdByName,
  createAccountInList,
  customersNamed,
  outboxStates,
  qboCustomerOf,
  setTenant,
  syncedAccountId,
  userEdit,
} from './two-way-helpers.js';
import { setModeUpdate } from '../workflows/definitions.js';

/**
 * Two-way customer sync (R7, R15, R16, R17, R8) end to end: real Temporal, PostgreSQL, a worker and
 * the simulator. CRM users' changes are made the way a CRM makes them: plain transactions, not
 * marked as the sync's.
 */
describe('R7/R15: CRM → QuickBooks', () => {
  let tenant: TenantHarness;
  let db: Kysely<Database>;
  /** Creates to fail once after QuickBooks answered, as a worker killed before its commit would. */
  let failCreatesAfterAnswer = 0;

  beforeAll(async () => {
    tenant = await startTenantHarness({
      tenantId: 'two-way',
      company: { customers: 8, transactions: 12, items: 5, seed: 71 },
      wrapQboClient: (client): QboClient => ({
        ...client,
        async createCustomer(customer, requestId) {
          const answer = await client.createCustomer(customer, requestId);
          if (failCreatesAfterAnswer > 0) {
            failCreatesAfterAnswer -= 1;
            throw new Error('worker lost between the QuickBooks answer and the commit');
          }
          return answer;
        },
      }),
    });
    db = tenant.fixture.database.db;
    await tenant.backfilled();
  });

  afterAll(async () => {
    await tenant?.stop();
  });

  it('R7 echo guard: the sync’s own writes never enter the outbox, and a pass with no user edit pushes nothing', async () => {
    expect(await outboxStates(db, tenant.tenantId)).toEqual([]);
    const writesBefore = tenant.fixture.sim.sim.apiRequestCount(tenant.realmId, 'write');
    tenant.fixture.sim.sim.adminEditCustomer(tenant.realmId, tenant.company()['Customer']![0]!.Id, {
      CompanyName: 'Renamed in QuickBooks',
    });
    await tenant.pass();
    await tenant.pass();
    expect(await outboxStates(db, tenant.tenantId)).toEqual([]);
    expect(tenant.fixture.sim.sim.apiRequestCount(tenant.realmId, 'write')).toBe(writesBefore);
    await tenant.expectInStep();
  });

  it('R15: an account created in, moved to or copied into the QuickBooks list appears in QuickBooks once', async () => {
    const created = await createAccountInList(db, tenant.tenantId, 'Créé dans la liste inc.', {
      fullName: 'Julie Tremblay',
      phone1: '418 555-0101',
      email: 'julie@example.com',
    });
    const other = await userEdit(db, (trx) =>
      trx
        .insertInto('lists')
        .values({ tenant_id: tenant.tenantId, name: 'Prospects' })
        .returning('id')
        .executeTakeFirstOrThrow(),
    );
    const moved = await createAccountInList(db, tenant.tenantId, 'Déplacé inc.', {}, other.id);
    const copied = await createAccountInList(db, tenant.tenantId, 'Copié inc.', {}, other.id);
    await userEdit(db, async (trx) => {
      await trx.deleteFrom('list_members').where('list_id', '=', other.id).where('account_id', '=', moved).execute();
      const quickbooks = await trx
        .selectFrom('lists')
        .select('id')
        .where('tenant_id', '=', tenant.tenantId)
        .where('is_quickbooks', '=', true)
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('list_members')
        .values([
          { tenant_id: tenant.tenantId, list_id: quickbooks.id, account_id: moved },
          { tenant_id: tenant.tenantId, list_id: quickbooks.id, account_id: copied },
        ])
        .execute();
    });
    // verify compares both directions: the three accounts QuickBooks lacks are extra until pushed.
    const before = await tenant.verify();
    expect(before.records.filter((r) => r.kind === 'extra').map((r) => r.qboId)).toEqual(
      [created, moved, copied].map((id) => `account ${id}`),
    );
    await tenant.pass();
    for (const name of ['Créé dans la liste inc.', 'Déplacé inc.', 'Copié inc.']) {
      expect(customersNamed(tenant, name), name).toHaveLength(1);
    }
    const customer = qboCustomerOf(tenant, 'Créé dans la liste inc.');
    expect(customer).toMatchObject({
      GivenName: 'Julie',
      FamilyName: 'Tremblay',
      PrimaryPhone: { FreeFormNumber: '418 555-0101' },
      PrimaryEmailAddr: { Address: 'julie@example.com' },
    });
    // The created customer is linked to the account it came from, not pulled back as a second one.
    expect(await accountIdByName(db, tenant.tenantId, 'Créé dans la liste inc.')).toEqual([created]);
    expect(await outboxStates(db, tenant.tenantId)).toEqual(['pushed', 'pushed', 'pushed']);
    await tenant.pass();
    expect(customersNamed(tenant, 'Copié inc.')).toHaveLength(1);
    await tenant.expectInStep();
  });

  it('R15: a create whose worker dies after QuickBooks answered and before the commit is retried into the same customer', async () => {
    failCreatesAfterAnswer = 1;
    const account = await createAccountInList(db, tenant.tenantId, 'Retenté inc.', { fullName: 'Marc Roy' });
    await tenant.pass();
    expect(failCreatesAfterAnswer).toBe(0);
    expect(customersNamed(tenant, 'Retenté inc.')).toHaveLength(1);
    expect(await accountIdByName(db, tenant.tenantId, 'Retenté inc.')).toEqual([account]);
    await tenant.pass();
    expect(customersNamed(tenant, 'Retenté inc.')).toHaveLength(1);
    await tenant.expectInStep();
  });

  it('R17: with CRM editing allowed, an edit goes to QuickBooks as a sparse update, and an empty field clears only when cleared on purpose', async () => {
    await setTenant(db, tenant.tenantId, { allow_crm_edits: true });
    const account = await createAccountInList(db, tenant.tenantId, 'Édité inc.', {
      fullName: 'Anne Caron',
      phone1: '514 555-0001',
      mobile: '514 555-0002',
    });
    await tenant.pass();
    await userEdit(db, async (trx) => {
      await trx
        .updateTable('accounts')
        .set({ website: 'https://edite.example', city: 'Laval' })
        .where('id', '=', account)
        .execute();
      await trx.updateTable('contacts').set({ mobile: null }).where('account_id', '=', account).execute();
    });
    const writesBefore = tenant.fixture.sim.sim.apiRequestCount(tenant.realmId, 'write');
    await tenant.pass();
    expect(tenant.fixture.sim.sim.apiRequestCount(tenant.realmId, 'write')).toBe(writesBefore + 1);
    const customer = qboCustomerOf(tenant, 'Édité inc.');
    expect(customer['WebAddr']).toEqual({ URI: 'https://edite.example' });
    expect((customer['BillAddr'] as Record<string, unknown>)['City']).toBe('Laval');
    // QuickBooks clears a phone given as an empty string.
    const mobile: unknown = customer['Mobile'] ?? { FreeFormNumber: '' };
    expect(mobile).toEqual({ FreeFormNumber: '' });
    expect(customer['PrimaryPhone']).toEqual({ FreeFormNumber: '514 555-0001' });
    await tenant.expectInStep();

    // R16: the primary contact leaves and the next oldest succeeds it. Its name goes to QuickBooks;
    // the phone it lacks is no clear, so QuickBooks keeps its phone and the CRM gets it back.
    await userEdit(db, (trx) =>
      trx
        .insertInto('contacts')
        .values({ tenant_id: tenant.tenantId, account_id: account, language: 'fr', full_name: 'Paul Successeur' })
        .execute(),
    );
    await userEdit(db, (trx) =>
      trx.deleteFrom('contacts').where('account_id', '=', account).where('full_name', '=', 'Anne Caron').execute(),
    );
    await tenant.pass();
    const after = qboCustomerOf(tenant, 'Édité inc.');
    expect(after).toMatchObject({
      GivenName: 'Paul',
      FamilyName: 'Successeur',
      PrimaryPhone: { FreeFormNumber: '514 555-0001' },
    });
    const successor = await db
      .selectFrom('contacts')
      .select(['full_name', 'phone1', 'is_primary'])
      .where('account_id', '=', account)
      .executeTakeFirstOrThrow();
    expect(successor).toEqual({ full_name: 'Paul Successeur', phone1: '514 555-0001', is_primary: true });
    await tenant.expectInStep();
  });
});

describe('R8: one-way mode', () => {
  let tenant: TenantHarness;
  let db: Kysely<Database>;

  beforeAll(async () => {
    tenant = await startTenantHarness({
      tenantId: 'one-way',
      company: { customers: 5, transactions: 5, items: 3, seed: 72 },
    });
    db = tenant.fixture.database.db;
    await tenant.backfilled();
  });

  afterAll(async () => {
    await tenant?.stop();
  });

  it('R8: in one-way mode a CRM user’s edit to a list record is refused by the database, nothing is pushed, and going back to two-way pushes nothing refused', async () => {
    await setTenant(db, tenant.tenantId, { allow_crm_edits: true });
    const pending = await createAccountInList(db, tenant.tenantId, 'En attente inc.', {});
    await tenant.handle().executeUpdate(setModeUpdate, { args: [{ mode: 'one_way' }] });
    // The edit waiting when the mode changed is dropped, not pushed later.
    expect(await outboxStates(db, tenant.tenantId)).toEqual(['discarded']);
    const anyListAccount = await syncedAccountId(db, tenant.tenantId);
    expect(anyListAccount).not.toBe(pending);
    await expect(
      userEdit(db, (trx) =>
        trx.updateTable('accounts').set({ city: 'Refusé' }).where('id', '=', anyListAccount).execute(),
      ),
    ).rejects.toMatchObject({ code: 'QB008' });
    await expect(
      userEdit(db, (trx) =>
        trx
          .insertInto('automations')
          .values({ tenant_id: tenant.tenantId, name: 'relance', account_id: anyListAccount })
          .execute(),
      ),
    ).rejects.toMatchObject({ code: 'QB008' });
    const writesBefore = tenant.fixture.sim.sim.apiRequestCount(tenant.realmId, 'write');
    await tenant.pass();
    await tenant.handle().executeUpdate(setModeUpdate, { args: [{ mode: 'two_way' }] });
    await tenant.pass();
    expect(tenant.fixture.sim.sim.apiRequestCount(tenant.realmId, 'write')).toBe(writesBefore);
    expect(customersNamed(tenant, 'En attente inc.')).toHaveLength(0);
    expect(await outboxStates(db, tenant.tenantId)).toEqual(['discarded']);
    const count = await sql<{ n: number }>`SELECT count(*)::int AS n FROM crm_outbox`.execute(db);
    expect(count.rows[0]?.n).toBe(1);
  });
});
