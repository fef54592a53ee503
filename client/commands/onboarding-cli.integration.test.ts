import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decryptToken } from '../../db/token-crypto.js';
import { startSimulator, type RunningSimulator } from '../../sandbox/index.js';
import { runCli, startCli } from '../../test/cli.js';
import { freePort } from '../../test/global-setup.js';
import { consentOnSimulator } from '../onboarding/connect-flow.js';
import { createTestDatabase, type TestDatabase } from '../../test/database.js';
import { tenantWorkflowId } from '../../workflows/definitions.js';

let sim: RunningSimulator;
let database: TestDatabase;
let temporal: Client;
const key = randomBytes(32);
const taskQueue = `onboarding-cli-${randomBytes(4).toString('hex')}`;
const tenant = `cli-${randomBytes(3).toString('hex')}`;

function env(): Record<string, string> {
  return {
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: taskQueue,
    QBSYNC_TOKEN_KEY: key.toString('base64'),
    QBO_CLIENT_ID: sim.clientId,
    QBO_CLIENT_SECRET: sim.clientSecret,
    QBO_API_BASE_URL: sim.baseUrl,
    QBO_OAUTH_BASE_URL: sim.baseUrl,
    QBO_REDIRECT_URI: 'http://127.0.0.1:9/oauth/callback',
  };
}

beforeAll(async () => {
  // No auto-consent on the simulator: --auto-consent must answer its consent form itself.
  sim = await startSimulator({ port: 0, customers: 40, transactions: 80, items: 10 });
  database = await createTestDatabase();
  temporal = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
});

afterAll(async () => {
  await temporal?.workflow
    .getHandle(tenantWorkflowId(tenant))
    .terminate('test over')
    .catch(() => undefined);
  await temporal?.connection.close();
  await sim?.stop();
  await database?.drop();
});

describe('qbsync onboard / preview / disconnect against the simulator', () => {
  it('R2: refuses a start date in the future and a bad language with one line, exit 2, before touching anything', async () => {
    const future = await runCli(
      ['onboard', tenant, '--start-date', '2999-01-01', '--language', 'fr', '--default-language', 'en'],
      env(),
    );
    expect(future.code).toBe(2);
    expect(future.stderr).toMatch(/start date 2999-01-01 is in the future/);
    const language = await runCli(
      ['onboard', tenant, '--start-date', '2024-01-01', '--language', 'fr', '--default-language', 'es'],
      env(),
    );
    expect(language.code).toBe(2);
    expect(language.stderr).toMatch(/language "es" must be fr or en/);
    expect(await database.db.selectFrom('tenants').select('id').where('id', '=', tenant).execute()).toEqual([]);
  });

  it('R1–R5: onboard --auto-consent runs the OAuth flow alone, stores the settings, previews and starts one workflow; a second onboard starts none', async () => {
    const args = [
      'onboard',
      tenant,
      '--start-date',
      '2024-03-01',
      '--language',
      'en',
      '--default-language',
      'fr',
      '--auto-consent',
    ];
    const first = await runCli(args, env(), 120_000);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`Connected tenant ${tenant} to QuickBooks company ${sim.realmIds[0]}`));
    expect(first.stdout).toMatch(/Since 2024-03-01, the first sync would bring:\n {2}Item/);
    expect(first.stdout).toMatch(/Started workflow tenant-sync-/);

    const row = await database.db.selectFrom('tenants').selectAll().where('id', '=', tenant).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ sync_language: 'en', default_customer_language: 'fr', sync_mode: 'two_way' });
    const connection = await database.db
      .selectFrom('qbo_connections')
      .selectAll()
      .where('tenant_id', '=', tenant)
      .executeTakeFirstOrThrow();
    expect(connection.realm_id).toBe(sim.realmIds[0]);
    expect(decryptToken(key, connection.refresh_token_encrypted, tenant)).toMatch(/^RT1-/);

    const description = await temporal.workflow.getHandle(tenantWorkflowId(tenant)).describe();
    expect(description.status.name).toBe('RUNNING');
    expect(description.taskQueue).toBe(taskQueue);
    expect(description.searchAttributes).toMatchObject({
      QbsyncTenantId: [tenant],
      QbsyncRealmId: [sim.realmIds[0]],
      QbsyncPhase: ['backfill'],
      QbsyncMode: ['two_way'],
      QbsyncPaused: [false],
    });

    const second = await runCli(args, env(), 120_000);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/already connected/);
    expect(second.stdout).toMatch(/was already running; no second one was started/);
    expect((await temporal.workflow.getHandle(tenantWorkflowId(tenant)).describe()).runId).toBe(description.runId);
  });

  it('R6: preview prints counts per entity and lists likely duplicates by normalised name and by email', async () => {
    const realm = sim.realmIds[0]!;
    sim.sim.writeCustomer(
      realm,
      { DisplayName: 'Plomberie Roy Inc.', PrimaryEmailAddr: { Address: 'info@roy.example' } },
      null,
    );
    sim.sim.writeCustomer(
      realm,
      { DisplayName: 'plomberie  roy', PrimaryEmailAddr: { Address: 'compta@roy.example' } },
      null,
    );
    sim.sim.writeCustomer(
      realm,
      { DisplayName: 'Roy & Fils', PrimaryEmailAddr: { Address: 'INFO@roy.example, b@x.example' } },
      null,
    );
    const preview = await runCli(['preview', tenant, '--start-date', '2024-03-01', '--json'], env());
    expect(preview.stderr).toBe('');
    const parsed = JSON.parse(preview.stdout) as {
      counts: Record<string, number>;
      duplicates: { reason: string; key: string; customers: { displayName: string }[] }[];
    };
    expect(Object.keys(parsed.counts)).toEqual([
      'Item',
      'Customer',
      'Estimate',
      'Invoice',
      'CreditMemo',
      'SalesReceipt',
    ]);
    expect(parsed.counts['Customer']).toBeGreaterThanOrEqual(3);
    expect(parsed.duplicates).toContainEqual(
      expect.objectContaining({
        reason: 'name',
        key: 'plomberie roy',
        customers: [expect.anything(), expect.anything()],
      }),
    );
    expect(parsed.duplicates).toContainEqual(expect.objectContaining({ reason: 'email', key: 'info@roy.example' }));
    const bad = await runCli(['preview', 'nobody', '--start-date', '2024-03-01'], env());
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^qbsync: tenant nobody is not connected to QuickBooks: run qbsync connect nobody\n$/);
  });

  it('R1: disconnect revokes the tokens, deletes them and cancels the workflow', async () => {
    const connection = await database.db
      .selectFrom('qbo_connections')
      .selectAll()
      .where('tenant_id', '=', tenant)
      .executeTakeFirstOrThrow();
    const refresh = decryptToken(key, connection.refresh_token_encrypted, tenant);
    const result = await runCli(['disconnect', tenant], env());
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/tokens revoked at Intuit and deleted/);
    expect(result.stdout).toMatch(/Cancelled its sync workflow/);
    expect(
      await database.db.selectFrom('qbo_connections').selectAll().where('tenant_id', '=', tenant).execute(),
    ).toEqual([]);
    expect(
      sim.sim.oauth.token(new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh }), false).status,
    ).toBe(400);
    const history = await temporal.workflow.getHandle(tenantWorkflowId(tenant)).fetchHistory();
    expect(history.events?.some((event) => event.workflowExecutionCancelRequestedEventAttributes)).toBe(true);
  });

  it('R1: qbsync serve answers the page and the callback; qbsync connect prints the URL and sees the tokens it stored', async () => {
    const port = await freePort();
    const serveEnv = {
      ...env(),
      QBSYNC_SERVE_PORT: String(port),
      QBO_REDIRECT_URI: `http://127.0.0.1:${port}/oauth/callback`,
    };
    const serve = await startCli(['serve'], serveEnv, /Onboarding page: http/);
    try {
      const home = await fetch(`http://127.0.0.1:${port}/?lang=en`);
      expect(await home.text()).toContain('Account id');
      const other = `${tenant}-2`;
      const connect = await startCli(
        ['connect', other, '--name', 'Second tenant'],
        serveEnv,
        /Waiting for the callback/,
      );
      const exited = new Promise<number | null>((resolve) => connect.child.once('exit', resolve));
      const authorize = /^(http\S+\/connect\/oauth2\?\S+)$/m.exec(connect.output())?.[1];
      expect(authorize).toBeDefined();
      // The person consents; Intuit (the simulator) redirects the browser to the callback qbsync serve answers.
      const callback = await fetch(await consentOnSimulator(authorize!), { redirect: 'manual' });
      expect(callback.status).toBe(303);
      expect(callback.headers.get('location')).toBe(`/onboarding/${other}?lang=fr`);
      expect(await exited).toBe(0);
      expect(connect.output()).toMatch(
        new RegExp(`Tenant ${other} is connected to QuickBooks company ${sim.realmIds[0]}`),
      );
      const row = await database.db
        .selectFrom('tenants')
        .select('name')
        .where('id', '=', other)
        .executeTakeFirstOrThrow();
      expect(row.name).toBe('Second tenant');
    } finally {
      serve.child.kill('SIGTERM');
    }
  });
});
