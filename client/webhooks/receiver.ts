import type { Client } from '@temporalio/client';
import Fastify, { type FastifyError } from 'fastify';
import type { Kysely } from 'kysely';
import { purgeWebhookEvents, recordWebhookDelivery } from '../../db/repositories/webhook-events.js';
import type { Database, QboConnectionsTable } from '../../db/schema.js';
import { UsageError } from '../cli-errors.js';
import { parseWebhookBody, signatureMatches, WebhookPayloadError } from './payload.js';
import { createWebhookRouter, type RoutingTimings, type WebhookRouter } from './router.js';

/**
 * The QuickBooks webhook receiver (issue 15): POST /webhooks/quickbooks, in either of Intuit's
 * formats. It answers within Intuit's 3 seconds because all it does before answering is check the
 * signature over the raw bytes and store the new events in one INSERT; the tenant's workflow is
 * told afterwards (router.ts), so a slow or absent Temporal never delays the answer.
 *
 * Answers, in the order they are decided:
 * - 413: a body over the limit (Intuit sends up to about 1 MB), read no further.
 * - 415: a content type other than JSON (`application/json`, `application/cloudevents+json`).
 * - 401: `intuit-signature` missing or not matching the body; or a replay (the same body, or only
 *   event ids already stored). Nothing is stored or signalled.
 * - 400: correctly signed, but not a delivery in either format. Intuit advises against 400 because
 *   it retries a failed batch whole and holds later deliveries behind it. That is the wanted effect
 *   here: a signed body we cannot read means Intuit's format moved past this parser, and keeping the
 *   delivery in Intuit's retry queue (visible on its dashboard) loses nothing once the parser is
 *   fixed, while periodic passes keep tenants in step meanwhile. What the parser does not know
 *   inside a readable delivery (a new entity, operation or event type) is accepted, not refused.
 * - 200: stored (an unknown realm too: it is logged and dropped when routed, so Intuit stops).
 */
export const webhookPath = '/webhooks/quickbooks';
export const defaultWebhookBodyLimitBytes = 1024 * 1024;
const defaultRetentionDays = 7;
const purgeEveryMs = 3600_000;

export interface WebhookReceiverOptions {
  readonly db: Kysely<Database>;
  readonly temporal: Client;
  readonly verifierToken: string;
  readonly environment: QboConnectionsTable['environment'];
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  readonly log: (line: string) => void;
  readonly bodyLimitBytes?: number;
  /** Stored events older than this are purged (hourly). Default 7 days. */
  readonly retentionDays?: number;
  readonly routing?: RoutingTimings;
}

export interface RunningWebhookReceiver {
  /** The endpoint to give Intuit (or the simulator). */
  readonly url: string;
  readonly router: WebhookRouter;
  close(): Promise<void>;
}

export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<RunningWebhookReceiver> {
  const bodyLimit = options.bodyLimitBytes ?? defaultWebhookBodyLimitBytes;
  const router = createWebhookRouter({
    db: options.db,
    temporal: options.temporal,
    environment: options.environment,
    log: options.log,
    ...options.routing,
  });
  const app = Fastify({ bodyLimit, return503OnClosing: true });
  app.removeAllContentTypeParsers();
  // The signature covers the bytes as sent: the body stays a Buffer, parsed only once verified.
  app.addContentTypeParser(
    ['application/json', 'application/cloudevents+json'],
    { parseAs: 'buffer' },
    (_request, body, done) => done(null, body),
  );
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode ?? 500;
    const message =
      status === 413
        ? `the body is larger than ${bodyLimit} bytes`
        : status === 415
          ? 'the content type must be application/json or application/cloudevents+json'
          : status < 500
            ? error.message
            : 'the delivery could not be stored; retry later';
    if (status >= 500) options.log(`webhooks: ${error.message}`);
    void reply.code(status).send({ error: message });
  });

  app.post(webhookPath, async (request, reply) => {
    const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const signature = request.headers['intuit-signature'];
    if (typeof signature !== 'string' || signature === '') {
      return reply.code(401).send({ error: 'the intuit-signature header is missing' });
    }
    if (!signatureMatches(rawBody, signature, options.verifierToken)) {
      options.log(`webhooks: refused a delivery from ${request.ip} whose intuit-signature does not match its body`);
      return reply.code(401).send({ error: 'intuit-signature does not match the body' });
    }
    let delivery;
    try {
      delivery = parseWebhookBody(rawBody);
    } catch (error) {
      if (!(error instanceof WebhookPayloadError)) throw error;
      options.log(`webhooks: refused a signed delivery that is not a QuickBooks webhook: ${error.message}`);
      return reply.code(400).send({ error: `not a QuickBooks webhook delivery: ${error.message}` });
    }
    const recorded = await recordWebhookDelivery(options.db, delivery);
    if (recorded.outcome === 'replayed') {
      options.log(`webhooks: refused a replayed delivery from ${request.ip} (body or event ids already received)`);
      return reply.code(401).send({ error: 'this delivery was already received (same body or same event ids)' });
    }
    // Timers only: routing starts after this answer has gone.
    for (const realmId of new Set(delivery.events.map((event) => event.realmId))) router.notify(realmId);
    return reply.code(200).send({ accepted: recorded.newEvents });
  });

  const retentionMs = (options.retentionDays ?? defaultRetentionDays) * 86_400_000;
  const purge = () =>
    purgeWebhookEvents(options.db, new Date(Date.now() - retentionMs)).catch((error: unknown) =>
      options.log(`webhooks: purging old events failed: ${(error as Error).message}`),
    );
  await purge();
  const purging = setInterval(() => void purge(), purgeEveryMs);
  purging.unref();

  let address: string;
  try {
    address = await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    clearInterval(purging);
    await app.close();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new UsageError(
        `port ${options.port} for the webhook receiver is in use: choose another (qbsync webhooks --port, qbsync dev --webhooks-port, or QBSYNC_WEBHOOKS_PORT)`,
      );
    }
    throw error;
  }
  void router
    .routeUnrouted()
    .catch((error: unknown) =>
      options.log(`webhooks: routing events left by an earlier receiver failed: ${(error as Error).message}`),
    );
  return {
    url: `${address}${webhookPath}`,
    router,
    async close() {
      clearInterval(purging);
      await app.close();
      await router.stop();
    },
  };
}
