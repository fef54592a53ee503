import http from 'node:http';
import net from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { SyncMeter } from '../activities/sync-meter.js';
import type { RequestLimiter } from '../activities/qbo/qbo-client.js';
import { describe } from '../db/postgres.js';

/**
 * The worker's Prometheus endpoint: the sync's counters (this registry) and the Temporal SDK's own
 * metrics, which the SDK's core serves on a loopback port of its own and which are appended here,
 * so that one scrape of one port per worker sees both.
 */
export interface WorkerMetrics {
  readonly meter: SyncMeter;
  /** Counts every request the limiter lets through to QBO, per realm. */
  countingLimiter(limiter: RequestLimiter): RequestLimiter;
  /** Prometheus text: the sync's counters, then the SDK's. */
  render(): Promise<string>;
}

export function createWorkerMetrics(options: {
  readonly sdkMetricsUrl?: string;
  readonly now?: () => number;
}): WorkerMetrics {
  const now = options.now ?? Date.now;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'qbsync_worker_' });
  const written = new Counter({
    name: 'qbsync_records_written_total',
    help: 'CRM records written (created, updated or marked deleted) from QBO, per tenant.',
    labelNames: ['tenant_id'],
    registers: [registry],
  });
  const failed = new Counter({
    name: 'qbsync_records_failed_total',
    help: 'QBO records that could not be stored (each is a sync_errors row), per tenant.',
    labelNames: ['tenant_id'],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'qbsync_qbo_requests_total',
    help: 'Requests sent to the QBO API (every attempt, whatever its answer), per realm.',
    labelNames: ['realm_id'],
    registers: [registry],
  });
  /** Per tenant, per entity: up to when (QBO's clock, ms) the CRM holds every change. */
  const syncedThrough = new Map<string, Map<string, number>>();
  new Gauge({
    name: 'qbsync_lag_seconds',
    help:
      'How far the CRM is behind QBO per tenant: now minus the oldest entity cursor this worker saw. ' +
      'Several workers each report the tenants they ran: take min by (tenant_id).',
    labelNames: ['tenant_id'],
    registers: [registry],
    collect() {
      this.reset();
      const at = now();
      for (const [tenantId, entities] of syncedThrough) {
        this.set({ tenant_id: tenantId }, Math.max(0, (at - Math.min(...entities.values())) / 1000));
      }
    },
  });

  return {
    meter: {
      recordsWritten: (tenantId, count) => written.inc({ tenant_id: tenantId }, count),
      recordsFailed: (tenantId, count) => failed.inc({ tenant_id: tenantId }, count),
      syncedThrough(tenantId, entity, through) {
        let entities = syncedThrough.get(tenantId);
        if (!entities) syncedThrough.set(tenantId, (entities = new Map()));
        entities.set(entity, through.getTime());
      },
    },
    countingLimiter: (limiter) => ({
      run(realmId, call, requestClass) {
        return limiter.run(
          realmId,
          () => {
            requests.inc({ realm_id: realmId });
            return call();
          },
          requestClass,
        );
      },
    }),
    async render() {
      const own = await registry.metrics();
      if (!options.sdkMetricsUrl) return own;
      try {
        const response = await fetch(options.sdkMetricsUrl, { signal: AbortSignal.timeout(5_000) });
        return `${own}\n${await response.text()}`;
      } catch (error) {
        // The sync's counters are still worth a scrape when the SDK's exporter does not answer.
        return `${own}\n# the Temporal SDK's metrics at ${options.sdkMetricsUrl} did not answer: ${describe(error).replace(/\n/g, ' ')}\n`;
      }
    },
  };
}

/** Serves GET /metrics on every interface (a container's port); resolves once listening. */
export async function serveMetrics(metrics: WorkerMetrics, port: number): Promise<{ close(): Promise<void> }> {
  const server = http.createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    metrics.render().then(
      (text) => response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${describe(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
  return { close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A loopback port that nothing listens on now, for the SDK's own exporter. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
