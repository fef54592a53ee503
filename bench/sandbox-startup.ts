/**
 * Startup and page-serving figures for the simulator at the size the issue sets:
 * `qbsync sandbox --customers 100000 --transactions 400000` must start in under 30 s and serve a
 * page of 1000 customers in under 50 ms.
 *
 * Run: npx tsx bench/sandbox-startup.ts [--customers N] [--transactions N] [--runs N] [--no-warm]
 *
 * Prints the load average (the figures mean little on a busy machine), the startup time, the heap,
 * then for each query shape the first request, and the median and p95 of `--runs` (default 60)
 * repeated requests over HTTP on loopback, keep-alive, each request's body read in full. The
 * "distinct pages" shape reads a different page every time, so no record's cached JSON is reused:
 * the cost of a page nobody has read yet; before it the bench waits for the background warm-up of
 * customer JSON (which runs only while the API is idle; `--no-warm` turns it off, and then these
 * records are rendered on demand).
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { startSimulator } from '../sandbox/index.js';

const { values: args } = parseArgs({
  options: {
    customers: { type: 'string', default: '100000' },
    transactions: { type: 'string', default: '400000' },
    runs: { type: 'string', default: '60' },
    'no-warm': { type: 'boolean', default: false },
  },
});
const customers = Number(args.customers);
const transactions = Number(args.transactions);
const runs = Math.max(1, Number(args.runs));
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

console.log(`qbsync sandbox --customers ${customers} --transactions ${transactions}`);
console.log(`  machine: ${os.cpus().length} CPUs, load average before start: ${load()}`);
const started = performance.now();
const sim = await startSimulator({
  port: 0,
  customers,
  transactions,
  autoConsent: true,
  rateLimits: { enabled: false },
  warmCache: !args['no-warm'],
});
const startupMs = performance.now() - started;
let warmedAfter: number | undefined;
void sim.warmed.then(() => {
  warmedAfter = performance.now() - started;
});
const realmId = sim.realmIds[0] as string;
console.log(`  startup (generate + index + listen): ${(startupMs / 1000).toFixed(1)} s   (target < 30 s)`);
console.log(`  heap used after start: ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);

const authorize = `${sim.oauthUrls.authorizeEndpoint}?client_id=${sim.clientId}&redirect_uri=${encodeURIComponent('http://localhost/cb')}&response_type=code&scope=com.intuit.quickbooks.accounting&state=b`;
const callback = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location') as string);
const tokenReply = await fetch(sim.oauthUrls.tokenEndpoint, {
  method: 'POST',
  headers: {
    authorization: `Basic ${Buffer.from(`${sim.clientId}:${sim.clientSecret}`).toString('base64')}`,
    'content-type': 'application/x-www-form-urlencoded',
  },
  body: new URLSearchParams({
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code') ?? '',
    redirect_uri: 'http://localhost/cb',
  }),
});
const token = ((await tokenReply.json()) as { access_token: string }).access_token;

async function timePage(statement: string): Promise<{ ms: number; rows: number; bytes: number }> {
  const t = performance.now();
  const res = await fetch(
    `${sim.baseUrl}/v3/company/${realmId}/query?query=${encodeURIComponent(statement)}&minorversion=75`,
    { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
  );
  const text = await res.text();
  const ms = performance.now() - t;
  if (res.status !== 200) throw new Error(`HTTP ${res.status} for ${statement}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { QueryResponse: Record<string, unknown> };
  const list = Object.values(body.QueryResponse).find(Array.isArray) as unknown[] | undefined;
  return { ms, rows: list?.length ?? 0, bytes: Buffer.byteLength(text) };
}

function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const pageOf = (n: number) => `STARTPOSITION ${(n - 1) * 1000 + 1} MAXRESULTS 1000`;
const shapes: { label: string; statement: (run: number) => string }[] = [
  {
    label: 'customers, default order, page 1',
    statement: () => 'SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 1000',
  },
  {
    label: 'customers, ORDERBY Id, page 50',
    statement: () => `SELECT * FROM Customer WHERE Active IN (true,false) ORDERBY Id ${pageOf(50)}`,
  },
  {
    label: 'customers, ORDERBY LastUpdatedTime, page 90',
    statement: () => `SELECT * FROM Customer ORDERBY MetaData.LastUpdatedTime ${pageOf(90)}`,
  },
  {
    label: 'customers, Active IN + LastUpdatedTime window, ORDERBY LastUpdatedTime, page 2',
    statement: () =>
      `SELECT * FROM Customer WHERE Active IN (true,false) AND MetaData.LastUpdatedTime >= '2022-01-01' AND MetaData.LastUpdatedTime < '2026-01-01' ORDERBY MetaData.LastUpdatedTime ${pageOf(2)}`,
  },
  {
    label: 'invoices, LastUpdatedTime window, page 1',
    statement: () =>
      `SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2024-01-01' ORDERBY MetaData.LastUpdatedTime ${pageOf(1)}`,
  },
  {
    label: 'customers, ORDERBY Id, distinct pages (records no request read before)',
    statement: (run) =>
      `SELECT * FROM Customer WHERE Active IN (true,false) ORDERBY Id ${pageOf(1 + ((run + 1) % Math.max(1, Math.floor(customers / 1000))))}`,
  },
];

console.log(`  pages over HTTP (${runs} requests per shape after the first; target < 50 ms):`);
const figures: Record<string, { first: number; median: number; p95: number }> = {};
for (const shape of shapes) {
  if (shape.label.includes('distinct')) {
    // The warm-up only runs while the API is idle (as while a test sets up its database and workers).
    const waitStarted = performance.now();
    await sim.warmed;
    console.log(
      args['no-warm']
        ? '    (background warm-up of customer JSON: off, so these records are rendered on demand)'
        : `    (background warm-up of customer JSON: done ${((warmedAfter ?? 0) / 1000).toFixed(1)} s after start; waited ${((performance.now() - waitStarted) / 1000).toFixed(1)} s of idle API for it)`,
    );
  }
  const first = await timePage(shape.statement(-1));
  const times: number[] = [];
  let last = first;
  for (let i = 0; i < runs; i++) {
    last = await timePage(shape.statement(i));
    times.push(last.ms);
  }
  const median = percentile(times, 50);
  const p95 = percentile(times, 95);
  figures[shape.label] = { first: first.ms, median, p95 };
  console.log(
    `    ${shape.label}: first ${first.ms.toFixed(1)} ms, median ${median.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms; ${last.rows} rows, ${(last.bytes / 1e6).toFixed(2)} MB`,
  );
}
const company = sim.sim.companies.get(realmId);
const memory = process.memoryUsage();
console.log(
  `  memory after the pages: heap ${(memory.heapUsed / 1e6).toFixed(0)} MB, buffers ${(memory.arrayBuffers / 1e6).toFixed(0)} MB (record JSON cache ${((company?.renderCacheSize ?? 0) / 1e6).toFixed(0)} MB), rss ${(memory.rss / 1e6).toFixed(0)} MB`,
);
console.log(`  load average at the end: ${load()}`);
await sim.stop();
