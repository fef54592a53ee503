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
