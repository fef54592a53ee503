import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pauseSignal, resumeSignal, syncNowSignal } from '../workflows/definitions.js';
import { startTenantHarness, type TenantHarness } from './tenant-harness.js';

const byEntity = (a: { entity: string }, b: { entity: string }) => a.entity.localeCompare(b.entity);

describe('tenant sync under load and damage (R20, R23, R24)', () => {
  let tenant: TenantHarness;
  const damaged: Array<{ entity: string; id: string }> = [];

  beforeAll(async () => {
    tenant = await startTenantHarness({
      tenantId: 'resilience',
      company: { customers: 1500, transactions: 6000, items: 40, seed: 33 },
      // A start date before every record: the whole company is in scope.
      startDate: '2000-01-01',
      beforeStart: (fixture, realmId) => {
        const { sim } = fixture.sim;
        const entities = (
          sim.adminState(realmId) as {
            entities: Record<string, Array<{ Id: string; Job?: boolean; Active?: boolean; Type?: string }>>;
          }
        ).entities;
        const customer = entities['Customer']!.find((c) => !c.Job && c.Active !== false)!;
        const invoice = entities['Invoice']![3]!;
        const product = entities['Item']!.find((i) => i.Type !== 'Category')!;
        sim.adminCorrupt(realmId, 'Customer', customer.Id, 'oversized', { field: 'CompanyName', length: 5000 });
        sim.adminCorrupt(realmId, 'Invoice', invoice.Id, 'missing', { field: 'TxnDate' });
        sim.adminCorrupt(realmId, 'Item', product.Id, 'wrongType', { field: 'Name' });
        damaged.push(
          { entity: 'Customer', id: customer.Id },
          { entity: 'Invoice', id: invoice.Id },
          { entity: 'Item', id: product.Id },
        );
      },
    });
  });
  afterAll(async () => tenant?.stop());

  it('R23: edits made during the backfill, a 5,000-record burst in one second among them, all arrive; damaged records go to the error table', async () => {
    const { sim } = tenant.fixture.sim;
    await tenant.waitFor('the backfill to be under way', (s) => s.phase === 'backfill' && s.entities.Customer.done > 0);
    const burst = sim.adminBulkEdit(tenant.realmId, 5000);
    expect(new Set(burst.edited.map((e) => e.entity)).size).toBeGreaterThan(1);
    const customers = tenant.company()['Customer']!.filter((c) => !c.Job && c.Active !== false);
    sim.adminEditCustomer(tenant.realmId, customers[1]!.Id, { CompanyName: 'Édité pendant le rattrapage' });
    sim.adminSetActive(tenant.realmId, 'Customer', customers[2]!.Id, false);

    await tenant.waitFor('the backfill', (s) => s.phase === 'incremental' && s.lastPass !== null, 240_000);
    // Passes read up to a few seconds before QBO's clock: run one more to be past the burst's second.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const status = await tenant.pass();
    await tenant.expectInStep();

    const errors = await tenant.fixture.database.db
      .selectFrom('sync_errors')
      .select(['entity_type', 'qbo_id', 'field', 'error_type'])
      .where('tenant_id', '=', tenant.tenantId)
      .where('resolved_at', 'is', null)
      .execute();
    // The three damaged records fail to map, each named with its field; documents of the damaged
    // customer cannot be placed and say so. Nothing else is in error.
    const mappingErrors = errors.filter((e) => e.error_type === 'MappingError');
    expect(mappingErrors.map((e) => ({ entity: e.entity_type, id: e.qbo_id })).sort(byEntity)).toEqual(
      [...damaged].sort(byEntity),
    );
    expect(mappingErrors.every((e) => (e.field ?? '') !== '')).toBe(true);
    const others = errors.filter((e) => e.error_type !== 'MappingError');
    expect(others.every((e) => e.error_type === 'MissingReference' && e.field === 'CustomerRef')).toBe(true);
    expect(status.openErrors).toBe(errors.length);
  }, 300_000);

  it('R24: a paused tenant sends 0 requests to QBO, and loses nothing changed meanwhile', async () => {
    const { sim } = tenant.fixture.sim;
    const handle = tenant.handle();
    await handle.signal(pauseSignal, { reason: 'support' });
    await tenant.waitFor('pause', (s) => s.paused);
    // A pass that had started finishes its activity; then nothing more goes out.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    sim.resetApiRequestCounts(tenant.realmId);
    const customers = tenant.company()['Customer']!.filter((c) => !c.Job && c.Active !== false);
    sim.adminEditCustomer(tenant.realmId, customers[5]!.Id, { CompanyName: 'Modifié pendant la pause' });
    await handle.signal(syncNowSignal, { reason: 'ignored while paused' });
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(sim.apiRequestCount(tenant.realmId)).toBe(0);

    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const before = (await tenant.status()).lastPass?.finishedAt ?? '';
    await handle.signal(resumeSignal);
    const status = await tenant.waitFor(
      'the catch-up pass',
      (s) => !s.paused && (s.lastPass?.finishedAt ?? '') > before,
    );
    expect(status.lastError).toBeNull();
    expect(sim.apiRequestCount(tenant.realmId)).toBeGreaterThan(0);
    await tenant.expectInStep();
  }, 120_000);
});
