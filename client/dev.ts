import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { describePassRecords } from '../common/sync-types.js';
import { asSync } from '../db/crm-rules.js';
import { deleteTenant } from '../db/repositories/tenants.js';
import { parseTokenKey } from '../db/token-crypto.js';
import { startSimulator, type RunningSimulator } from '../sandbox/index.js';
import type { Config } from '../worker/config.js';
import { qboAuthDepsFromConfig, redirectUriOf } from '../worker/qbo-deps.js';
import { statusQuery, tenantWorkflowId } from '../workflows/definitions.js';
import { createProgressView } from './progress-view.js';
import { runConnectFlow } from './onboarding/connect-flow.js';
import { saveSettings, startTenantSync, type OnboardingDeps } from './onboarding/service.js';
import { startDevStack, type DevStack } from './stack.js';
import { startWebhookReceiver, type RunningWebhookReceiver } from './webhooks/receiver.js';

/**
 * `qbsync dev`: the whole stack on one machine with a simulated QuickBooks company and one demo
 * tenant onboarded on it, as a newcomer's first look. The demo tenant is reset at every start (the
 * simulated company lives in memory, so its old tokens and ids mean nothing to the new one).
 */
export const demoTenantId = 'demo';

export interface DevDemoOptions {
  readonly simulatorPort: number;
  readonly customers: number;
  readonly transactions: number;
  readonly startDate: string;
  /** Seconds between the demo's incremental passes (long with webhooks, which bring edits at once). */
  readonly pollIntervalSeconds: number;
  /** The webhook receiver's port, to which the simulator sends its signed webhooks; undefined: none. */
  readonly webhooksPort?: number | undefined;
}

export interface DevDemo {
  readonly stack: DevStack;
  readonly simulator: RunningSimulator;
  readonly config: Config;
  readonly realmId: string;
  readonly workflowId: string;
  /** The webhook receiver's endpoint, when the demo runs one. */
  readonly webhooksUrl: string | undefined;
  stop(): Promise<void>;
}

export async function startDevDemo(
  config: Config,
  log: (line: string) => void,
  options: DevDemoOptions,
): Promise<DevDemo> {
  log(
    `QuickBooks simulator: generating a company of ${options.customers} customers and ${options.transactions} transactions...`,
  );
  const simulator = await startSimulator({
    port: options.simulatorPort,
    customers: options.customers,
    transactions: options.transactions,
    seed: 2026,
    autoConsent: true,
    // As on Intuit's portal: the app accepts only the callback the dev stack serves.
    redirectUris: [redirectUriOf(config)],
    ...(config.webhooks.verifierToken !== undefined ? { verifierToken: config.webhooks.verifierToken } : {}),
  });
  let stack: DevStack | undefined;
  let receiver: RunningWebhookReceiver | undefined;
  try {
    // The demo talks to the simulator whatever QBO_* says: its consent page needs no person.
    const effective: Config = Object.freeze({
      ...config,
      tokenKey: config.tokenKey ?? devTokenKey(config.dataDir),
      qbo: Object.freeze({
        ...config.qbo,
        clientId: simulator.clientId,
        clientSecret: simulator.clientSecret,
        environment: 'sandbox' as const,
        apiBaseUrl: simulator.baseUrl,
        oauthBaseUrl: simulator.baseUrl,
      }),
    });
    stack = await startDevStack(effective, log);
    const db = stack.database.db;
    // Started early, so that a port in use stops the demo before its onboarding.
    if (options.webhooksPort !== undefined) {
      receiver = await startWebhookReceiver({
        db,
        temporal: stack.client,
        verifierToken: simulator.verifierToken,
        environment: 'sandbox',
        host: '127.0.0.1',
        port: options.webhooksPort,
        log,
      });
      // As on Intuit's webhooks page: the endpoint and the verifier token the deliveries are signed with.
      simulator.sim.webhooks.configure({ url: receiver.url, aggregationMs: 0 });
    }
    const workflowId = tenantWorkflowId(demoTenantId);
    await stack.client.workflow
      .getHandle(workflowId)
      .terminate('qbsync dev restarted the demo on a new simulated company')
      .catch((error: unknown) => {
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      });
    await asSync(db, (trx) => deleteTenant(trx, demoTenantId));
    const deps: OnboardingDeps = {
      ...qboAuthDepsFromConfig(effective, db, () => new Date())!,
      temporal: stack.client,
      taskQueue: effective.temporal.taskQueue,
    };
    const { realmId } = await runConnectFlow(deps, demoTenantId, { autoConsent: true, log, name: 'Démo QuickBooks' });
    await saveSettings(db, demoTenantId, {
      startDate: options.startDate,
      syncLanguage: 'fr',
      defaultCustomerLanguage: 'fr',
      mode: 'two_way',
    });
    await startTenantSync(deps, demoTenantId, { pollIntervalSeconds: options.pollIntervalSeconds });
    const running = stack;
    const runningReceiver = receiver;
    return {
      stack: running,
      simulator,
      config: effective,
      realmId,
      workflowId,
      webhooksUrl: runningReceiver?.url,
      async stop() {
        await runningReceiver?.close();
        await running.stop();
        await simulator.stop();
      },
    };
  } catch (error) {
    await receiver?.close();
    await stack?.stop();
    await simulator.stop();
    throw error;
  }
}

/**
 * What a second terminal needs to reach this dev stack (written to .data/dev.env): the names are
 * worker/config.ts's variables.
 */
export function devEnvironment(demo: DevDemo): Record<string, string> {
  const { config, stack } = demo;
  const variables: Record<string, string | undefined> = {
    DATABASE_URL: stack.database.target.url,
    TEMPORAL_ADDRESS: config.temporal.address,
    TEMPORAL_NAMESPACE: config.temporal.namespace,
    TEMPORAL_TASK_QUEUE: config.temporal.taskQueue,
    TEMPORAL_UI_PORT: String(config.temporal.uiPort),
    QBO_ENVIRONMENT: config.qbo.environment,
    QBO_CLIENT_ID: config.qbo.clientId,
    QBO_CLIENT_SECRET: config.qbo.clientSecret,
    QBO_API_BASE_URL: config.qbo.apiBaseUrl,
    QBO_OAUTH_BASE_URL: config.qbo.oauthBaseUrl,
    QBSYNC_TOKEN_KEY: config.tokenKey === undefined ? undefined : Buffer.from(config.tokenKey).toString('base64'),
  };
  return Object.fromEntries(
    Object.entries(variables).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/** A token key kept in the data folder, so that tokens stored by one dev run decrypt in the next. */
function devTokenKey(dataDir: string): Uint8Array {
  const file = path.resolve(dataDir, 'dev-token.key');
  if (existsSync(file)) return parseTokenKey(readFileSync(file, 'utf8').trim());
  mkdirSync(path.dirname(file), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600 });
  return key;
}

/**
 * What `qbsync dev` shows while it runs: the backfill's progress bars (redrawn in place on a
 * terminal), then one line per incremental pass, and how to make edits that the next pass picks up.
 */
export function monitorDemo(demo: DevDemo, log: (line: string) => void, tty: boolean): { stop(): Promise<void> } {
  let stopped = false;
  const handle = demo.stack.client.workflow.getHandle(demo.workflowId);
  const started = Date.now();
  const view = createProgressView({ baseline: { sinceMs: started, doneAtStart: 0 }, tty, stream: process.stdout, log });
  const loop = (async () => {
    let announced = false;
    let lastPass = '';
    while (!stopped) {
      const status = await handle.query(statusQuery).catch(() => undefined);
      if (status) {
        if (status.phase === 'backfill' || !announced) view.show(status, Date.now());
        if (status.phase === 'incremental' && !announced) {
          announced = true;
          view.stop();
          lastPass = status.lastPass?.finishedAt ?? '';
          const customer = firstCustomerId(demo);
          log('');
          log(
            'Backfill done. Incremental passes follow; make an edit in the simulated QuickBooks and watch it arrive:',
          );
          log(
            `  curl -X PATCH ${demo.simulator.baseUrl}/__sim/companies/${demo.realmId}/customers/${customer} -H 'Content-Type: application/json' -d '{"CompanyName":"Nouveau nom inc."}'`,
          );
          log(
            `  curl -X POST ${demo.simulator.baseUrl}/__sim/companies/${demo.realmId}/bulk-edit -H 'Content-Type: application/json' -d '{"count":500}'`,
          );
          log(
            '  (more in sandbox/README.md; `npx qbsync status demo` and `npx qbsync verify demo` in another terminal)',
          );
        } else if (announced && status.lastPass && status.lastPass.finishedAt !== lastPass) {
          lastPass = status.lastPass.finishedAt;
          log(
            `Incremental pass at ${lastPass.slice(11, 19)}: ${describePassRecords(status.lastPass)} in ${status.lastPass.durationMs} ms` +
              (status.openErrors ? `, ${status.openErrors} open errors` : '') +
              (status.paused ? ` (paused: ${status.pausedReason})` : ''),
          );
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      view.stop();
    },
  };
}

function firstCustomerId(demo: DevDemo): string {
  const state = demo.simulator.sim.adminState(demo.realmId) as {
    entities: { Customer?: Array<{ Id: string; Job?: boolean }> };
  };
  return state.entities.Customer?.find((customer) => !customer.Job)?.Id ?? '1';
}
