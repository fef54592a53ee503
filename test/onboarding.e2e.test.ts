import { Client, Connection } from '@temporalio/client';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createQboClientForTenant, type QboAuthDeps } from '../activities/qbo/qbo-auth.js';
import { startOnboardingServer, type OnboardingServer } from '../client/onboarding/server.js';
import type { OnboardingDeps } from '../client/onboarding/service.js';
import { statusQuery, syncNowSignal, tenantWorkflowId } from '../workflows/definitions.js';
import type { TenantStatus } from '../common/sync-types.js';
import { decryptToken } from '../db/token-crypto.js';
import { loadConfig } from '../worker/config.js';
import { startWorker, type WorkerHandle } from '../worker/main.js';
import { freePort } from './global-setup.js';
import { startQboFixture, type QboFixture } from './onboarding-helpers.js';

/**
 * The onboarding page in a real browser (Debian's chromium, driven by playwright-core) against the
 * simulator, a real worker, Temporal and PostgreSQL: the brief's steps clicked through as a tenant
 * would, then the workflow checked by id, input and search attributes, then its history scanned.
 */
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

describe('onboarding page in headless Chromium', () => {
  let fixture: QboFixture;
  let deps: OnboardingDeps;
  let server: OnboardingServer;
  let worker: WorkerHandle;
  let temporal: Client;
  let browser: Browser;
  let page: Page;
  const tenantId = `e2e-${Date.now().toString(36)}`;
  const taskQueue = `onboarding-e2e-${Date.now()}`;

  beforeAll(async () => {
    const port = await freePort();
    // No auto-consent: the browser clicks the simulator's Connect button like a person.
    fixture = await startQboFixture({ autoConsent: false, customers: 60, transactions: 150, items: 12, seed: 11 });
    temporal = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
    deps = {
      ...fixture.deps,
      oauth: { ...fixture.deps.oauth, redirectUri: `http://127.0.0.1:${port}/oauth/callback` },
      temporal,
      taskQueue,
    };
    const qboDeps: QboAuthDeps = deps;
    worker = await startWorker({
      config: loadConfig({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TASK_QUEUE: taskQueue }),
      db: fixture.database.db,
      qboClientFor: (id) => createQboClientForTenant(qboDeps, id),
    });
    server = await startOnboardingServer(deps, { port });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
    page = await browser.newPage();
  });

  afterAll(async () => {
    await temporal?.workflow
      .getHandle(tenantWorkflowId(tenantId))
      .terminate('test over')
      .catch(() => undefined);
    await browser?.close();
    await server?.close();
    await worker?.stop();
    await temporal?.connection.close();
    await fixture?.stop();
  });

  it('R1–R6: a tenant connects, picks the start date and languages, sees the preview and starts the sync; its workflow runs with those settings', async () => {
    await page.goto(`${server.url}/?lang=fr`);
    await page.getByLabel('Identifiant du compte').fill(tenantId);
    await page.getByRole('button', { name: 'Ouvrir' }).click();
    await expect(page.locator('#connection-status').textContent()).resolves.toMatch(/pas encore connecté/);

    // Steps 3–6: connect, through the simulator's consent page.
    await page.getByRole('button', { name: 'Se connecter à QuickBooks' }).click();
    await page.getByRole('button', { name: 'Connect' }).click();
    const realmId = fixture.sim.realmIds[0]!;
    await expect(page.locator('#connection-status').textContent()).resolves.toContain(
      `Connecté à l’entreprise QuickBooks ${realmId}`,
    );

    // Steps 7–9: start date, sync language, default language of new customers.
    await page.getByLabel('Date de début').fill('2024-02-01');
    await page.getByLabel('Langue de la synchronisation').selectOption('en');
    await page.getByLabel('Langue par défaut des nouveaux clients').selectOption('fr');
    await page.getByRole('button', { name: 'Voir l’aperçu' }).click();

    // R6: the preview's counts are QBO's own count(*) since the start date.
    await page.locator('#counts').waitFor();
    const shownCustomers = Number(await page.locator('tr[data-entity="Customer"] td').textContent());
    const client = await createQboClientForTenant(fixture.deps, tenantId);
    expect(shownCustomers).toBe(
      await client.count({
        entity: 'Customer',
        where: [
          { field: 'MetaData.LastUpdatedTime', op: '>=', value: '2024-02-01T00:00:00+00:00' },
          { field: 'Active', op: 'IN', value: [true, false] },
        ],
      }),
    );
    const shownInvoices = Number(await page.locator('tr[data-entity="Invoice"] td').textContent());
    expect(shownInvoices).toBeGreaterThan(0);

    // Step 10: start; the status view follows the workflow.
    await page.getByRole('button', { name: 'Commencer la synchronisation' }).click();
    await page.locator('#status-list').waitFor();
    await expect
      .poll(async () => page.locator('#status-list').textContent(), { timeout: 30_000, interval: 500 })
      .toMatch(/Phase(Chargement initial|Synchronisation continue)/);
    expect(await page.locator('#status-list').textContent()).toContain('SensBidirectionnelle');

    const tenant = await fixture.database.db
      .selectFrom('tenants')
      .selectAll()
      .where('id', '=', tenantId)
      .executeTakeFirstOrThrow();
    expect(tenant).toMatchObject({ sync_language: 'en', default_customer_language: 'fr', sync_mode: 'two_way' });
    expect(tenant.start_date).toBe('2024-02-01');

    const handle = temporal.workflow.getHandle(tenantWorkflowId(tenantId));
    const description = await handle.describe();
    expect(description.status.name).toBe('RUNNING');
    expect(description.type).toBe('tenantSyncWorkflow');
    expect(description.searchAttributes).toMatchObject({
      QbsyncTenantId: [tenantId],
      QbsyncRealmId: [realmId],
      QbsyncMode: ['two_way'],
      QbsyncPaused: [false],
    });
    const history = await handle.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const input = JSON.parse(Buffer.from(started!.input!.payloads![0]!.data!).toString('utf8')) as unknown;
    expect(input).toEqual({ tenantId, realmId, mode: 'two_way' });

    // Starting again (the button a second time) reuses the running workflow.
    await page.goto(`${server.url}/onboarding/${tenantId}/preview?lang=en`);
    await page.getByRole('button', { name: 'Start the sync' }).click();
    await page.locator('#status-list').waitFor();
    expect((await handle.describe()).runId).toBe(description.runId);
    const sameId = await temporal.workflow.list({ query: `WorkflowId = '${tenantWorkflowId(tenantId)}'` });
    let runs = 0;
    for await (const execution of sameId) if (execution.status.name === 'RUNNING') runs++;
    expect(runs).toBe(1);
  });

  it('R7/R8: the page’s mode choice switches a running tenant to one-way (the CRM lock follows) and back', async () => {
    const handle = temporal.workflow.getHandle(tenantWorkflowId(tenantId));
    const choose = async (label: string) => {
      await page.goto(`${server.url}/onboarding/${tenantId}?lang=en`);
      await page.getByLabel('Direction').selectOption({ label });
      await page.getByRole('button', { name: 'See the preview' }).click();
      await page.locator('#counts').waitFor();
    };
    const mode = async () =>
      (
        await fixture.database.db
          .selectFrom('tenants')
          .select('sync_mode')
          .where('id', '=', tenantId)
          .executeTakeFirstOrThrow()
      ).sync_mode;
    await choose('QuickBooks to CRM only');
    expect((await handle.query(statusQuery)).mode).toBe('one_way');
    expect(await mode()).toBe('one_way');
    await choose('Two-way');
    expect((await handle.query(statusQuery)).mode).toBe('two_way');
    expect(await mode()).toBe('two_way');
  });

  it('R25: the Temporal history of the onboarded tenant holds no token and no personal data', async () => {
    const handle = temporal.workflow.getHandle(tenantWorkflowId(tenantId));
    // Let the backfill run its course so the history holds real activity traffic.
    const deadline = Date.now() + 90_000;
    let status: TenantStatus;
    do {
      status = await handle.query(statusQuery);
      if (status.lastPass) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    } while (Date.now() < deadline);
    expect(status.lastPass, 'the backfill finished a pass').not.toBeNull();
    expect(status.entities.Customer.done).toBeGreaterThan(0);

    // The history as JSON (payload bytes come out base64), plus every payload decoded to text.
    const raw = JSON.stringify(await handle.fetchHistory());
    const decoded = [...raw.matchAll(/"data":"([A-Za-z0-9+/]+={0,2})"/g)].map((m) =>
      Buffer.from(m[1]!, 'base64').toString('utf8'),
    );
    const history = `${raw}\n${decoded.join('\n')}`;
    // The scan does read payloads: the workflow input and the activities' inputs are there as text.
    expect(decoded).toContain(JSON.stringify({ tenantId, realmId: fixture.sim.realmIds[0], mode: 'two_way' }));
    expect(decoded.filter((text) => text.includes(`"tenantId":"${tenantId}"`)).length).toBeGreaterThan(10);
    const row = await fixture.database.db
      .selectFrom('qbo_connections')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .executeTakeFirstOrThrow();
    const secrets = [
      decryptToken(fixture.deps.tokenKey, row.access_token_encrypted, tenantId),
      decryptToken(fixture.deps.tokenKey, row.refresh_token_encrypted, tenantId),
      row.access_token_encrypted,
      row.refresh_token_encrypted,
      fixture.sim.clientSecret,
    ];
    const state = fixture.sim.sim.adminState(fixture.sim.realmIds[0]!, 'Customer') as {
      entities: { Customer: Record<string, unknown>[] };
    };
    const personal = new Set<string>();
    for (const customer of state.entities.Customer) {
      for (const field of ['DisplayName', 'CompanyName', 'GivenName', 'FamilyName']) {
        const value = customer[field];
        if (typeof value === 'string' && value.length >= 6) personal.add(value);
      }
      const email = (customer['PrimaryEmailAddr'] as { Address?: string } | undefined)?.Address;
      if (email) personal.add(email.split(',')[0]!.trim());
      for (const phone of ['PrimaryPhone', 'Mobile', 'Fax', 'AlternatePhone']) {
        const number = (customer[phone] as { FreeFormNumber?: string } | undefined)?.FreeFormNumber;
        if (number && number.length >= 7) personal.add(number);
      }
      const line = (customer['BillAddr'] as { Line1?: string } | undefined)?.Line1;
      if (line && line.length >= 6) personal.add(line);
    }
    expect(personal.size).toBeGreaterThan(50);
    const foundSecrets = secrets.filter((secret) => history.includes(secret));
    const foundPersonal = [...personal].filter(
      (value) => history.includes(value) || history.includes(JSON.stringify(value).slice(1, -1)),
    );
    console.log(
      `history scan: ${history.length} characters, ${secrets.length} secrets and ${personal.size} personal values checked, ${foundSecrets.length + foundPersonal.length} found`,
    );
    expect(foundSecrets).toEqual([]);
    expect(foundPersonal).toEqual([]);
  });

  it('R1: refused tokens pause the workflow with "needs reconnect", the page asks to reconnect, and reconnecting resumes it', async () => {
    const handle = temporal.workflow.getHandle(tenantWorkflowId(tenantId));
    const row = await fixture.database.db
      .selectFrom('qbo_connections')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .executeTakeFirstOrThrow();
    // The tenant disconnects the app in QuickBooks: its refresh token is refused from now on.
    fixture.sim.sim.oauth.revoke(decryptToken(fixture.deps.tokenKey, row.refresh_token_encrypted, tenantId));
    fixture.sim.sim.oauth.expireAccessTokens();
    await handle.signal(syncNowSignal, { reason: 'test: after the app was disconnected in QuickBooks' });
    await expect
      .poll(async () => (await handle.query(statusQuery)).pausedReason, { timeout: 60_000, interval: 500 })
      .toMatch(/^needs reconnect/);
    expect(
      (await fixture.database.db.selectFrom('qbo_connections').select('needs_reauth').executeTakeFirstOrThrow())
        .needs_reauth,
    ).toBe(true);

    await page.goto(`${server.url}/onboarding/${tenantId}/status?lang=fr`);
    expect(await page.locator('#status-list').textContent()).toMatch(/En pauseOui \(needs reconnect/);
    await page.goto(`${server.url}/onboarding/${tenantId}?lang=fr`);
    expect(await page.getByRole('alert').textContent()).toMatch(/reconnectez-vous/);
    await page.getByRole('button', { name: 'Se reconnecter à QuickBooks' }).click();
    await page.getByRole('button', { name: 'Connect' }).click();
    expect(await page.locator('#connection-status').textContent()).toContain('Connecté');

    await expect
      .poll(async () => (await handle.query(statusQuery)).paused, { timeout: 30_000, interval: 500 })
      .toBe(false);
    expect(
      (await fixture.database.db.selectFrom('qbo_connections').select('needs_reauth').executeTakeFirstOrThrow())
        .needs_reauth,
    ).toBe(false);
    expect((await handle.describe()).status.name).toBe('RUNNING');
  });
});
