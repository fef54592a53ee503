import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantWorkflowId } from '../workflows/definitions.js';
import { historyFigures } from './history.js';
import { startTenantHarness, type TenantHarness } from './tenant-harness.js';

describe('a company of 20,000 customers and 80,000 transactions (R5, R23, R25)', () => {
  let tenant: TenantHarness;

  beforeAll(async () => {
    tenant = await startTenantHarness({
      tenantId: 'scale',
      company: { customers: 20_000, transactions: 80_000, items: 60, seed: 11 },
      // A start date before every record: the whole company is in scope.
      startDate: '2000-01-01',
    });
  }, 300_000);
  afterAll(async () => tenant?.stop());

  it('R23: backfills whole, with edits and two 5,000-record same-second bursts made during it; verify 0/0/0; small history', async () => {
    const { sim } = tenant.fixture.sim;
    // A burst of customers while customers are being read, then one of transactions while those are.
    await tenant.waitFor(
      'customers to be under way',
      (s) => s.phase === 'backfill' && s.entities.Customer.done > 0,
      300_000,
    );
    const customerBurst = sim.adminBulkEdit(tenant.realmId, 5000, 'Customer');
    const customers = tenant.company()['Customer']!.filter((c) => !c.Job && c.Active !== false);
    sim.adminEditCustomer(tenant.realmId, customers[7]!.Id, { CompanyName: 'Renommé pendant le rattrapage' });
    sim.adminSetActive(tenant.realmId, 'Customer', customers[8]!.Id, false);

    await tenant.waitFor(
      'invoices to be under way',
      (s) => s.phase === 'backfill' && s.entities.Invoice.done > 0,
      600_000,
    );
    const transactionBurst = sim.adminBulkEdit(tenant.realmId, 5000);
    expect(new Set(transactionBurst.edited.map((e) => e.entity)).size).toBeGreaterThan(2);

    // The backfill pass's own duration, from its first page to its last.
    const { records, seconds } = await tenant.backfilled(900_000);
    const requests = sim.apiRequestCount(tenant.realmId);
    // Records a burst moved past the pass's end are read by the next pass, not this one.
    expect(records).toBeGreaterThan(80_000);

    // Passes read up to a few seconds before QBO's clock: one more pass is past the bursts' seconds.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    await tenant.pass();
    const report = await tenant.expectInStep();
    expect(report.failed).toBe(0);
    expect(report.counts.Customer.crm).toBeGreaterThanOrEqual(20_000);
    expect(
      report.counts.Estimate.crm +
        report.counts.Invoice.crm +
        report.counts.CreditMemo.crm +
        report.counts.SalesReceipt.crm,
    ).toBe(80_000);

    // Every burst record is held at the burst's version or later (verify also checks each SyncToken).
    for (const burst of [customerBurst, transactionBurst]) {
      const ids = burst.edited.map((e) => e.id);
      const caughtUp = await tenant.fixture.database.db
        .selectFrom('qbo_links')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('tenant_id', '=', tenant.tenantId)
        .where((eb) =>
          eb.or(
            [...new Set(burst.edited.map((e) => e.entity))].map((entity) =>
              eb.and([
                eb('entity_type', '=', entity),
                eb(
                  'qbo_id',
                  'in',
                  burst.edited.filter((e) => e.entity === entity).map((e) => e.id),
                ),
              ]),
            ),
          ),
        )
        .where('qbo_updated_at', '>=', new Date(burst.at))
        .executeTakeFirstOrThrow();
      expect(Number(caughtUp.n)).toBe(ids.length);
    }

    const figures = await historyFigures(tenant.client, tenantWorkflowId(tenant.tenantId));
    console.log(
      `R23 scale: ${records} records backfilled in ${seconds.toFixed(1)} s = ${(records / seconds).toFixed(0)} records/s, ${requests} QBO requests; ` +
        `history ${figures.runs} run(s), at most ${figures.maxEventsPerRun} events in a run, ` +
        `${((figures.totalBytes / records) * 1000).toFixed(0)} bytes per 1,000 records, largest payload ${figures.largestPayloadBytes} bytes`,
    );
    expect(figures.maxEventsPerRun).toBeLessThan(4096);
    expect(figures.largestPayloadBytes).toBeLessThan(16 * 1024);
    const names = customers
      .filter((_, index) => index % 10 === 0)
      .map((c) => c.CompanyName ?? c.DisplayName)
      .filter((name): name is string => !!name && name.length > 6);
    expect(names.length).toBeGreaterThan(1000);
    expect(names.filter((name) => figures.payloadTexts.some((text) => text.includes(name)))).toEqual([]);
  }, 1_200_000);
});
