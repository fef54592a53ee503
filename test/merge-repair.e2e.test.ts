import type { ChildProcess } from 'node:child_process';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MergePair, RepairOutcome } from '../common/repair-types.js';
import { describeRepair } from '../common/repair-types.js';
import { asSync } from '../db/crm-rules.js';
import type { Database } from '../db/schema.js';
import { repairSignal, repairUpdate, statusQuery } from '../workflows/definitions.js';
import { duplicateCounts } from './duplicate-counts.js';
import { startCli } from './cli.js';
import { startTenantHarness, workerProcessEnv, type TenantHarness } from './tenant-harness.js';

/**
 * R21 end to end: a customer merged in the simulator, repaired three ways (asked for with the
 * update, as the webhook receiver's repair signal, and detected by the pull alone), each ending with
 * verify at 0 differences, one CRM account where there were two, and the merged-away account's
 * CRM-only data (a non-primary contact, automations, a list of the CRM's own) on the survivor.
 */
const company = { customers: 24, transactions: 160, items: 8, seed: 2121 };

/** CRM-only data a user added to the account that is about to be merged away. */
interface CrmOnlyData {
  readonly contactId: number;
  readonly primaryContactId: number;
  readonly accountAutomationId: number;
  readonly contactAutomationId: number;
  readonly listId: number;
}

interface Merge extends MergePair {
  readonly survivorAccountId: number;
  readonly mergedAccountId: number;
  readonly survivorPrimaryContactId: number;
  readonly opportunities: number;
  readonly accounts: number;
  readonly crmOnly: CrmOnlyData;
}

/** Top-level customers that hold opportunities, by QBO id, with their accounts. */
async function customersWithOpportunities(db: Kysely<Database>, tenantId: string) {
  const rows = await sql<{ qbo_id: string; account_id: number }>`
    SELECT l.qbo_id, l.account_id FROM qbo_links l
    WHERE l.tenant_id = ${tenantId} AND l.entity_type = 'Customer' AND l.parent_qbo_id IS NULL
      AND l.merged_into_qbo_id IS NULL
      AND EXISTS (SELECT 1 FROM opportunities o WHERE o.account_id = l.account_id AND o.deleted_at IS NULL)
      AND EXISTS (SELECT 1 FROM contacts c WHERE c.account_id = l.account_id AND c.is_primary)
      AND NOT EXISTS (SELECT 1 FROM qbo_links s WHERE s.tenant_id = l.tenant_id AND s.parent_qbo_id = l.qbo_id)
    ORDER BY l.qbo_id::int`.execute(db);
  return rows.rows;
}

async function addCrmOnlyData(db: Kysely<Database>, tenantId: string, accountId: number): Promise<CrmOnlyData> {
  // Written as a CRM user would (not as the sync): these are the user's own data.
  const primary = await db
    .selectFrom('contacts')
    .select('id')
    .where('account_id', '=', accountId)
    .where('is_primary', '=', true)
    .executeTakeFirstOrThrow();
  const contact = await db
    .insertInto('contacts')
    .values({ tenant_id: tenantId, account_id: accountId, full_name: 'Colleague added in the CRM', language: 'fr' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const list = await db
    .insertInto('lists')
    .values({ tenant_id: tenantId, name: `Newsletter ${accountId}` })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('list_members')
    .values({ tenant_id: tenantId, list_id: list.id, account_id: accountId })
    .execute();
  await db
    .insertInto('list_members')
    .values({ tenant_id: tenantId, list_id: list.id, contact_id: contact.id })
    .execute();
  const automation = (values: { account_id?: number; contact_id?: number }) =>
    db
      .insertInto('automations')
      .values({ tenant_id: tenantId, name: 'Warranty reminder', definition: '{"after":"1 year"}', ...values })
      .returning('id')
      .executeTakeFirstOrThrow();
  return {
    contactId: contact.id,
    primaryContactId: primary.id,
    accountAutomationId: (await automation({ account_id: accountId })).id,
    contactAutomationId: (await automation({ contact_id: contact.id })).id,
    listId: list.id,
  };
}

/** Everything a repair may touch, to prove a second one changes nothing. */
async function crmSnapshot(db: Kysely<Database>, tenantId: string): Promise<string> {
  const tables = ['accounts', 'contacts', 'opportunities', 'list_members', 'automations'] as const;
  const rows = await Promise.all(
    tables.map((table) => db.selectFrom(table).selectAll().where('tenant_id', '=', tenantId).orderBy('id').execute()),
  );
  const links = await db
    .selectFrom('qbo_links')
    .select(['entity_type', 'qbo_id', 'account_id', 'opportunity_id', 'merged_into_qbo_id'])
    .where('tenant_id', '=', tenantId)
    .orderBy('entity_type')
    .orderBy('qbo_id')
    .execute();
  return JSON.stringify([...rows, links]);
}

/** Picks two customers not merged yet, gives the one to merge away CRM-only data, and merges them in QBO. */
async function mergeInQbo(tenant: TenantHarness, used: Set<string>): Promise<Merge> {
  const db = tenant.fixture.database.db;
  const customers = tenant.company()['Customer'] ?? [];
  const active = new Set(customers.filter((c) => c.Active !== false).map((c) => c.Id));
  const candidates = (await customersWithOpportunities(db, tenant.tenantId)).filter(
    (c) => !used.has(c.qbo_id) && active.has(c.qbo_id),
  );
  const [survivor, merged] = candidates;
  if (!survivor || !merged) throw new Error('the company has too few customers with opportunities');
  used.add(survivor.qbo_id);
  used.add(merged.qbo_id);
  const crmOnly = await addCrmOnlyData(db, tenant.tenantId, merged.account_id);
  const count = async (accountId: number) =>
    Number(
      (
        await db
          .selectFrom('opportunities')
          .select(({ fn }) => fn.countAll<string>().as('n'))
          .where('account_id', '=', accountId)
          .where('deleted_at', 'is', null)
          .executeTakeFirstOrThrow()
      ).n,
    );
  const accounts = (await duplicateCounts(db, tenant.tenantId)).accounts;
  const survivorPrimary = await db
    .selectFrom('contacts')
    .select('id')
    .where('account_id', '=', survivor.account_id)
    .where('is_primary', '=', true)
    .executeTakeFirstOrThrow();
  const opportunities = (await count(survivor.account_id)) + (await count(merged.account_id));
  tenant.fixture.sim.sim.adminMerge(tenant.realmId, merged.qbo_id, survivor.qbo_id);
  return {
    survivorQboId: survivor.qbo_id,
    mergedQboId: merged.qbo_id,
    survivorAccountId: survivor.account_id,
    mergedAccountId: merged.account_id,
    survivorPrimaryContactId: survivorPrimary.id,
    opportunities,
    accounts,
    crmOnly,
  };
}

/** One account where there were two, nothing lost, and verify at 0 differences. */
async function expectRepaired(tenant: TenantHarness, merge: Merge): Promise<void> {
  const db = tenant.fixture.database.db;
  await tenant.pass();
  await tenant.expectInStep();
  const { tenantId } = tenant;
  expect((await duplicateCounts(db, tenantId)).accounts).toBe(merge.accounts - 1);
  expect(await db.selectFrom('accounts').select('id').where('id', '=', merge.mergedAccountId).execute()).toEqual([]);
  const link = await db
    .selectFrom('qbo_links')
    .select(['account_id', 'merged_into_qbo_id'])
    .where('tenant_id', '=', tenantId)
    .where('entity_type', '=', 'Customer')
    .where('qbo_id', '=', merge.mergedQboId)
    .executeTakeFirstOrThrow();
  expect(link).toEqual({ account_id: merge.survivorAccountId, merged_into_qbo_id: merge.survivorQboId });
  const live = await db
    .selectFrom('opportunities')
    .select(({ fn }) => fn.countAll<string>().as('n'))
    .where('account_id', '=', merge.survivorAccountId)
    .where('deleted_at', 'is', null)
    .executeTakeFirstOrThrow();
  expect(Number(live.n)).toBe(merge.opportunities);
  // Contacts: all on the survivor; its own primary contact is still the one QBO syncs (R16).
  const contacts = await db
    .selectFrom('contacts')
    .select(['id', 'account_id', 'is_primary'])
    .where(
      sql<boolean>`id = ANY(${[merge.crmOnly.contactId, merge.crmOnly.primaryContactId, merge.survivorPrimaryContactId]}::int8[])`,
    )
    .orderBy('id')
    .execute();
  expect(contacts).toHaveLength(3);
  for (const contact of contacts) {
    expect(contact.account_id).toBe(merge.survivorAccountId);
    expect(contact.is_primary).toBe(contact.id === merge.survivorPrimaryContactId);
  }
  const inQuickbooksList = await sql<{ contact_id: number }>`
    SELECT m.contact_id FROM list_members m JOIN lists l ON l.id = m.list_id
    WHERE l.is_quickbooks AND m.contact_id = ${merge.crmOnly.primaryContactId}`.execute(db);
  expect(inQuickbooksList.rows).toEqual([]);
  const automations = await db
    .selectFrom('automations')
    .select(['id', 'account_id', 'contact_id'])
    .where(sql<boolean>`id = ANY(${[merge.crmOnly.accountAutomationId, merge.crmOnly.contactAutomationId]}::int8[])`)
    .orderBy('id')
    .execute();
  expect(automations).toEqual([
    { id: merge.crmOnly.accountAutomationId, account_id: merge.survivorAccountId, contact_id: null },
    { id: merge.crmOnly.contactAutomationId, account_id: null, contact_id: merge.crmOnly.contactId },
  ]);
  const members = await db
    .selectFrom('list_members')
    .select(['account_id', 'contact_id'])
    .where('list_id', '=', merge.crmOnly.listId)
    .orderBy('id')
    .execute();
  expect(members).toHaveLength(2);
  expect(members).toEqual(
    expect.arrayContaining([
      { account_id: merge.survivorAccountId, contact_id: null },
      { account_id: null, contact_id: merge.crmOnly.contactId },
    ]),
  );
}

describe('R21: merge repair on the simulator', () => {
  let tenant: TenantHarness;
  let db: Kysely<Database>;
  const used = new Set<string>();

  beforeAll(async () => {
    tenant = await startTenantHarness({ tenantId: 'merge', company, startDate: '2000-01-01' });
    db = tenant.fixture.database.db;
    await tenant.backfilled();
  }, 300_000);

  afterAll(async () => {
    await tenant?.stop();
  });

  async function lastRepairAfter(previous: string | undefined): Promise<RepairOutcome> {
    const status = await tenant.waitFor('a new repair', (s) => {
      const id = s.lastRepair?.result?.workflowId ?? (s.lastRepair ? 'failed' : undefined);
      return id !== undefined && id !== previous;
    });
    expect(status.lastRepair?.error ?? null).toBeNull();
    return status.lastRepair!;
  }

  const repair = (request: { kind: 'merge' | 'full'; survivorQboId?: string; mergedQboId?: string }) =>
    tenant.handle().executeUpdate(repairUpdate, { args: [{ requestedBy: 'test', ...request }] });

  let first: Merge;

  it('R21: support asks for the repair (the update) right after a merge: one account, nothing lost, verify 0', async () => {
    first = await mergeInQbo(tenant, used);
    const outcome = await repair({ kind: 'merge', survivorQboId: first.survivorQboId, mergedQboId: first.mergedQboId });
    console.log(`update: ${describeRepair(outcome.result!)}`);
    expect(outcome.outcome).toBe('repaired');
    expect(outcome.result).toMatchObject({
      mergesRepaired: 1,
      accountsRemoved: 1,
      automationsMoved: 1,
      listMembershipsMoved: 1,
      mergesRefused: [],
    });
    expect(outcome.result!.contactsMoved).toBeGreaterThanOrEqual(2);
    await expectRepaired(tenant, first);
  }, 120_000);

  it('R21: a webhook Merge event (the receiver sends the repair signal): repaired between passes', async () => {
    const merge = await mergeInQbo(tenant, used);
    const previous = (await tenant.status()).lastRepair?.result?.workflowId;
    await tenant.handle().signal(repairSignal, {
      requestedBy: 'webhook',
      survivorQboId: merge.survivorQboId,
      mergedQboId: merge.mergedQboId,
    });
    const outcome = await lastRepairAfter(previous);
    console.log(`signal: ${describeRepair(outcome.result!)}`);
    expect(outcome.result).toMatchObject({ mergesRepaired: 1, accountsRemoved: 1 });
    await expectRepaired(tenant, merge);
  }, 120_000);

  it('R21: no webhook, no support: the pull sees the merged-away customer go inactive as its transactions move, and repairs it', async () => {
    const merge = await mergeInQbo(tenant, used);
    const previous = (await tenant.status()).lastRepair?.result?.workflowId;
    await tenant.pass();
    const outcome = await lastRepairAfter(previous);
    console.log(`detected: ${describeRepair(outcome.result!)}`);
    expect(outcome.result).toMatchObject({ mergesRepaired: 1, accountsRemoved: 1 });
    expect((await tenant.status()).pendingRepairs).toEqual([]);
    await expectRepaired(tenant, merge);
  }, 120_000);

  it('R21: a repair run again changes nothing, and a full reconcile finds nothing to fix', async () => {
    const before = await crmSnapshot(db, tenant.tenantId);
    const again = await repair({ kind: 'merge', survivorQboId: first.survivorQboId, mergedQboId: first.mergedQboId });
    console.log(`again: ${describeRepair(again.result!)}`);
    expect(again.result).toMatchObject({
      mergesRepaired: 0,
      opportunitiesMoved: 0,
      contactsMoved: 0,
      listMembershipsMoved: 0,
      automationsMoved: 0,
      accountsRemoved: 0,
      mergesRefused: [],
    });
    const full = await repair({ kind: 'full' });
    console.log(`full: ${describeRepair(full.result!)}`);
    expect(full.result?.reconcile).toMatchObject({ missing: 0, different: 0, extra: 0, rewritten: 0, deleted: 0 });
    expect(await crmSnapshot(db, tenant.tenantId)).toBe(before);
  }, 120_000);

  it('R21: a full reconcile rewrites what differs from QBO whatever version the CRM thinks it has, and leaves two-way CRM edits to the push', async () => {
    const [customer] = await customersWithOpportunities(db, tenant.tenantId);
    const opportunity = await db
      .selectFrom('opportunities')
      .select(['id', 'title'])
      .where('account_id', '=', customer!.account_id)
      .orderBy('id')
      .executeTakeFirstOrThrow();
    // A row changed behind the sync's back (a restore, a manual fix gone wrong): same version, other data.
    await asSync(db, (trx) =>
      trx
        .updateTable('opportunities')
        .set({ title: 'Changed behind the sync' })
        .where('id', '=', opportunity.id)
        .execute(),
    );
    // A CRM user's edit of a QuickBooks account (allowed, R17), not pushed to QBO yet.
    await db.updateTable('tenants').set({ allow_crm_edits: true }).where('id', '=', tenant.tenantId).execute();
    const account = await db
      .selectFrom('accounts')
      .select('company_name')
      .where('id', '=', customer!.account_id)
      .executeTakeFirstOrThrow();
    const editAccount = (name: string) =>
      db.updateTable('accounts').set({ company_name: name }).where('id', '=', customer!.account_id).execute();
    await editAccount('Edited by a CRM user');
    expect((await tenant.verify()).different).toBe(2);
    const full = await repair({ kind: 'full' });
    console.log(`full after drift: ${describeRepair(full.result!)}`);
    expect(full.result?.reconcile).toMatchObject({ different: 2, rewritten: 1, keptCrmEdits: 1 });
    const after = await db
      .selectFrom('opportunities')
      .innerJoin('accounts', 'accounts.id', 'opportunities.account_id')
      .select(['opportunities.title', 'accounts.company_name'])
      .where('opportunities.id', '=', opportunity.id)
      .executeTakeFirstOrThrow();
    expect(after).toEqual({ title: opportunity.title, company_name: 'Edited by a CRM user' });
    await editAccount(account.company_name);
    await tenant.expectInStep();
    const status = await tenant.handle().query(statusQuery);
    expect(Date.parse(status.nextFullReconcileAt!) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
  }, 120_000);
});

describe('R21: a worker killed in the middle of a merge repair', () => {
  let tenant: TenantHarness;
  let worker: ChildProcess | undefined;
  let env: Record<string, string>;

  const startWorker = async () => (await startCli(['worker'], env, /Worker polling/)).child;

  beforeAll(async () => {
    tenant = await startTenantHarness({
      tenantId: 'merge-kill',
      company: { ...company, seed: 2122 },
      startDate: '2000-01-01',
      // Real worker processes, killed with SIGKILL by the test.
      worker: false,
    });
    env = workerProcessEnv(tenant, inject('temporalAddress'));
    worker = await startWorker();
    await tenant.backfilled();
  }, 300_000);

  afterAll(async () => {
    worker?.kill('SIGKILL');
    await tenant?.stop();
  });

  it('R21: the repair goes on from the step it was in on another worker, and ends as if nothing happened', async () => {
    const db = tenant.fixture.database.db;
    const merge = await mergeInQbo(tenant, new Set());
    // A CRM user's transaction holds one of the merged-away account's contacts, so the repair stops
    // in its contacts step (opportunities already moved and committed) until the worker is killed.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holding = db.transaction().execute(async (trx) => {
      await trx.selectFrom('contacts').select('id').where('id', '=', merge.crmOnly.contactId).forUpdate().execute();
      locked();
      await released;
    });
    await isLocked;
    const update = await tenant.handle().startUpdate(repairUpdate, {
      args: [
        { kind: 'merge', requestedBy: 'test', survivorQboId: merge.survivorQboId, mergedQboId: merge.mergedQboId },
      ],
      waitForStage: 'ACCEPTED',
    });
    const child = tenant.client.workflow.getHandle(`tenant-repair-${tenant.tenantId}-1`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const pending = await child
        .describe()
        .then((d) => d.raw.pendingActivities ?? [])
        .catch(() => []);
      if (pending.some((a) => a.activityType?.name === 'moveMergedContacts' && a.attempt === 1)) break;
      if (Date.now() > deadline) throw new Error('the repair never reached its contacts step');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const moved = await db
      .selectFrom('opportunities')
      .select('id')
      .where('account_id', '=', merge.mergedAccountId)
      .execute();
    expect(moved).toEqual([]);
    const exited = new Promise((resolve) => worker!.once('exit', resolve));
    worker!.kill('SIGKILL');
    await exited;
    release();
    await holding;
    worker = await startWorker();

    const outcome = await update.result();
    console.log(`after a kill: ${describeRepair(outcome.result!)}`);
    expect(outcome.outcome).toBe('repaired');
    expect(outcome.result).toMatchObject({ mergesRepaired: 1, accountsRemoved: 1, automationsMoved: 1 });
    const attempts = ((await child.fetchHistory()).events ?? [])
      .map((event) => event.activityTaskStartedEventAttributes?.attempt)
      .filter((attempt): attempt is number => typeof attempt === 'number');
    expect(Math.max(...attempts)).toBeGreaterThan(1);
    await expectRepaired(tenant, merge);
    const counts = await duplicateCounts(db, tenant.tenantId);
    expect(counts.opportunities).toBe(counts.opportunityLinks);
  }, 240_000);
});
