/**
 * Startup and page-serving figures for the simulator at the size the issue sets:
 * `qbsync sandbox --customers 100000 --transactions 400000` must start in under 30 s and serve a
 * page of 1000 customers in under 50 ms. Run: npx tsx bench/sandbox-startup.ts
 */
import { startSimulator } from '../sandbox/index.js';

const customers = 100_000;
const transactions = 400_000;
const started = performance.now();
const sim = await startSimulator({
  port: 0,
  customers,
  transactions,
  autoConsent: true,
  rateLimits: { enabled: false },
});
const startupMs = performance.now() - started;
const realmId = sim.realmIds[0] as string;

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
    {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    },
  );
  const text = await res.text();
  const ms = performance.now() - t;
  const body = JSON.parse(text) as { QueryResponse: Record<string, unknown> };
  const list = Object.values(body.QueryResponse).find(Array.isArray) as unknown[] | undefined;
  return { ms, rows: list?.length ?? 0, bytes: text.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const cases = [
  ['customers, default order, page 1', 'SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 1000'],
  [
    'customers, ORDERBY Id, page 50',
    'SELECT * FROM Customer WHERE Active IN (true,false) ORDERBY Id STARTPOSITION 49001 MAXRESULTS 1000',
  ],
  [
    'customers, ORDERBY LastUpdatedTime, page 90',
    'SELECT * FROM Customer ORDERBY MetaData.LastUpdatedTime STARTPOSITION 89001 MAXRESULTS 1000',
  ],
  [
    'invoices, LastUpdatedTime window, page 1',
    "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2024-01-01' ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 1000",
  ],
] as const;

console.log(`qbsync sandbox --customers ${customers} --transactions ${transactions}`);
console.log(`  startup (generate + index + listen): ${(startupMs / 1000).toFixed(1)} s   (target < 30 s)`);
console.log(`  heap used: ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
for (const [label, statement] of cases) {
  const runs: number[] = [];
  let last = { ms: 0, rows: 0, bytes: 0 };
  for (let i = 0; i < 7; i++) {
    last = await timePage(statement);
    runs.push(last.ms);
  }
  console.log(
    `  ${label}: first ${runs[0]?.toFixed(1)} ms, median ${median(runs).toFixed(1)} ms over HTTP, ${last.rows} rows, ${(last.bytes / 1e6).toFixed(2)} MB   (target < 50 ms)`,
  );
}
await sim.stop();
