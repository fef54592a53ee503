import { createServer, type AddressInfo } from 'node:net';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createQboClientForTenant } from '../../activities/qbo/qbo-auth.js';
import { QboError } from '../../activities/qbo/qbo-errors.js';
import { FailureType } from '../../common/failure-types.js';
import type { TenantStatus } from '../../common/sync-types.js';
import { asSync } from '../../db/crm-rules.js';
import { loadConfig } from '../../worker/config.js';
import { startWorker, type WorkerHandle } from '../../worker/main.js';
import {
  statusQuery,
  tenantSyncWorkflowType,
  tenantWorkflowId,
  type TenantSyncInput,
} from '../../workflows/definitions.js';
import { runCli, type CliResult } from '../../test/cli.js';
import { connectedTenant, createTenant, startQboFixture, type QboFixture } from '../../test/onboarding-helpers.js';

// The tenant commands of issue 7, spawned as the real CLI against a running tenant workflow: a
// worker in this process (its own task queue), the simulator, a throw-away database, the shared
// Temporal dev server.

function oneLineError(result: CliResult, code: number, pattern: RegExp) {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr.trim()).toMatch(pattern);
  expect(
    result.stderr
      .trim()
      .split('\n')
      .filter((line) => !line.startsWith('(run qbsync')),
  ).toHaveLength(1);
}

describe('qbsync status|pause|resume|mode|sync-now|repair|watch|verify (issue 7 CLI)', () => {
  let fixture: QboFixture;
  let worker: WorkerHandle;
  let client: Client;
  let handle: WorkflowHandle;
  let orphan: WorkflowHandle;
  let env: Record<string, string>;
  let watching: Promise<CliResult>;
  /** While set, every QBO call of the worker fails with it (a pass that fails, not one that retries). */
  let qboRefusal: QboError | undefined;
  const tenantId = 'acme';
  const taskQueue = `tenant-cli-${Date.now()}`;
  const cli = (...args: string[]) => runCli(args, env);
  const status = () => handle.query(statusQuery) as Promise<TenantStatus>;
  const connectedRealm = async () =>
    (
      await fixture.database.db
        .selectFrom('qbo_connections')
        .select('realm_id')
        .where('tenant_id', '=', tenantId)
        .executeTakeFirstOrThrow()
    ).realm_id;

  beforeAll(async () => {
    fixture = await startQboFixture({ customers: 150, transactions: 600, items: 15, seed: 11 });
    const { realmId } = await connectedTenant(fixture, tenantId);
    await createTenant(fixture, 'idle'); // in the database, with no workflow
    await createTenant(fixture, 'orphan'); // with a workflow on a task queue no worker polls
    env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: fixture.database.url,
      QBO_CLIENT_ID: fixture.sim.clientId,
      QBO_CLIENT_SECRET: fixture.sim.clientSecret,
      QBO_API_BASE_URL: fixture.sim.baseUrl,
      QBO_OAUTH_BASE_URL: fixture.sim.baseUrl,
      QBSYNC_TOKEN_KEY: Buffer.from(fixture.deps.tokenKey).toString('base64'),
    };
    worker = await startWorker({
      config: loadConfig({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TASK_QUEUE: taskQueue }),
      db: fixture.database.db,
      qboClientFor: async (id) => {
        if (qboRefusal) throw qboRefusal;
        return createQboClientForTenant(fixture.deps, id);
      },
    });
    client = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
    const input: TenantSyncInput = { tenantId, realmId, mode: 'two_way', pollIntervalSeconds: 3600 };
    handle = await client.workflow.start(tenantSyncWorkflowType, {
      taskQueue,
      workflowId: tenantWorkflowId(tenantId),
      args: [input],
    });
    orphan = await client.workflow.start(tenantSyncWorkflowType, {
      taskQueue: `${taskQueue}-unpolled`,
      workflowId: tenantWorkflowId('orphan'),
      args: [{ tenantId: 'orphan', realmId: '1', mode: 'two_way' } satisfies TenantSyncInput],
    });
    // Spawned at once, so that it sees the backfill under way.
    watching = cli('watch', tenantId, '--every', '0.5');
  });

  afterAll(async () => {
    await handle?.cancel().catch(() => undefined);
    await orphan?.terminate().catch(() => undefined);
    await worker?.stop();
    await client?.connection.close();
    await fixture?.stop();
  });

  it('R24: watch follows the backfill with a bar per entity and ends when it is done', async () => {
    const watched = await watching;
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toMatch(/^Customer +\[[#.]+\] +\d+% +\d+\/\d+/m);
    expect(watched.stdout).toMatch(/[Bb]ackfill of tenant acme (has )?finished/);
    expect((await status()).phase).toBe('incremental');
  });

  it('R24: status prints a summary, --json the status query, --all one line per tenant', async () => {
    const [text, json, all] = await Promise.all([
      cli('status', tenantId),
      cli('status', tenantId, '--json'),
      cli('status', '--all'),
    ]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('workflow tenant-sync-acme');
    expect(text.stdout).toMatch(/Phase +incremental/);
    expect(text.stdout).toMatch(/Mode +two-way/);
    expect(text.stdout).toMatch(/Paused +no/);
    expect(text.stdout).toMatch(/^ {2}Customer +\S+ +\d+ +- +0$/m);
    // An incremental pass follows the backfill at once; either may be the last.
    expect(text.stdout).toMatch(/Last pass +(backfill|incremental), finished .* records?/);
    expect(text.stdout).toMatch(/Open errors +\d+/);
    expect(text.stdout).toMatch(/Pending repairs +none/);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as TenantStatus;
    expect(parsed).toEqual({ ...(await status()), lastPass: parsed.lastPass });
    expect(parsed.entities.Customer.done).toBeGreaterThan(0);
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^acme +incremental +two-way +running +\d+ records +last pass/);
    expect(lines[1]).toMatch(/^idle +not running \(tenant-sync-idle was never started\)$/);
    expect(lines[2]).toMatch(/^orphan +not running \(running, but no worker answered the status query\)$/);
  });

  it('R25: verify --json prints 0 missing, 0 extra, 0 different after the backfill and exits 0', async () => {
    const json = await cli('verify', tenantId, '--json');
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ failed: 0, missing: 0, extra: 0, different: 0, records: [] });
  });

  it('R24: pause (with a reason) and resume show in status', async () => {
    const paused = await cli('pause', tenantId, '--reason', 'support ticket 42');
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toContain('Tenant acme is paused (support ticket 42)');
    expect(await status()).toMatchObject({ paused: true, pausedReason: 'support ticket 42' });
    const resumed = await cli('resume', tenantId);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('Tenant acme is running');
    expect(await status()).toMatchObject({ paused: false, pausedReason: null });
  });

  it('R24: poll-interval takes 90s, 15m, 1h or seconds; the workflow refuses an interval out of range', async () => {
    const set = await cli('poll-interval', tenantId, '90s');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe('Tenant acme polls QuickBooks every 90 s.\n');
    expect((await status()).pollIntervalSeconds).toBe(90);
    const [tooShort, garbled] = await Promise.all([
      cli('poll-interval', tenantId, '5s'),
      cli('poll-interval', tenantId, 'soon'),
    ]);
    oneLineError(tooShort, 1, /^qbsync: tenant acme: .+/);
    oneLineError(garbled, 2, /must be a duration like 90s, 15m, 1h or a number of seconds, not "soon"/);
    const reset = await cli('poll-interval', tenantId, '15m');
    expect(reset.stdout).toBe('Tenant acme polls QuickBooks every 15 min.\n');
  });

  it('R24: sync-now is refused while paused, with the reason, in one line', async () => {
    expect((await cli('pause', tenantId)).code).toBe(0);
    const refused = await cli('sync-now', tenantId, '--wait');
    oneLineError(refused, 1, /^qbsync: tenant acme: .+/);
    expect((await cli('resume', tenantId)).code).toBe(0);
  });

  it('R24: an update no worker takes is a one-line error naming the task queue, not a command that hangs', async () => {
    const started = Date.now();
    const result = await cli('pause', 'orphan');
    oneLineError(
      result,
      1,
      new RegExp(
        `^qbsync: tenant-sync-orphan did not take the pause update within 10 s: is a worker polling task queue "${taskQueue}-unpolled"\\?$`,
      ),
    );
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('R8/R24: mode one-way is in the tenants table as soon as the command returns', async () => {
    const switched = await cli('mode', tenantId, 'one-way');
    expect(switched.code, switched.stderr).toBe(0);
    expect(switched.stdout).toContain('Tenant acme is one-way: the tenants table says one_way');
    const row = await fixture.database.db
      .selectFrom('tenants')
      .select('sync_mode')
      .where('id', '=', tenantId)
      .executeTakeFirstOrThrow();
    expect(row.sync_mode).toBe('one_way');
    expect((await status()).mode).toBe('one_way');
  });

  it('R24: sync-now --wait runs a pass; R21: repair asks, waits and prints what it fixed', async () => {
    const before = (await status()).lastPass!.finishedAt;
    const synced = await cli('sync-now', tenantId, '--wait', '--timeout', '30');
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stdout).toMatch(/^Pass done for tenant acme: incremental, \d+ records?, 0 changed in [\d.]+ s\.$/m);
    expect((await status()).lastPass!.finishedAt > before).toBe(true);
    oneLineError(await cli('repair', tenantId, '--merge', '12'), 2, /--merge.*SURVIVOR:MERGED.*not "12"/);
    oneLineError(await cli('repair', tenantId, '--merge', '12:12'), 2, /customer 12 cannot be merged into itself/);
    // Customers QBO never merged: the repair refuses to fold them together, and says so.
    const refused = await cli('repair', tenantId, '--merge', '12:13');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/merge of 13 into 12 not repaired: merged-away customer still active in QuickBooks/);
    const full = await cli('repair', tenantId, '--full');
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toMatch(
      /^Tenant acme repaired \(tenant-repair-acme-2\): 0 merges repaired, .* reconcile: \d+ compared, 0 missing, 0 different, 0 extra, \d+ failed; 0 rewritten, 0 marked deleted\.$/m,
    );
    expect((await status()).pendingRepairs).toEqual([]);
    const every = await cli('reconcile-every', tenantId, '3');
    expect(every.code, every.stderr).toBe(0);
    expect(every.stdout).toContain('Tenant acme runs a full reconcile every 3 days.');
    const row = await fixture.database.db
      .selectFrom('tenants')
      .select('full_reconcile_days')
      .where('id', '=', tenantId)
      .executeTakeFirstOrThrow();
    expect(row.full_reconcile_days).toBe(3);
    oneLineError(await cli('reconcile-every', tenantId, 'weekly'), 2, /whole number of days from 0/);
  });

  it('R25: verify exits 1 and names the differing field (never its value) after a CRM row changes behind the sync', async () => {
    const link = await fixture.database.db
      .selectFrom('qbo_links')
      .innerJoin('accounts', 'accounts.id', 'qbo_links.account_id')
      .select(['qbo_links.qbo_id', 'accounts.id'])
      .where('qbo_links.tenant_id', '=', tenantId)
      .where('qbo_links.entity_type', '=', 'Customer')
      .orderBy('accounts.id')
      .executeTakeFirstOrThrow();
    await asSync(fixture.database.db, (trx) =>
      trx.updateTable('accounts').set({ company_name: 'Secret Changed Name Inc.' }).where('id', '=', link.id).execute(),
    );
    const [text, json] = await Promise.all([cli('verify', tenantId), cli('verify', tenantId, '--json')]);
    oneLineError(text, 1, /^qbsync: QuickBooks and the CRM differ for tenant acme: 0 missing, 0 extra, 1 different$/m);
    expect(text.stdout).toContain('missing 0, extra 0, different 1');
    expect(text.stdout).toMatch(/Customer +QuickBooks +\d+ +CRM +\d+/);
    expect(text.stdout).toContain(`different Customer ${link.qbo_id}: companyName`);
    expect(text.stdout + text.stderr).not.toContain('Secret Changed Name');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      failed: 0,
      missing: 0,
      extra: 0,
      different: 1,
      records: [{ entity: 'Customer', qboId: link.qbo_id, kind: 'different', fields: ['companyName'] }],
    });
  });

  it('R25: verify reports a QBO edit that has not arrived yet, even when it changed no synced field (its version)', async () => {
    const { sim } = fixture.sim;
    const realmId = (
      await fixture.database.db
        .selectFrom('qbo_connections')
        .select('realm_id')
        .where('tenant_id', '=', tenantId)
        .executeTakeFirstOrThrow()
    ).realm_id;
    const customer = await fixture.database.db
      .selectFrom('qbo_links')
      .select(['qbo_id', 'sync_token'])
      .where('tenant_id', '=', tenantId)
      .where('entity_type', '=', 'Customer')
      .where('parent_qbo_id', 'is', null)
      .orderBy('account_id', 'desc')
      .executeTakeFirstOrThrow();
    // Notes do not sync; only the SyncToken tells that QuickBooks holds a newer version.
    sim.adminEditCustomer(realmId, customer.qbo_id, { Notes: 'rappel interne' });
    const json = await cli('verify', tenantId, '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).records).toContainEqual({
      entity: 'Customer',
      qboId: customer.qbo_id,
      kind: 'different',
      fields: ['version'],
    });
  });

  it('issue 12 #8: verify counts a synced record whose new version no longer maps as failed, lists it, and goes on', async () => {
    const { sim } = fixture.sim;
    const realmId = await connectedRealm();
    const customer = await fixture.database.db
      .selectFrom('qbo_links')
      .select('qbo_id')
      .where('tenant_id', '=', tenantId)
      .where('entity_type', '=', 'Customer')
      .where('parent_qbo_id', 'is', null)
      .orderBy('account_id')
      .executeTakeFirstOrThrow();
    sim.adminCorrupt(realmId, 'Customer', customer.qbo_id, 'wrongType');
    try {
      const [text, json] = await Promise.all([cli('verify', tenantId), cli('verify', tenantId, '--json')]);
      expect(text.stderr).not.toMatch(/^\s+at /m);
      expect(text.stdout).toMatch(new RegExp(`^ +failed +Customer ${customer.qbo_id}: DisplayName$`, 'm'));
      const report = JSON.parse(json.stdout) as { failed: number; records: unknown[] };
      expect(json.stderr).not.toMatch(/^\s+at /m);
      expect(report.failed).toBe(1);
      expect(report.records).toContainEqual({
        entity: 'Customer',
        qboId: customer.qbo_id,
        kind: 'failed',
        fields: ['DisplayName'],
      });
      // The rest of the company was still compared: the other records' counts are all there.
      expect(text.stdout).toMatch(/Invoice +QuickBooks +[1-9]\d* +CRM +[1-9]\d*/);
    } finally {
      sim.adminRepair(realmId, 'Customer', customer.qbo_id);
    }
  });

  it('issue 12 #9: sync-now --wait says that the pass failed, and why, in one line with exit 1', async () => {
    qboRefusal = new QboError(FailureType.QboValidation, 'simulated refusal of every request');
    try {
      const started = Date.now();
      const result = await cli('sync-now', tenantId, '--wait', '--timeout', '60');
      oneLineError(result, 1, /^qbsync: tenant acme: the pass failed: QboValidation: .+$/);
      expect(result.stderr).not.toMatch(/no pass finished/);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      qboRefusal = undefined;
    }
  });

  it('issue 12 #13: a QuickBooks failure is one line without a stack trace; QBSYNC_LOG_LEVEL=debug adds the stack', async () => {
    // A port just freed, so nothing listens: the QBO client fails with a QboError (QboNetwork).
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = { ...env, QBO_API_BASE_URL: `http://127.0.0.1:${port}` };
    const [plain, debug] = await Promise.all([
      runCli(['verify', tenantId], unreachable),
      runCli(['verify', tenantId], { ...unreachable, QBSYNC_LOG_LEVEL: 'debug' }),
    ]);
    oneLineError(plain, 1, /^qbsync: .+$/);
    expect(plain.stderr).not.toMatch(/^ {4}at /m);
    expect(debug.code).toBe(1);
    expect(debug.stderr.split('\n')[0]).toBe(plain.stderr.split('\n')[0]);
    expect(debug.stderr).toMatch(/^ {4}at /m);
  });

  it('issue 12 #13: connecting a company another tenant holds is one line that does not name that tenant', async () => {
    const [plain, debug] = await Promise.all([
      cli('connect', 'idle', '--auto-consent'),
      runCli(['connect', 'idle', '--auto-consent'], { ...env, QBSYNC_LOG_LEVEL: 'debug' }),
    ]);
    oneLineError(plain, 1, /^qbsync: QuickBooks company \d+ is already connected to another tenant/);
    expect(plain.stderr).not.toContain(tenantId);
    expect(debug.stderr).toMatch(/^ {4}at /m);
  });

  it('R24: unknown tenants, a workflow that is not running, and bad arguments give one-line errors', async () => {
    const [unknown, notRunning, badMode, noTenant] = await Promise.all([
      cli('status', 'ghost'),
      cli('pause', 'idle'),
      cli('mode', tenantId, 'sideways'),
      cli('status'),
    ]);
    oneLineError(unknown, 1, /^qbsync: unknown tenant "ghost": there is no such tenant in the database$/);
    oneLineError(
      notRunning,
      1,
      /^qbsync: tenant "idle" has no running sync workflow \(tenant-sync-idle was never started\)$/,
    );
    oneLineError(badMode, 2, /mode must be one-way or two-way, not "sideways"/);
    oneLineError(noTenant, 2, /^qbsync: give a tenant id, or --all for every tenant$/);
  });
});
