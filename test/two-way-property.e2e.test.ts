import fc from 'fast-check';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QboClient } from '../activities/qbo/qbo-client.js';
import { listOpenConflicts, resolveConflict } from '../db/repositories/sync-conflicts.js';
import type { Database } from '../db/schema.js';
import { startTenantHarness, type TenantHarness } from './tenant-harness.js';
import { outboxStates, setTenant, userEdit } from './two-way-helpers.js';

/**
 * R7, property-based: random interleaved edits on both sides over many passes, with throttling
 * (429) and stale SyncTokens injected, end with both sides equal under the policy (QuickBooks wins a
 * field both changed), every both-sides conflict recorded, and no echo: a pass with no user edit
 * pushes nothing. Real Temporal, PostgreSQL, worker and simulator.
 */

type Field = 'website' | 'phone1' | 'email' | 'title';
type Value = string | null;

interface FieldModel {
  /** How a CRM user writes the field: the table and column. */
  readonly crm: { readonly table: 'accounts' | 'contacts'; readonly column: 'website' | 'phone1' | 'email' | 'title' };
  /** How a QuickBooks user writes it: a sparse patch. */
  readonly qbo: (value: Value) => Record<string, unknown>;
  readonly values: readonly Value[];
}

const fields: Record<Field, FieldModel> = {
  website: {
    crm: { table: 'accounts', column: 'website' },
    qbo: (value) => ({ WebAddr: { URI: value ?? '' } }),
    values: ['https://a.example', 'https://b.example', 'https://c.example', null],
  },
  phone1: {
    crm: { table: 'contacts', column: 'phone1' },
    qbo: (value) => ({ PrimaryPhone: { FreeFormNumber: value ?? '' } }),
    values: ['418 555-0001', '418 555-0002', '418 555-0003', null],
  },
  email: {
    crm: { table: 'contacts', column: 'email' },
    qbo: (value) => ({ PrimaryEmailAddr: { Address: value ?? '' } }),
    values: ['a@x.example', 'b@x.example', null],
  },
  title: {
    crm: { table: 'contacts', column: 'title' },
    qbo: (value) => ({ Title: value ?? '' }),
    values: ['M.', 'Mme', 'Dr', null],
  },
};
const fieldNames = Object.keys(fields) as Field[];
const customersInPlay = 4;

interface Edit {
  readonly customer: number;
  readonly field: Field;
  readonly value: Value;
}

interface Round {
  readonly crm: readonly Edit[];
  readonly qbo: readonly Edit[];
  /** A QuickBooks user's save landing between this pass's pull and its push (a stale SyncToken). */
  readonly racing: { readonly field: Field; readonly value: Value } | null;
  readonly throttle: 'none' | 'pull' | 'push';
}

const edit = fc
  .record({ customer: fc.nat(customersInPlay - 1), field: fc.constantFrom(...fieldNames) })
  .chain(({ customer, field }) =>
    fc.constantFrom(...fields[field].values).map((value) => ({ customer, field, value })),
  );
const round: fc.Arbitrary<Round> = fc.record({
  crm: fc.array(edit, { maxLength: 5 }),
  qbo: fc.array(edit, { maxLength: 4 }),
  racing: fc.option(
    fc
      .constantFrom(...fieldNames)
      .chain((field) => fc.constantFrom(...fields[field].values).map((value) => ({ field, value }))),
    { nil: null },
  ),
  throttle: fc.constantFrom('none' as const, 'none' as const, 'pull' as const, 'push' as const),
});

const same = (a: Value, b: Value) => (a ?? '') === (b ?? '');

describe('R7: two-way merge, property-based, end to end', () => {
  let tenant: TenantHarness;
  let db: Kysely<Database>;
  /** The customers in play: QBO id and CRM account. */
  let customers: Array<{ readonly qboId: string; readonly accountId: number }>;
  /** Set per pass: the racing edit to land on the first customer the push updates. */
  let racing: { readonly field: Field; readonly value: Value; readonly skip: ReadonlySet<string> } | null = null;
  let racedOn: { readonly qboId: string; readonly field: Field; readonly value: Value } | null = null;
  let throttleNextUpdate = false;

  beforeAll(async () => {
    tenant = await startTenantHarness({
      tenantId: 'two-way-property',
      company: { customers: 8, transactions: 4, items: 2, seed: 74, throttleRetryAfterSeconds: 1 },
      wrapQboClient: (client): QboClient => ({
        ...client,
        async updateCustomer(change, requestId) {
          if (throttleNextUpdate) {
            throttleNextUpdate = false;
            tenant.fixture.sim.sim.forceFaults([{ kind: '429', realmId: tenant.realmId }]);
          } else if (racing && !racing.skip.has(`${change.Id}:${racing.field}`)) {
            tenant.fixture.sim.sim.adminEditCustomer(tenant.realmId, change.Id, fields[racing.field].qbo(racing.value));
            racedOn = { qboId: change.Id, field: racing.field, value: racing.value };
            racing = null;
          }
          return client.updateCustomer(change, requestId);
        },
      }),
    });
    db = tenant.fixture.database.db;
    await tenant.backfilled();
    await setTenant(db, tenant.tenantId, { allow_crm_edits: true });
    const links = await db
      .selectFrom('qbo_links')
      .innerJoin('accounts', 'accounts.id', 'qbo_links.account_id')
      .select(['qbo_links.qbo_id', 'qbo_links.account_id'])
      .where('qbo_links.tenant_id', '=', tenant.tenantId)
      .where('qbo_links.entity_type', '=', 'Customer')
      .where('qbo_links.parent_qbo_id', 'is', null)
      .where('accounts.active', '=', true)
      .orderBy('qbo_links.account_id')
      .limit(customersInPlay)
      .execute();
    customers = links.map((link) => ({ qboId: link.qbo_id, accountId: link.account_id as number }));
    expect(customers).toHaveLength(customersInPlay);
    // Every customer in play gets a primary contact, so that its person fields have a CRM row.
    for (const { accountId } of customers) {
      await userEdit(db, async (trx) => {
        const has = await trx
          .selectFrom('contacts')
          .select('id')
          .where('account_id', '=', accountId)
          .executeTakeFirst();
        if (!has) {
          await trx
            .insertInto('contacts')
            .values({
              tenant_id: tenant.tenantId,
              account_id: accountId,
              language: 'fr',
              full_name: 'Contact Principal',
            })
            .execute();
        }
      });
    }
    await tenant.pass();
  });

  afterAll(async () => {
    await tenant?.stop();
  });

  async function crmValue(accountId: number, field: Field): Promise<Value> {
    const { table, column } = fields[field].crm;
    const row =
      table === 'accounts'
        ? await db
            .selectFrom('accounts')
            .select(column as 'website')
            .where('id', '=', accountId)
            .executeTakeFirstOrThrow()
        : await db
            .selectFrom('contacts')
            .select(column as 'phone1')
            .where('account_id', '=', accountId)
            .where('is_primary', '=', true)
            .executeTakeFirstOrThrow();
    const value = (row as Record<string, string | null>)[column] ?? null;
    return value === '' ? null : value;
  }

  async function crmEdit({ customer, field, value }: Edit): Promise<void> {
    const { table, column } = fields[field].crm;
    const accountId = customers[customer]!.accountId;
    await userEdit(db, async (trx) => {
      if (table === 'accounts')
        await trx
          .updateTable('accounts')
          .set({ [column]: value })
          .where('id', '=', accountId)
          .execute();
      else
        await trx
          .updateTable('contacts')
          .set({ [column]: value })
          .where('account_id', '=', accountId)
          .where('is_primary', '=', true)
          .execute();
    });
  }

  it('R7: random edits on both sides, with 429s and stale tokens, converge under the policy with every conflict recorded and no echo', async () => {
    let cases = 0;
    let edits = 0;
    let staleTokens = 0;
    let conflicts = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(round, { minLength: 1, maxLength: 4 }), async (rounds) => {
        cases += 1;
        const caseStart = new Date();
        // Conflicts of earlier cases are settled as applied, so that this case's stand alone.
        for (const open of await listOpenConflicts(db, tenant.tenantId)) {
          await resolveConflict(db, open.id, open.applied ?? 'qbo', 'property test', new Date());
        }
        const model = new Map<string, Value>();
        for (let c = 0; c < customersInPlay; c += 1)
          for (const field of fieldNames) model.set(`${c}:${field}`, await crmValue(customers[c]!.accountId, field));
        const expectedConflicts = new Map<string, { crm: Value; qbo: Value }>();

        for (const step of rounds) {
          const crmLast = new Map<string, Value>();
          const qboLast = new Map<string, Value>();
          for (const e of step.crm) {
            await crmEdit(e);
            crmLast.set(`${e.customer}:${e.field}`, e.value);
            edits += 1;
          }
          for (const e of step.qbo) {
            tenant.fixture.sim.sim.adminEditCustomer(
              tenant.realmId,
              customers[e.customer]!.qboId,
              fields[e.field].qbo(e.value),
            );
            qboLast.set(`${e.customer}:${e.field}`, e.value);
            edits += 1;
          }
          // A racing save lands on a field no QuickBooks user edited before this pull (the model
          // then reads it as this round's QuickBooks edit).
          const skip = new Set(
            [...qboLast.keys()].map((key) => {
              const [c, field] = key.split(':');
              return `${customers[Number(c)]!.qboId}:${field}`;
            }),
          );
          racing = step.racing ? { ...step.racing, skip } : null;
          racedOn = null;
          throttleNextUpdate = step.throttle === 'push';
          if (step.throttle === 'pull') tenant.fixture.sim.sim.forceFaults([{ kind: '429', realmId: tenant.realmId }]);
          await tenant.pass();
          racing = null;
          throttleNextUpdate = false;
          tenant.fixture.sim.sim.clearFaults();
          const raced = racedOn as { qboId: string; field: Field; value: Value } | null;
          if (raced) {
            const index = customers.findIndex((c) => c.qboId === raced.qboId);
            qboLast.set(`${index}:${raced.field}`, raced.value);
            edits += 1;
            staleTokens += 1;
          }
          for (const key of new Set([...crmLast.keys(), ...qboLast.keys()])) {
            const before = model.get(key) ?? null;
            const crmChanged = crmLast.has(key) && !same(crmLast.get(key)!, before);
            const qboChanged = qboLast.has(key) && !same(qboLast.get(key)!, before);
            const crm = crmLast.get(key) ?? null;
            const qbo = qboLast.get(key) ?? null;
            if (crmChanged && qboChanged && !same(crm, qbo)) {
              expectedConflicts.set(key, { crm, qbo });
              conflicts += 1;
              model.set(key, qbo);
            } else if (crmChanged) model.set(key, crm);
            else if (qboChanged) model.set(key, qbo);
          }
        }

        // Both sides equal, under the policy.
        for (const [key, value] of model) {
          const [c, field] = key.split(':') as [string, Field];
          expect(await crmValue(customers[Number(c)]!.accountId, field), key).toSatisfy((v: Value) => same(v, value));
        }
        await tenant.expectInStep();
        // Every both-sides conflict recorded, with both values.
        const recorded = await listOpenConflicts(db, tenant.tenantId);
        for (const [key, values] of expectedConflicts) {
          const [c, field] = key.split(':') as [string, Field];
          const conflict = recorded.find(
            (r) => r.account_id === customers[Number(c)]!.accountId && r.field === field && r.last_seen_at >= caseStart,
          );
          expect(conflict, `conflict on ${key}`).toBeDefined();
          expect(
            same(conflict!.crm_value as Value, values.crm) && same(conflict!.qbo_value as Value, values.qbo),
            key,
          ).toBe(true);
        }
        // No echo: a pass with no user edit pushes nothing.
        const writes = tenant.fixture.sim.sim.apiRequestCount(tenant.realmId, 'write');
        await tenant.pass();
        expect(tenant.fixture.sim.sim.apiRequestCount(tenant.realmId, 'write')).toBe(writes);
        expect(await outboxStates(db, tenant.tenantId)).not.toContain('pending');
      }),
      { numRuns: 8, seed: Number(process.env['QBSYNC_PROPERTY_SEED'] ?? 20261201), endOnFailure: true },
    );
    console.log(
      `R7 property: ${cases} cases, ${edits} edits (${staleTokens} met a stale SyncToken), ${conflicts} both-sides conflicts, all recorded`,
    );
    expect(cases).toBe(8);
  });
});
