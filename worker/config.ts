import { z } from 'zod';
import { parseTokenKey } from '../db/token-crypto.js';
import { OperatorError } from '../common/errors.js';

/**
 * Every environment variable qbsync reads, in one schema. Entry points (worker/, client/) call
 * loadConfig(process.env) once and pass the frozen result down; nothing else reads the environment.
 */
const nonEmpty = z.string().trim().min(1, 'must not be empty');

const postgresUrl = nonEmpty.refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
  } catch {
    return false;
  }
}, 'must be a URL like postgres://user@host:5432/database');

const hostPort = nonEmpty.regex(/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, 'must be host:port, for example 127.0.0.1:7233');

/** 32 bytes as 64 hex digits or base64; decoded here so a bad key fails at start-up, not at first use. */
const tokenKey = nonEmpty.transform((value, context) => {
  try {
    return parseTokenKey(value);
  } catch (error) {
    context.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    return z.NEVER;
  }
});

const httpUrl = nonEmpty.refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an http(s) URL');

/**
 * How `qbsync serve` knows a request comes from someone allowed in (issue 12, point 4): a header that
 * an authenticating reverse proxy sets (the CRM's login), or a shared secret sent as a bearer token.
 */
export type ServeAuth =
  { readonly kind: 'header'; readonly header: string } | { readonly kind: 'secret'; readonly secret: string };

const serveAuthProblem =
  'must be header:<HTTP header name> (set by the authenticating reverse proxy) or secret:<at least 16 characters> (sent as Authorization: Bearer <secret>)';

export function parseServeAuth(value: string): ServeAuth | undefined {
  const [kind, ...rest] = value.split(':');
  const argument = rest.join(':');
  if (kind === 'header' && /^[A-Za-z0-9-]{1,64}$/.test(argument)) return { kind, header: argument.toLowerCase() };
  if (kind === 'secret' && argument.length >= 16 && !/\s/.test(argument)) return { kind, secret: argument };
  return undefined;
}

const serveAuth = nonEmpty.transform((value, context) => {
  const parsed = parseServeAuth(value);
  if (parsed === undefined) {
    context.addIssue({ code: 'custom', message: serveAuthProblem });
    return z.NEVER;
  }
  return parsed;
});

const port = z.coerce.number().int('must be an integer').min(1, 'must be a port number').max(65535, 'must be a port');

export const configSchema = z.object({
  DATABASE_URL: postgresUrl.optional(),
  QBSYNC_POSTGRES_PORT: port.default(5432),
  QBSYNC_DATA_DIR: nonEmpty.default('.data'),
  TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: nonEmpty.default('default'),
  TEMPORAL_TASK_QUEUE: nonEmpty.default('qbsync'),
  TEMPORAL_UI_PORT: port.default(8233),
  TEMPORAL_CLI_PATH: nonEmpty.optional(),
  QBSYNC_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** AES-256-GCM key for tenants' OAuth tokens at rest; only token-handling commands need it. */
  QBSYNC_TOKEN_KEY: tokenKey.optional(),
  // QuickBooks Online OAuth app and endpoints (issue 6). Pointing at the simulator instead of Intuit
  // is these variables only: QBO_API_BASE_URL and QBO_OAUTH_BASE_URL set to the simulator's base URL.
  QBO_CLIENT_ID: nonEmpty.optional(),
  QBO_CLIENT_SECRET: nonEmpty.optional(),
  QBO_ENVIRONMENT: z.enum(['sandbox', 'production']).default('sandbox'),
  QBO_REDIRECT_URI: httpUrl.optional(),
  QBO_API_BASE_URL: httpUrl.optional(),
  QBO_OAUTH_BASE_URL: httpUrl.optional(),
  QBSYNC_SERVE_PORT: port.default(8080),
  QBSYNC_SERVE_AUTH: serveAuth.optional(),
  /** The app's webhook Verifier Token (developer portal, Webhooks): `intuit-signature` is checked with it. */
  QBO_WEBHOOK_VERIFIER_TOKEN: nonEmpty.optional(),
  QBSYNC_WEBHOOKS_PORT: port.default(8090),
  // Worker memory (issue 16): what a worker keeps of its workflows between their tasks. The README's
  // Performance section has the measured RSS and replay cost of each setting.
  QBSYNC_MAX_CACHED_WORKFLOWS: z.coerce.number().int('must be an integer').min(0, 'must be 0 or more').default(50),
  QBSYNC_REUSE_V8_CONTEXT: z.enum(['true', 'false'], 'must be true or false').default('true'),
  /** Unset: no metrics. Set: Prometheus text on http://0.0.0.0:PORT/metrics (the SDK's and the sync's). */
  QBSYNC_METRICS_PORT: port.optional(),
  /** Pages of up to 1,000 records a page activity reads (in 10 s at most) before it reports to its workflow. */
  QBSYNC_PAGES_PER_ACTIVITY: z.coerce
    .number()
    .int('must be an integer')
    .min(1, 'must be 1 or more')
    .max(100, 'must be 100 or less')
    .default(20),
});

export type ConfigVariable = keyof typeof configSchema.shape;
export const knownVariables: readonly ConfigVariable[] = Object.keys(configSchema.shape) as ConfigVariable[];

/** Our own prefixes: a variable with one of them that the schema does not know is a typo, and an error. */
const ownPrefixes = ['QBSYNC_', 'TEMPORAL_', 'QBO_'];

export interface Config {
  readonly databaseUrl: string | undefined;
  readonly localPostgresPort: number;
  readonly dataDir: string;
  readonly temporal: {
    readonly address: string;
    readonly namespace: string;
    readonly taskQueue: string;
    readonly uiPort: number;
    readonly cliPath: string | undefined;
  };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** QBSYNC_TOKEN_KEY decoded (32 bytes), or undefined when unset; see requireTokenKey. */
  readonly tokenKey: Uint8Array | undefined;
  /** The QuickBooks OAuth app and endpoints; see requireQboApp for the parts that must be set. */
  readonly qbo: {
    readonly clientId: string | undefined;
    readonly clientSecret: string | undefined;
    readonly environment: 'sandbox' | 'production';
    /** Unset: http://127.0.0.1:QBSYNC_SERVE_PORT/oauth/callback, the callback `qbsync serve` answers. */
    readonly redirectUri: string | undefined;
    /** Unset: Intuit's API for QBO_ENVIRONMENT. */
    readonly apiBaseUrl: string | undefined;
    /** Unset: Intuit's OAuth endpoints; set: {base}/connect/oauth2, {base}/oauth2/v1/tokens/bearer|revoke. */
    readonly oauthBaseUrl: string | undefined;
  };
  /** Port of `qbsync serve` (onboarding page and OAuth callback). */
  readonly servePort: number;
  /** How `qbsync serve` authenticates requests; required to listen beyond the loopback interface. */
  readonly serveAuth: ServeAuth | undefined;
  /** The webhook receiver (`qbsync webhooks`); see requireWebhookVerifierToken. */
  readonly webhooks: {
    readonly verifierToken: string | undefined;
    readonly port: number;
  };
  readonly worker: {
    /** Workflows kept in memory between their tasks (the sticky cache); an evicted one replays its history. */
    readonly maxCachedWorkflows: number;
    /** One V8 context shared by every cached workflow instead of one context each. */
    readonly reuseV8Context: boolean;
    /** Port of the worker's Prometheus endpoint, or undefined for none. */
    readonly metricsPort: number | undefined;
    /** Pages a page activity reads before it reports to its workflow. */
    readonly pagesPerActivity: number;
  };
}

/** The token key, for commands that read or write tenants' tokens. */
export function requireTokenKey(config: Config): Uint8Array {
  if (config.tokenKey === undefined) {
    throw new ConfigError(
      "QBSYNC_TOKEN_KEY is not set: it encrypts tenants' QuickBooks tokens (32 bytes, e.g. from openssl rand -base64 32)",
    );
  }
  return config.tokenKey;
}

/** The verifier token, for the webhook receiver: without it no delivery can be trusted. */
export function requireWebhookVerifierToken(config: Config): string {
  if (config.webhooks.verifierToken === undefined) {
    throw new ConfigError(
      "QBO_WEBHOOK_VERIFIER_TOKEN is not set: the QuickBooks app's webhook Verifier Token (developer.intuit.com, the app's Webhooks page), which signs every delivery",
    );
  }
  return config.webhooks.verifierToken;
}

/** The QuickBooks OAuth app, for commands that talk to QBO. */
export function requireQboApp(config: Config): { clientId: string; clientSecret: string } {
  const { clientId, clientSecret } = config.qbo;
  if (clientId === undefined || clientSecret === undefined) {
    const missing = [
      clientId === undefined ? 'QBO_CLIENT_ID' : '',
      clientSecret === undefined ? 'QBO_CLIENT_SECRET' : '',
    ]
      .filter(Boolean)
      .join(' and ');
    throw new ConfigError(
      `${missing} not set: the QuickBooks app's OAuth credentials (from developer.intuit.com, or printed by qbsync sandbox)`,
    );
  }
  return { clientId, clientSecret };
}

/** The variables a worker needs to reach QuickBooks that are not set (none: it can). */
export function missingQboVariables(config: Config): string[] {
  return [
    config.qbo.clientId === undefined ? 'QBO_CLIENT_ID' : '',
    config.qbo.clientSecret === undefined ? 'QBO_CLIENT_SECRET' : '',
    config.tokenKey === undefined ? 'QBSYNC_TOKEN_KEY' : '',
  ].filter(Boolean);
}

/**
 * A worker refuses to start without QuickBooks access: started anyway, it would pause every tenant
 * it touched as "needs reconnect" although nothing is wrong with their connections.
 */
export function requireWorkerQboAccess(config: Config): void {
  const missing = missingQboVariables(config);
  if (missing.length > 0) {
    throw new ConfigError(
      `a worker cannot reach QuickBooks without ${missing.join(', ')}: set ${missing.length > 1 ? 'them' : 'it'} (the QuickBooks app's OAuth credentials and the token key; see the README's configuration table)`,
    );
  }
}

export class ConfigError extends OperatorError {
  override readonly name = 'ConfigError';
}

/** Variables set by tools around us (the Temporal CLI's own, for example) that we must not reject. */
const foreignVariables = new Set(['TEMPORAL_CLI_AUTH', 'TEMPORAL_ENV', 'TEMPORAL_CONFIG_FILE', 'TEMPORAL_PROFILE']);

export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const relevant: Record<string, string> = {};
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if ((knownVariables as readonly string[]).includes(name)) {
      // An empty variable is treated as unset, as shells and compose files often leave them so.
      if (value !== '') relevant[name] = value;
    } else if (ownPrefixes.some((prefix) => name.startsWith(prefix)) && !foreignVariables.has(name)) {
      unknown.push(name);
    }
  }
  if (unknown.length > 0) {
    throw new ConfigError(
      `unknown configuration variable${unknown.length > 1 ? 's' : ''} ${unknown.sort().join(', ')} (known: ${knownVariables.join(', ')})`,
    );
  }
  const parsed = configSchema.safeParse(relevant);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? 'configuration');
      const shown = relevant[variable];
      return `${variable}${shown !== undefined ? `=${JSON.stringify(redact(variable, shown))}` : ''} ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const values = parsed.data;
  return Object.freeze({
    databaseUrl: values.DATABASE_URL,
    localPostgresPort: values.QBSYNC_POSTGRES_PORT,
    dataDir: values.QBSYNC_DATA_DIR,
    temporal: Object.freeze({
      address: values.TEMPORAL_ADDRESS,
      namespace: values.TEMPORAL_NAMESPACE,
      taskQueue: values.TEMPORAL_TASK_QUEUE,
      uiPort: values.TEMPORAL_UI_PORT,
      cliPath: values.TEMPORAL_CLI_PATH,
    }),
    logLevel: values.QBSYNC_LOG_LEVEL,
    tokenKey: values.QBSYNC_TOKEN_KEY,
    qbo: Object.freeze({
      clientId: values.QBO_CLIENT_ID,
      clientSecret: values.QBO_CLIENT_SECRET,
      environment: values.QBO_ENVIRONMENT,
      redirectUri: values.QBO_REDIRECT_URI,
      apiBaseUrl: values.QBO_API_BASE_URL,
      oauthBaseUrl: values.QBO_OAUTH_BASE_URL,
    }),
    servePort: values.QBSYNC_SERVE_PORT,
    serveAuth: values.QBSYNC_SERVE_AUTH,
    webhooks: Object.freeze({
      verifierToken: values.QBO_WEBHOOK_VERIFIER_TOKEN,
      port: values.QBSYNC_WEBHOOKS_PORT,
    }),
    worker: Object.freeze({
      maxCachedWorkflows: values.QBSYNC_MAX_CACHED_WORKFLOWS,
      reuseV8Context: values.QBSYNC_REUSE_V8_CONTEXT === 'true',
      metricsPort: values.QBSYNC_METRICS_PORT,
      pagesPerActivity: values.QBSYNC_PAGES_PER_ACTIVITY,
    }),
  });
}

function redact(variable: string, value: string): string {
  if (variable === 'QBSYNC_TOKEN_KEY' || variable === 'QBO_CLIENT_SECRET' || variable === 'QBO_WEBHOOK_VERIFIER_TOKEN')
    return `<${value.length} characters, hidden>`;
  if (variable === 'QBSYNC_SERVE_AUTH' && !value.startsWith('header:')) return `<${value.length} characters, hidden>`;
  if (variable !== 'DATABASE_URL') return value;
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return value;
  }
}
