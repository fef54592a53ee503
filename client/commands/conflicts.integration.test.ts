import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordConflicts } from '../../db/repositories/sync-conflicts.js';
import { runCli } from '../../test/cli.js';
import { createTestDatabase, type TestDatabase } from '../../test/database.js';
import { createAccountInList } from '../../test/two-way-helpers.js';

// `qbsync conflicts`, `conflicts resolve` and `settings`, spawned as the real CLI against a
// throw-away database, from a second terminal as support would (no workflow needed to list).

describe('R7: qbsync conflicts | conflicts resolve | settings', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let fieldConflict: number;
  const tenantId = 'conflicted';
  const cli = (...args: string[]) => runCli(args, env);

  beforeAll(async () => {
    database = await createTestDatabase();
    const { db } = database;
    await db.insertInto('tenants').values({ id: tenantId, name: 'Conflicted', start_date: '2024-01-01' }).execute();
    const account = await createAccountInList(db, tenantId, 'Plomberie Roy', { fullName: 'Anne Roy' });
    await recordConflicts(
      db,
      { tenantId, realmId: 'realm-1' },
      [
        {
          accountId: account,
          qboId: '58',
          kind: 'field',
          field: 'city',
          base: 'Québec',
          crm: 'Lévis',
          qbo: 'Sillery',
          applied: 'qbo',
          message: 'city changed on both sides',
        },
        {
          accountId: account,
          qboId: null,
          kind: 'duplicate_name',
          qboCode: '6240',
          message: 'Duplicate Name Exists Error',
        },
      ],
      new Date(),
    );
    fieldConflict = (
      await db.selectFrom('sync_conflicts').select('id').where('kind', '=', 'field').executeTakeFirstOrThrow()
    ).id;
    env = { DATABASE_URL: database.url, TEMPORAL_ADDRESS: inject('temporalAddress') };
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('lists open conflicts with both values, and the way to resolve them', async () => {
    const result = await cli('conflicts', tenantId);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('2 open conflict(s)');
    expect(result.stdout).toContain(`#${fieldConflict} field city of account`);
    expect(result.stdout).toContain('CRM "Lévis", QuickBooks "Sillery" (was "Québec"); QuickBooks value applied');
    expect(result.stdout).toContain('duplicate name');
    expect(result.stdout).toContain('qbsync conflicts resolve <id> --take qbo|crm');
  });

  it('resolve records the choice for the next pass, once', async () => {
    const resolved = await cli('conflicts', 'resolve', String(fieldConflict), '--take', 'crm');
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(resolved.stdout).toContain('city takes the CRM value on both sides');
    const row = await database.db
      .selectFrom('sync_conflicts')
      .select(['resolution', 'resolution_applied_at'])
      .where('id', '=', fieldConflict)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ resolution: 'crm', resolution_applied_at: null });
    const again = await cli('conflicts', 'resolve', String(fieldConflict), '--take', 'qbo');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already resolved');
    expect((await cli('conflicts', tenantId)).stdout).toContain('1 open conflict(s)');
  });

  it('wrong arguments get a one-line error naming what is wrong', async () => {
    const side = await cli('conflicts', 'resolve', String(fieldConflict), '--take', 'both');
    expect(side.code).toBe(2);
    expect(side.stderr).toContain('"both" is not a side');
    const id = await cli('conflicts', 'resolve', 'abc', '--take', 'qbo');
    expect(id.code).toBe(2);
    expect(id.stderr).toContain('"abc" is not a conflict id');
    const missing = await cli('conflicts', 'resolve', '99999', '--take', 'qbo');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('there is no conflict #99999');
    const unknown = await cli('conflicts', 'nobody');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown tenant "nobody"');
  });

  it('R17: settings turns CRM editing on and sets the conflict policy', async () => {
    const result = await cli('settings', tenantId, '--allow-crm-edits', 'on', '--conflict-policy', 'crm');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      'CRM users may edit QuickBooks-list records; a field both sides changed goes to the CRM',
    );
    const row = await database.db
      .selectFrom('tenants')
      .select(['allow_crm_edits', 'conflict_policy'])
      .where('id', '=', tenantId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ allow_crm_edits: true, conflict_policy: 'crm_wins' });
    const bad = await cli('settings', tenantId, '--allow-crm-edits', 'maybe');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"maybe" is neither on nor off');
  });
});
