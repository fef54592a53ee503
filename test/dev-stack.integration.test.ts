import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createQboClientForTenant } from '../activities/qbo/qbo-auth.js';
import { demoTenantId, startDevDemo, type DevDemo } from '../client/dev.js';
import { verifyTenant } from '../client/verify.js';
import { portAnswers } from '../db/postgres.js';
import { loadConfig } from '../worker/config.js';
import { qboAuthDepsFromConfig } from '../worker/qbo-deps.js';
import { statusQuery } from '../workflows/definitions.js';
import { untilAccountNamed } from './account-names.js';
import { freePort } from './global-setup.js';

describe('qbsync dev stack', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'qbsync-embedded-'));
  let demo: DevDemo | undefined;

  afterAll(async () => {
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('R5/R23: starts an embedded PostgreSQL when nothing answers at the local address, migrates it, backfills the demo tenant from the simulator, and brings an edit there through its webhook', async () => {
    const port = await freePort();
    expect(await portAnswers('127.0.0.1', port)).toBe(false);
    const config = loadConfig({
      QBSYNC_POSTGRES_PORT: String(port),
      QBSYNC_DATA_DIR: dataDir,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: `embedded-${port}`,
    });
    const lines: string[] = [];
    demo = await startDevDemo(config, (line) => lines.push(line), {
      simulatorPort: await freePort(),
      customers: 60,
      transactions: 200,
      startDate: '2020-01-01',
      pollIntervalSeconds: 3600,
      webhooksPort: await freePort(),
    });
    expect(demo.stack.database.target.source).toBe('embedded');
    expect(demo.stack.startedTemporal).toBe(false);
    expect(lines.join('\n')).toMatch(/starting an embedded one/);

    const handle = demo.stack.client.workflow.getHandle(demo.workflowId);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const status = await handle.query(statusQuery);
      if (status.phase === 'incremental' && status.lastPass) break;
      if (Date.now() > deadline) throw new Error(`the demo backfill did not finish: ${JSON.stringify(status)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const deps = qboAuthDepsFromConfig(demo.config, demo.stack.database.db, () => new Date());
    const report = await verifyTenant(
      demo.stack.database.db,
      await createQboClientForTenant(deps!, demoTenantId),
      demoTenantId,
    );
    expect({ missing: report.missing, extra: report.extra, different: report.different }).toEqual({
      missing: 0,
      extra: 0,
      different: 0,
    });

    // npm start's wiring: the simulator signs its webhooks for the demo's receiver, so an edit
    // arrives in seconds though passes on a timer are an hour apart.
    expect(demo.webhooksUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webhooks\/quickbooks$/);
    const customer = (
      demo.simulator.sim.adminState(demo.realmId) as { entities: { Customer: Array<{ Id: string; Job?: boolean }> } }
    ).entities.Customer.find((c) => !c.Job)!;
    const edited = Date.now();
    const response = await fetch(`${demo.simulator.baseUrl}/__sim/companies/${demo.realmId}/customers/${customer.Id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ CompanyName: 'Arrivé par webhook inc.' }),
    });
    expect(response.status).toBe(200);
    await untilAccountNamed(
      demo.stack.database.db,
      demoTenantId,
      customer.Id,
      'Arrivé par webhook inc.',
      edited,
      10_000,
    );

    await demo.stop();
    demo = undefined;
    expect(await portAnswers('127.0.0.1', port)).toBe(false);
  }, 240_000);
});
