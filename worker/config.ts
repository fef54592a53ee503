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
  });
}

function redact(variable: string, value: string): string {
  if (variable === 'QBSYNC_TOKEN_KEY') return `<${value.length} characters, hidden>`;
  if (variable !== 'DATABASE_URL') return value;
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return value;
  }
}
