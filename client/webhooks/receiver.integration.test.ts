import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { samplesDir } from '../../activities/mapping/samples.js';
import { recordWebhookDelivery } from '../../db/repositories/webhook-events.js';
import { untilAccountNamed } from '../../test/account-names.js';
import { freePort } from '../../test/global-setup.js';
import { startTenantHarness, type TenantHarness } from '../../test/tenant-harness.js';
import { parseWebhookBody } from './payload.js';
import { startWebhookReceiver, type RunningWebhookReceiver } from './receiver.js';

const verifierToken = 'webhooks-test-verifier-token';
const sample = (name: string) => readFileSync(path.join(samplesDir, name), 'utf8');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let tenant: TenantHarness;
let receiver: RunningWebhookReceiver;
const logs: string[] = [];

beforeAll(async () => {
  tenant = await startTenantHarness({
    tenantId: 'webhooks',
    company: { customers: 20, transactions: 40, items: 10, verifierToken },
  });
  await tenant.backfilled();
  receiver = await startWebhookReceiver({
    db: tenant.fixture.database.db,
    temporal: tenant.client,
    verifierToken,
    environment: 'sandbox',
    host: '127.0.0.1',
    port: 0,
    log: (line) => logs.push(line),
  });
});

afterAll(async () => {
  await receiver?.close();
  await tenant?.stop();
});

function sign(body: string | Buffer, token = verifierToken): string {
  return createHmac('sha256', token).update(body).digest('base64');
}

async function post(
  body: string | Buffer,
  headers: Record<string, string> = { 'intuit-signature': sign(body) },
): Promise<{ status: number; answer: { error?: string; accepted?: number }; ms: number }> {
  const started = Date.now();
  const response = await fetch(receiver.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const answer = (await response.json()) as { error?: string; accepted?: number };
  return { status: response.status, answer, ms: Date.now() - started };
}

interface SentSignal {
  readonly name: string;
  readonly input: unknown;
}

/** The signals the tenant's workflow received, read from its history (its current run). */
async function signals(): Promise<SentSignal[]> {
  const history = await tenant.handle().fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const signalled = event.workflowExecutionSignaledEventAttributes;
    if (!signalled?.signalName) return [];
    const payload = signalled.input?.payloads?.[0];
    return [{ name: signalled.signalName, input: payload ? defaultPayloadConverter.fromPayload(payload) : undefined }];
  });
}

async function storedEvents(): Promise<number> {
  const row = await tenant.fixture.database.db
    .selectFrom('webhook_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Waits for the router to have told the workflow, and for the passes that asked for to end. */
async function settled(): Promise<void> {
  await receiver.router.idle();
  // A signal is seen by the workflow a moment after it is sent; then let its pass run out.
  await sleep(300);
  for (;;) {
    const running = await tenant.fixture.database.db
      .selectFrom('sync_passes')
      .select('id')
      .where('tenant_id', '=', tenant.tenantId)
      .where('status', '=', 'running')
      .execute();
    const status = await tenant.status();
    if (running.length === 0 && status.phase === 'incremental') break;
    await sleep(100);
  }
}

/** A CloudEvents delivery for the tenant's company. */
function cloudEvents(count: number, type = 'qbo.customer.updated.v1'): string {
  return JSON.stringify(
    Array.from({ length: count }, (_, i) => ({
      specversion: '1.0',
      id: randomUUID(),
      source: 'intuit.test',
      type,
      time: new Date().toISOString(),
      intuitentityid: String(1 + (i % 20)),
      intuitaccountid: tenant.realmId,
    })),
  );
}

/** Sends a delivery expected to be refused: nothing stored, no signal, even after routing would have run. */
async function expectRefused(
  body: string | Buffer,
  headers: Record<string, string> | undefined,
  status: number,
  message: RegExp,
): Promise<void> {
  await settled();
  const [rowsBefore, signalsBefore] = [await storedEvents(), (await signals()).length];
  const answer = await post(body, headers);
  expect(answer.status).toBe(status);
  expect(answer.answer.error).toMatch(message);
  await sleep(500);
  await receiver.router.idle();
  expect(await storedEvents()).toBe(rowsBefore);
  expect((await signals()).length).toBe(signalsBefore);
}

describe('webhooks: the QuickBooks webhook receiver', () => {
  it('R23: accepts a legacy delivery and asks the tenant for a pass', async () => {
    await settled();
    const before = (await signals()).length;
    const body = sample('webhook-legacy-docs.source-intuit-docs.json').replace('1185883450', tenant.realmId);
    const answer = await post(body);
    expect(answer).toMatchObject({ status: 200, answer: { accepted: 2 } });
    await settled();
    const sent = (await signals()).slice(before);
    expect(sent).toEqual([{ name: 'syncNow', input: { reason: 'webhook: 2 events' } }]);
  });

  it('R21/R24: accepts a CloudEvents merge, sends the repair request with both ids and asks for a pass', async () => {
    await settled();
    const before = (await signals()).length;
    const body = sample('webhook-cloudevents-merged.source-intuit-docs.json')
      .replace('93414556*********', tenant.realmId)
      .replace('********-****-****-****-************-Customer-123', randomUUID());
    // Intuit may send CloudEvents with their own content type.
    const answer = await post(body, { 'intuit-signature': sign(body), 'content-type': 'application/cloudevents+json' });
    expect(answer).toMatchObject({ status: 200, answer: { accepted: 1 } });
    await settled();
    expect((await signals()).slice(before)).toEqual([
      { name: 'repair', input: { requestedBy: 'webhook', survivorQboId: '123', mergedQboId: '27' } },
      { name: 'syncNow', input: { reason: 'webhook: 1 events' } },
    ]);
  });

  it('refuses a forged signature, doing nothing', async () => {
    const body = cloudEvents(3);
    await expectRefused(body, { 'intuit-signature': sign(body, 'a guessed token') }, 401, /does not match the body/);
    // Signed, then altered: the signature covers the raw bytes.
    await expectRefused(
      body.replace('updated', 'deleted'),
      { 'intuit-signature': sign(body) },
      401,
      /does not match the body/,
    );
  });

  it('refuses a delivery without a signature, doing nothing', async () => {
    await expectRefused(cloudEvents(3), {}, 401, /intuit-signature header is missing/);
  });

  it('refuses a replayed body and replayed event ids, doing nothing', async () => {
    const body = cloudEvents(5);
    expect((await post(body)).status).toBe(200);
    await expectRefused(body, undefined, 401, /already received/);
    // The same events in other bytes (re-serialised and signed again) are a replay too.
    const reformatted = JSON.stringify(JSON.parse(body), null, 2);
    await expectRefused(reformatted, undefined, 401, /already received/);
    // A legacy delivery has no event ids: its events are known by what they say.
    const legacy = sample('webhook-legacy.source-intuit-blog.json').replace('310687', tenant.realmId);
    expect((await post(legacy)).status).toBe(200);
    await expectRefused(JSON.stringify(JSON.parse(legacy)), undefined, 401, /already received/);
  });

  it('refuses malformed JSON and a body of the wrong shape with 400 and a clear message, doing nothing', async () => {
    await expectRefused(
      '{"eventNotifications": [',
      undefined,
      400,
      /not a QuickBooks webhook delivery: the body is not JSON/,
    );
    await expectRefused(
      JSON.stringify({ eventNotifications: [{ realmId: tenant.realmId }] }),
      undefined,
      400,
      /eventNotifications\[0\]\.dataChangeEvent\.entities is not an array/,
    );
  });

  it('refuses an oversized body with 413, doing nothing, and takes one just under the limit whatever its events', async () => {
    const body = cloudEvents(1).padEnd(1024 * 1024 + 1, ' ');
    await expectRefused(body, undefined, 413, /larger than 1048576 bytes/);
    // Under 1 MB, small events number thousands: more than PostgreSQL's 65,535 parameters as a VALUES list.
    const prefix = randomUUID().slice(0, 8);
    const many = JSON.stringify(
      Array.from({ length: 9000 }, (_, i) => ({
        id: `${prefix}-${i}`,
        type: 'qbo.item.updated.v1',
        intuitentityid: '1',
        intuitaccountid: tenant.realmId,
      })),
    );
    expect(many.length).toBeLessThan(1024 * 1024);
    const answer = await post(many);
    expect(answer).toMatchObject({ status: 200, answer: { accepted: 9000 } });
  });

  it('R23: accepts an event for a company no tenant is connected to, logs it and tells nobody', async () => {
    await settled();
    const before = (await signals()).length;
    const body = sample('webhook-cloudevents-created.source-intuit-blog.json');
    expect((await post(body)).status).toBe(200);
    await settled();
    expect((await signals()).length).toBe(before);
    expect(logs.join('\n')).toMatch(
      /no tenant is connected to QuickBooks company 310687 \(sandbox\); 1 events dropped/,
    );
  });

  it('R23: a burst of 1,000 events for one company, sent at once, is answered within 3 s and costs at most 2 passes', async () => {
    await settled();
    const since = new Date();
    const rowsBefore = await storedEvents();
    // 50 deliveries of 20 events at once: more concurrent load than Intuit, which waits for each answer.
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(cloudEvents(20))));
    expect(
      answers.filter((answer) => answer.status !== 200),
      logs.slice(-3).join('\n'),
    ).toEqual([]);
    const slowest = Math.max(...answers.map((answer) => answer.ms));
    expect(slowest).toBeLessThan(3000);
    expect(await storedEvents()).toBe(rowsBefore + 1000);
    await settled();
    const passes = await tenant.fixture.database.db
      .selectFrom('sync_passes')
      .select('id')
      .where('tenant_id', '=', tenant.tenantId)
      .where('kind', '=', 'incremental')
      .where('started_at', '>=', since)
      .execute();
    console.log(`webhooks burst: 1000 events, slowest answer ${slowest} ms, ${passes.length} passes`);
    expect(passes.length).toBeGreaterThanOrEqual(1);
    expect(passes.length).toBeLessThanOrEqual(2);
    const unrouted = await tenant.fixture.database.db
      .selectFrom('webhook_events')
      .select('id')
      .where('routed_at', 'is', null)
      .execute();
    expect(unrouted).toEqual([]);
  });

  it('R23: a receiver that starts routes the events a stopped one stored and did not route, and purges events past retention', async () => {
    await settled();
    const db = tenant.fixture.database.db;
    const before = (await signals()).length;
    // As if a receiver had answered Intuit and stopped before routing: stored, not routed.
    await recordWebhookDelivery(db, parseWebhookBody(Buffer.from(cloudEvents(3))));
    await db
      .updateTable('webhook_events')
      .set({ received_at: new Date(Date.now() - 8 * 86_400_000) })
      .where('routed_at', 'is not', null)
      .execute();
    const restarted = await startWebhookReceiver({
      db,
      temporal: tenant.client,
      verifierToken,
      environment: 'sandbox',
      host: '127.0.0.1',
      port: 0,
      log: (line) => logs.push(line),
    });
    try {
      await sleep(300);
      await restarted.router.idle();
      expect((await signals()).slice(before)).toEqual([{ name: 'syncNow', input: { reason: 'webhook: 3 events' } }]);
      const left = await db.selectFrom('webhook_events').select(['routed_at']).execute();
      expect(left).toHaveLength(3);
      expect(left.every((row) => row.routed_at !== null)).toBe(true);
    } finally {
      await restarted.close();
    }
  });

  it('R23: answers at once while Temporal cannot be reached, tries a few times, and leaves the events for the next start', async () => {
    await settled();
    const db = tenant.fixture.database.db;
    const unreachable = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${await freePort()}` }) });
    const cut = await startWebhookReceiver({
      db,
      temporal: unreachable,
      verifierToken,
      environment: 'sandbox',
      host: '127.0.0.1',
      port: 0,
      log: (line) => logs.push(line),
      routing: { retryDelayMs: 100, maxAttempts: 2, signalTimeoutMs: 500 },
    });
    const before = (await signals()).length;
    try {
      const body = cloudEvents(4);
      const started = Date.now();
      const response = await fetch(cut.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'intuit-signature': sign(body) },
        body,
      });
      expect(response.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(3000);
      await sleep(300);
      await cut.router.idle();
      expect(logs.join('\n')).toMatch(/failed 2 times .*; its periodic pass will catch the changes/);
      const unrouted = await db.selectFrom('webhook_events').select('id').where('routed_at', 'is', null).execute();
      expect(unrouted).toHaveLength(4);
    } finally {
      await cut.close();
      await unreachable.connection.close();
    }
    expect((await signals()).length).toBe(before);
    // The next receiver to start (Temporal back) routes them.
    await receiver.router.routeUnrouted();
    await settled();
    expect((await signals()).slice(before)).toEqual([{ name: 'syncNow', input: { reason: 'webhook: 4 events' } }]);
  });

  it('says in one line which setting to change when its port is in use', async () => {
    const port = Number(new URL(receiver.url).port);
    await expect(
      startWebhookReceiver({
        db: tenant.fixture.database.db,
        temporal: tenant.client,
        verifierToken,
        environment: 'sandbox',
        host: '127.0.0.1',
        port,
        log: (line) => logs.push(line),
      }),
    ).rejects.toThrow(`port ${port} for the webhook receiver is in use: choose another`);
  });

  it('R23: with the simulator sending signed webhooks, an edit reaches the CRM within seconds though passes are an hour apart', async () => {
    await settled();
    expect((await tenant.status()).pollIntervalSeconds).toBe(3600);
    tenant.fixture.sim.sim.webhooks.configure({ url: receiver.url, aggregationMs: 0 });
    const customer = tenant.company()['Customer']!.find((c) => c.Active !== false && !c.Job)!;
    const companyName = `Webhook ${randomUUID().slice(0, 8)} inc.`;
    const edited = Date.now();
    const response = await fetch(
      `${tenant.fixture.sim.baseUrl}/__sim/companies/${tenant.realmId}/customers/${customer.Id}`,
      {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ CompanyName: companyName }),
      },
    );
    expect(response.status).toBe(200);
    const ms = await untilAccountNamed(
      tenant.fixture.database.db,
      tenant.tenantId,
      customer.Id,
      companyName,
      edited,
      5_000,
    );
    console.log(`webhooks: the edit reached the CRM ${ms} ms after it was made`);
    const delivered = tenant.fixture.sim.sim.webhooks.deliveries.filter((d) => d.url === receiver.url);
    expect(delivered.map((d) => d.state)).toEqual(delivered.map(() => 'delivered'));
  });
});
