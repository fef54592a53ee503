import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorkerMetrics, freeLoopbackPort, serveMetrics } from './metrics.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A stand-in for the SDK core's exporter: a real HTTP server answering fixed Prometheus text. */
async function sdkExporter(text: string): Promise<string> {
  const server = http.createServer((_, response) => response.end(text));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/metrics`;
}

describe('worker metrics', () => {
  it('counts records written and failed per tenant, and QBO requests per realm as the limiter lets them through', async () => {
    const metrics = createWorkerMetrics({});
    metrics.meter.recordsWritten('acme', 530);
    metrics.meter.recordsWritten('acme', 12);
    metrics.meter.recordsFailed('acme', 2);
    metrics.meter.recordsWritten('globex', 0);
    let ran = 0;
    const limiter = metrics.countingLimiter({ run: (_realm, call) => call() });
    await limiter.run('9130', async () => ++ran);
    await limiter.run('9130', async () => ++ran);
    // A call the inner limiter refuses never reached QBO: not counted.
    const refusing = metrics.countingLimiter({ run: () => Promise.reject(new Error('budget spent')) });
    await expect(refusing.run('9130', async () => ++ran)).rejects.toThrow('budget spent');

    const text = await metrics.render();
    expect(ran).toBe(2);
    expect(text).toMatch(/^qbsync_records_written_total\{tenant_id="acme"\} 542$/m);
    expect(text).toMatch(/^qbsync_records_failed_total\{tenant_id="acme"\} 2$/m);
    expect(text).toMatch(/^qbsync_qbo_requests_total\{realm_id="9130"\} 2$/m);
    expect(text).toMatch(/^qbsync_worker_process_resident_memory_bytes \d+/m);
  });

  it('R23 / issue 16: the counting limiter hands a batch request on as one, so the batch budget sees it', async () => {
    const classes: unknown[] = [];
    const limiter = createWorkerMetrics({}).countingLimiter({
      run: (_realm, call, requestClass) => {
        classes.push(requestClass);
        return call();
      },
    });
    await limiter.run('9130', async () => undefined, 'batch');
    await limiter.run('9130', async () => undefined);
    expect(classes).toEqual(['batch', undefined]);
  });

  it('reports each tenant’s lag behind QBO from its oldest entity cursor, growing while nothing syncs', async () => {
    let now = Date.parse('2026-12-01T12:00:00Z');
    const metrics = createWorkerMetrics({ now: () => now });
    metrics.meter.syncedThrough('acme', 'Customer', new Date('2026-12-01T11:59:50Z'));
    metrics.meter.syncedThrough('acme', 'Invoice', new Date('2026-12-01T11:00:00Z'));
    metrics.meter.syncedThrough('globex', 'Item', new Date('2026-12-01T11:59:58Z'));
    expect(await metrics.render()).toMatch(/^qbsync_lag_seconds\{tenant_id="acme"\} 3600$/m);
    // Invoices catch up; a minute later without a pass the lag has grown by that minute.
    metrics.meter.syncedThrough('acme', 'Invoice', new Date('2026-12-01T11:59:55Z'));
    now += 60_000;
    const text = await metrics.render();
    expect(text).toMatch(/^qbsync_lag_seconds\{tenant_id="acme"\} 70$/m);
    expect(text).toMatch(/^qbsync_lag_seconds\{tenant_id="globex"\} 62$/m);
  });

  it('serves its counters and the SDK’s on one port, and its own still when the SDK’s exporter is down', async () => {
    const sdkUrl = await sdkExporter('# TYPE temporal_sticky_cache_miss counter\ntemporal_sticky_cache_miss 4\n');
    const metrics = createWorkerMetrics({ sdkMetricsUrl: sdkUrl });
    metrics.meter.recordsWritten('acme', 1);
    const port = await freeLoopbackPort();
    const served = await serveMetrics(metrics, port);
    closers.push(() => served.close());
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toMatch(/^qbsync_records_written_total\{tenant_id="acme"\} 1$/m);
    expect(text).toMatch(/^temporal_sticky_cache_miss 4$/m);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);

    const orphan = createWorkerMetrics({ sdkMetricsUrl: `http://127.0.0.1:${await freeLoopbackPort()}/metrics` });
    const alone = await orphan.render();
    expect(alone).toContain('# TYPE qbsync_records_written_total counter');
    expect(alone).toMatch(/^# the Temporal SDK's metrics at .* did not answer/m);
  });
});
