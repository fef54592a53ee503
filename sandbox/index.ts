/**
 * The QuickBooks Online simulator's entry point: `startSimulator(options)` builds the companies,
 * starts the HTTP server and returns what a client needs (base URL, OAuth client, realm ids) plus
 * the in-process `sim` for scripting. See sandbox/README.md.
 */
import { readRecordedDirectory } from './loader.js';
import { listen } from './server.js';
import { Simulator, type SimulatorOptions } from './simulator.js';

export {
  AdminError,
  Simulator,
  type CdcOptions,
  type FaultRates,
  type ForcedFault,
  type SimulatorOptions,
} from './simulator.js';
export { LoadError, readRecordedDirectory } from './loader.js';
export { QboFault } from './faults.js';
export {
  signWebhook,
  legacyPayload,
  cloudEventsPayload,
  INTUIT_RETRY_DELAYS_MS,
  type Delivery,
  type WebhookFormat,
} from './webhooks.js';
export { Prng } from './prng.js';
export type { ChangeEvent, EntityName, Json } from './store.js';

export interface StartOptions extends SimulatorOptions {
  /** A directory of recorded QBO responses (*.json) to load as the first company. */
  readonly loadDir?: string;
}

export interface RunningSimulator {
  /** Base URL for everything: API (`/v3/company/…`), OAuth (`/connect/oauth2`, `/oauth2/v1/tokens/…`), admin (`/__sim/…`). */
  readonly baseUrl: string;
  readonly port: number;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly verifierToken: string;
  readonly realmIds: readonly string[];
  /** OAuth endpoints to hand to intuit-oauth (OAuthClient.setAuthorizeURLs or its static fields). */
  readonly oauthUrls: {
    readonly authorizeEndpoint: string;
    readonly tokenEndpoint: string;
    readonly revokeEndpoint: string;
  };
  /** The in-process simulator: companies, admin operations, faults, rate limits, webhooks. */
  readonly sim: Simulator;
  /** Resolves when the background warm-up of customer and item JSON is done (or was off, or stopped). */
  readonly warmed: Promise<void>;
  /** The same JSON line `qbsync sandbox --json` prints. */
  summary(): { baseUrl: string; clientId: string; clientSecret: string; realmIds: string[] };
  stop(): Promise<void>;
}

/** Builds the companies and starts serving. Port 0 picks a free port. */
export async function startSimulator(options: StartOptions = {}): Promise<RunningSimulator> {
  const loaded = options.loadDir ? await readRecordedDirectory(options.loadDir) : options.loaded;
  const sim = new Simulator({ ...options, ...(loaded ? { loaded } : {}) });
  let listening;
  try {
    listening = await listen(sim, options.port ?? 8911, options.host ?? '127.0.0.1');
  } catch (err) {
    sim.stop();
    throw err;
  }
  const { baseUrl } = listening;
  const warmed = options.warmCache === false ? Promise.resolve() : sim.warmCache();
  const close = listening.close;
  let stopped = false;
  return {
    baseUrl,
    port: Number(new URL(baseUrl).port),
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    verifierToken: sim.verifierToken,
    realmIds: sim.realmIds,
    oauthUrls: {
      authorizeEndpoint: `${baseUrl}/connect/oauth2`,
      tokenEndpoint: `${baseUrl}/oauth2/v1/tokens/bearer`,
      revokeEndpoint: `${baseUrl}/oauth2/v1/tokens/revoke`,
    },
    sim,
    warmed,
    summary: () => ({ baseUrl, clientId: sim.clientId, clientSecret: sim.clientSecret, realmIds: sim.realmIds }),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      sim.stop();
      await close();
    },
  };
}
