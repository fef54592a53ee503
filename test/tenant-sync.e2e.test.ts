import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pauseSignal, resumeSignal, statusQuery, syncNowSignal } from '../workflows/definitions.js';
import { startTenantHarness, type TenantHarness } from './tenant-harness.js';

describe('tenant sync workflow, end to end (simulator + worker + Temporal + PostgreSQL)', () => {
  let tenant: TenantHarness;

  beforeAll(async () => {
    tenant = await startTenantHarness({
      tenantId: 'acme',
      company: { customers: 400, transactions: 1500, items: 25, seed: 7 },
    });
  });
  afterAll(async () => tenant?.stop());

  it('R5/R23: backfills from the start date, then verify finds 0 missing, 0 extra, 0 different', async () => {
    const status = await tenant.waitFor('the backfill', (s) => s.phase === 'incremental' && s.lastPass !== null);
    expect(status.lastError).toBeNull();
    expect(status.entities.Customer.done).toBeGreaterThan(0);
    const report = await tenant.expectInStep();
    expect(report.counts.Invoice.qbo).toBeGreaterThan(0);
  });

  it('R23: verify counts CRM rows linked to another QuickBooks company as extra', async () => {
    const { db } = tenant.fixture.database;
    // As if the tenant had been re-pointed at another company and its pass had brought one customer in.
    const account = await db
      .insertInto('accounts')
      .values({ tenant_id: tenant.tenantId, language: 'fr', company_name: 'Another company’s customer' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const otherRealm = `${tenant.realmId}9`;
    const link = { qbo_id: '77', realm_id: otherRealm };
    await db
      .insertInto('qbo_links')
      .values({
        tenant_id: tenant.tenantId,
        realm_id: otherRealm,
        entity_type: 'Customer',
        qbo_id: link.qbo_id,
        account_id: account.id,
        sync_token: '0',
        qbo_last_updated_time: '2026-01-01T00:00:00Z',
        qbo_updated_at: new Date('2026-01-01T00:00:00Z'),
      })
      .execute();
    try {
      const report = await tenant.verify();
      expect(report.extra).toBe(1);
      expect(report.records).toContainEqual({
        entity: 'Customer',
        qboId: link.qbo_id,
        kind: 'extra',
        fields: [`realm ${otherRealm}`],
      });
    } finally {
      await db
        .deleteFrom('qbo_links')
        .where('tenant_id', '=', tenant.tenantId)
        .where('realm_id', '=', otherRealm)
        .execute();
    }
  });

  it('R20/R22: edits, deactivations and hard deletes in QBO arrive on the next pass', async () => {
    const { sim } = tenant.fixture.sim;
    const state = tenant.company();
    const customerIds = state['Customer']!.filter((c) => c.Active !== false && !c.Job).map((c) => c.Id);
    sim.adminEditCustomer(tenant.realmId, customerIds[0]!, { CompanyName: "Les Entreprises d'Édouard inc." });
    sim.adminSetActive(tenant.realmId, 'Customer', customerIds[1]!, false);
    sim.adminDelete(tenant.realmId, 'Invoice', state['Invoice']![0]!.Id);
    const { lastPass } = await tenant.pass();
    // The pass reads again what sits on its window's edges; only these three change the CRM.
    expect(lastPass!.changed).toBe(3);
    expect(lastPass!.records).toBeGreaterThanOrEqual(3);
    await tenant.expectInStep();
  });

  it('R24: a paused tenant runs no pass, and catches up at once after resume', async () => {
    const handle = tenant.handle();
    await handle.signal(pauseSignal, { reason: 'support' });
    const paused = await tenant.waitFor('pause', (s) => s.paused);
    expect(paused.pausedReason).toBe('support');
    const active = tenant.company()['Customer']!.find((c) => c.Active !== false && !c.Job)!;
    tenant.fixture.sim.sim.adminEditCustomer(tenant.realmId, active.Id, { CompanyName: 'Changed While Paused Ltd' });
    await handle.signal(syncNowSignal, { reason: 'ignored while paused' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await tenant.verify()).different).toBe(1);
    const before = (await handle.query(statusQuery)).lastPass?.finishedAt ?? '';
    await handle.signal(resumeSignal);
    const resumed = await tenant.waitFor(
      'the catch-up pass',
      (s) => !s.paused && (s.lastPass?.finishedAt ?? '') > before,
    );
    expect(resumed.lastError).toBeNull();
    await tenant.expectInStep();
  });
});
