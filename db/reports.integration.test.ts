import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSync } from './crm-rules.js';
import { forecastByMonth, pipelineByStage, productBuyers, revenueByPeriod } from './reports.js';
import type { Database, OpportunityStage, SalesDocumentEntityType } from './schema.js';
import { createTestDatabase, type TestDatabase } from '../test/database.js';

// A hand-built data set whose answers are worked out below by hand.
let testDb: TestDatabase;
let db: Kysely<Database>;
const tenant = 'reports';

interface Opp {
  account: number;
  entity: SalesDocumentEntityType;
  stage: OpportunityStage;
  probability: number;
  date: string;
  close?: string;
  total: number;
  lines?: [code: string, qty: number, amount: number][];
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = testDb.db;
  await asSync(db, async (trx) => {
    await trx
      .insertInto('tenants')
      .values({ id: tenant, name: 'Reports', start_date: '2025-01-01', sync_language: 'en' })
      .execute();
    await trx.insertInto('tenants').values({ id: 'noise', name: 'Another tenant', start_date: '2025-01-01' }).execute();
    const account = async (tenantId: string, name: string, email: string) => {
      const a = await trx
        .insertInto('accounts')
        .values({ tenant_id: tenantId, company_name: name, language: 'fr' })
        .returning('id')
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('contacts')
        .values({ tenant_id: tenantId, account_id: a.id, full_name: `${name} contact`, email, language: 'fr' })
        .execute();
      return a.id;
    };
    const alpha = await account(tenant, 'Alpha', 'a@alpha.ca');
    const beta = await account(tenant, 'Beta', 'b@beta.ca');
    const gamma = await account(tenant, 'Gamma', 'g@gamma.ca');
    const other = await account('noise', 'Noise', 'n@noise.ca');
    const opps: (Opp & { tenant?: string })[] = [
      // Open: forecast. Jan: 1000 × 40 % + 500 × 90 %; Feb (expected close): 2000 × 80 %.
      { account: alpha, entity: 'Estimate', stage: 'qualified', probability: 40, date: '2026-01-10', total: 1000 },
      { account: beta, entity: 'Estimate', stage: 'advanced', probability: 90, date: '2026-01-20', total: 500 },
      {
        account: gamma,
        entity: 'Estimate',
        stage: 'advanced',
        probability: 80,
        date: '2026-01-05',
        close: '2026-02-28',
        total: 2000,
      },
      { account: alpha, entity: 'Estimate', stage: 'lost', probability: 0, date: '2026-01-15', total: 700 },
      // Won: revenue. Jan 300 + 200 = 500; Feb none; Mar 800 − 100 (credit note) = 700.
      {
        account: alpha,
        entity: 'Invoice',
        stage: 'won',
        probability: 100,
        date: '2025-01-10',
        total: 300,
        lines: [['PUMP', 2, 300]],
      },
      {
        account: beta,
        entity: 'SalesReceipt',
        stage: 'won',
        probability: 100,
        date: '2025-01-25',
        total: 200,
        lines: [
          ['pump', 1, 150],
          ['HOSE', 5, 50],
        ],
      },
      {
        account: gamma,
        entity: 'Invoice',
        stage: 'won',
        probability: 100,
        date: '2025-03-03',
        total: 800,
        lines: [['PUMP', 4, 800]],
      },
      {
        account: gamma,
        entity: 'CreditMemo',
        stage: 'won',
        probability: 100,
        date: '2025-03-20',
        total: -100,
        lines: [['HOSE', -1, -100]],
      },
      {
        account: other,
        entity: 'Invoice',
        stage: 'won',
        probability: 100,
        date: '2025-01-10',
        total: 9999,
        lines: [['PUMP', 9, 9999]],
        tenant: 'noise',
      },
      {
        account: other,
        entity: 'Estimate',
        stage: 'qualified',
        probability: 40,
        date: '2026-01-10',
        total: 9999,
        tenant: 'noise',
      },
    ];
    for (const o of opps) {
      const tenantId = o.tenant ?? tenant;
      const row = await trx
        .insertInto('opportunities')
        .values({
          tenant_id: tenantId,
          account_id: o.account,
          source_entity: o.entity,
          title: `${o.entity}-${o.date}`,
          txn_date: o.date,
          expected_close_date: o.close ?? null,
          stage: o.stage,
          stage_label: o.stage,
          probability: o.probability,
          total_before_tax: o.total,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      for (const [i, [code, qty, amount]] of (o.lines ?? []).entries()) {
        await trx
          .insertInto('opportunity_lines')
          .values({
            tenant_id: tenantId,
            opportunity_id: row.id,
            line_number: i + 1,
            product_code: code,
            quantity: qty,
            unit_price: amount / qty,
            amount,
          })
          .execute();
      }
    }
  });
});
afterAll(async () => {
  await testDb?.drop();
});

describe('reports on a hand-built data set', () => {
  it('forecast by month: amount and amount × probability of open opportunities, by expected close month', async () => {
    expect(await forecastByMonth(db, tenant)).toEqual([
      { month: '2026-01-01', open_opportunities: 2, open_amount: '1500.00', weighted_amount: '850.00' },
      { month: '2026-02-01', open_opportunities: 1, open_amount: '2000.00', weighted_amount: '1600.00' },
    ]);
  });

  it('revenue by month against the month before, credit notes netted, empty months at zero', async () => {
    expect(await revenueByPeriod(db, tenant, 'month')).toEqual([
      { period_start: '2025-01-01', revenue: '500.00', previous_revenue: null, change: null, change_percent: null },
      {
        period_start: '2025-02-01',
        revenue: '0',
        previous_revenue: '500.00',
        change: '-500.00',
        change_percent: '-100.0',
      },
      { period_start: '2025-03-01', revenue: '700.00', previous_revenue: '0', change: '700.00', change_percent: null },
    ]);
    expect(await revenueByPeriod(db, tenant, 'quarter')).toEqual([
      { period_start: '2025-01-01', revenue: '1200.00', previous_revenue: null, change: null, change_percent: null },
    ]);
  });

  it('buyers of a product code (case-insensitive), and those whose last purchase is older than N months', async () => {
    const pump = await productBuyers(db, tenant, 'pump');
    expect(pump.map((b) => [b.company_name, b.email, b.last_purchase, b.quantity, b.amount])).toEqual([
      ['Alpha', 'a@alpha.ca', '2025-01-10', '2.000000', '300.00'],
      ['Beta', 'b@beta.ca', '2025-01-25', '1.000000', '150.00'],
      ['Gamma', 'g@gamma.ca', '2025-03-03', '4.000000', '800.00'],
    ]);
    // Warranty of 13 months, as of 2026-02-15: purchases on or before 2025-01-15.
    expect(
      (await productBuyers(db, tenant, 'PUMP', { olderThanMonths: 13, asOf: '2026-02-15' })).map((b) => b.company_name),
    ).toEqual(['Alpha']);
    // Gamma never bought HOSE, it was only credited for it: not a buyer. Beta bought 5.
    expect((await productBuyers(db, tenant, 'HOSE')).map((b) => [b.company_name, b.amount])).toEqual([
      ['Beta', '50.00'],
    ]);
    expect(await productBuyers(db, tenant, 'NOPE')).toEqual([]);
  });

  it('pipeline by stage, every stage listed, labels in the tenant’s sync language', async () => {
    expect(await pipelineByStage(db, tenant)).toEqual([
      { stage: 'qualified', stage_label: 'Qualified', opportunities: 1, amount: '1000.00', weighted_amount: '400.00' },
      { stage: 'advanced', stage_label: 'Advanced', opportunities: 2, amount: '2500.00', weighted_amount: '2050.00' },
      { stage: 'won', stage_label: 'Won', opportunities: 4, amount: '1200.00', weighted_amount: '1200.00' },
      { stage: 'lost', stage_label: 'Lost', opportunities: 1, amount: '700.00', weighted_amount: '0.00' },
    ]);
  });
});
