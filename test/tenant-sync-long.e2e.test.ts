import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pauseSignal, resumeSignal, tenantWorkflowId } from '../workflows/definitions.js';
import { historyFigures } from './history.js';
import { startTenantHarness, type TenantHarness } from './tenant-harness.js';

const day = 86_400_000;

describe('a tenant over 30 simulated days and a 45-day pause (R20, R22, R23, R24)', () => {
  let tenant: TenantHarness;
  let simClock = Date.now();

  beforeAll(async () => {
    tenant = await startTenantHarness({
      tenantId: 'longlife',
      company: { customers: 300, transactions: 1200, items: 25, seed: 21, now: () => simClock },
      // Small, so that this test's 30 passes cross at least one continue-as-new.
      input: { continueAsNewAfterEvents: 150 },
    });
  });
  afterAll(async () => tenant?.stop());

  function churn(dayNumber: number) {
    const { sim } = tenant.fixture.sim;
    const state = tenant.company();
    const active = state['Customer']!.filter((c) => c.Active !== false && !c.Job);
    sim.adminEditCustomer(tenant.realmId, active[dayNumber % active.length]!.Id, {
      CompanyName: `Client du jour ${dayNumber}`,
    });
    if (dayNumber % 3 === 0) {
      const invoices = state['Invoice']!.filter((i) => (i.TxnDate ?? '') >= '2024-01-01');
      sim.adminDelete(tenant.realmId, 'Invoice', invoices[dayNumber % invoices.length]!.Id);
    }
    if (dayNumber % 5 === 0)
      sim.adminSetActive(tenant.realmId, 'Customer', active[(dayNumber * 7) % active.length]!.Id, false);
    if (dayNumber % 10 === 0) {
      const categories = state['Item']!.filter((i) => i.Type === 'Category' && i.Active !== false);
      if (categories[0]) sim.adminSetActive(tenant.realmId, 'Item', categories[0].Id, false);
    }
  }

  it('stays in step through 30 days of edits, deactivations and hard deletes, with a short history', async () => {
    await tenant.waitFor('the backfill', (s) => s.phase === 'incremental' && s.lastPass !== null);
    await tenant.expectInStep();
    for (let dayNumber = 1; dayNumber <= 30; dayNumber += 1) {
      simClock += day;
      churn(dayNumber);
      await tenant.pass();
    }
    await tenant.expectInStep();
    expect((await tenant.status()).run).toBeGreaterThan(1);

    const figures = await historyFigures(tenant.client, tenantWorkflowId(tenant.tenantId));
    expect(figures.maxEventsPerRun).toBeLessThan(4096);
    expect(figures.largestPayloadBytes).toBeLessThan(16 * 1024);
    const customers = tenant.company()['Customer']!;
    const names = customers.map((c) => c.CompanyName ?? c.DisplayName).filter((n): n is string => !!n && n.length > 6);
    const leaked = names.filter((name) => figures.payloadTexts.some((text) => text.includes(name)));
    expect(leaked).toEqual([]);
  });

  it('catches up after a 45-day pause, past CDC reach, finding hard deletes by reconciliation', async () => {
    const handle = tenant.handle();
    await handle.signal(pauseSignal, { reason: 'support: long pause' });
    await tenant.waitFor('pause', (s) => s.paused);
    simClock += 45 * day;
    for (let dayNumber = 31; dayNumber <= 36; dayNumber += 1) churn(dayNumber);
    tenant.fixture.sim.sim.adminBulkEdit(tenant.realmId, 1500);
    // Passes read up to a few seconds before QBO's now (records may still be committing there): let
    // the simulated clock move on past the edits, as a real one would.
    simClock += 10_000;
    const before = (await tenant.status()).lastPass?.finishedAt ?? '';
    await handle.signal(resumeSignal);
    const resumed = await tenant.waitFor(
      'the catch-up pass',
      (s) => !s.paused && (s.lastPass?.finishedAt ?? '') > before,
      180_000,
    );
    expect(resumed.lastError).toBeNull();
    await tenant.expectInStep();
  }, 300_000);
});
