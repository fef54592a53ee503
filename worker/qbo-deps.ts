import type { Kysely } from 'kysely';
import { apiBaseUrlFor, oauthSettings, type QboAuthDeps } from '../activities/qbo/qbo-auth.js';
import { createRealmLimiter } from '../activities/qbo/realm-limiter.js';
import type { Database } from '../db/schema.js';
import { requireQboApp, requireTokenKey, type Config } from './config.js';

/**
 * QBO access from configuration, in one place for the worker, `qbsync dev`, the onboarding
 * commands and `verify`: the OAuth app, the token key, the API base URL and the shared per-realm
 * limiter. Kept apart from worker/main.ts so that commands do not load the Temporal worker.
 */

/** The redirect URI: QBO_REDIRECT_URI, or the callback `qbsync serve` answers on this machine. */
export function redirectUriOf(config: Config): string {
  return config.qbo.redirectUri ?? `http://127.0.0.1:${config.servePort}/oauth/callback`;
}

/** Undefined when the OAuth app or the token key is missing. */
export function qboAuthDepsFromConfig(config: Config, db: Kysely<Database>, now: () => Date): QboAuthDeps | undefined {
  const { clientId, clientSecret, environment } = config.qbo;
  const tokenKey = config.tokenKey;
  if (clientId === undefined || clientSecret === undefined || tokenKey === undefined) return undefined;
  return {
    db,
    oauth: oauthSettings({
      clientId,
      clientSecret,
      environment,
      redirectUri: redirectUriOf(config),
      oauthBaseUrl: config.qbo.oauthBaseUrl,
    }),
    tokenKey,
    apiBaseUrl: apiBaseUrlFor(environment, config.qbo.apiBaseUrl),
    limiter: createRealmLimiter(db as Kysely<unknown>),
    now,
  };
}

/** As qboAuthDepsFromConfig, but a missing variable is a ConfigError naming it (for commands). */
export function requireQboAuthDeps(config: Config, db: Kysely<Database>, now: () => Date): QboAuthDeps {
  requireQboApp(config);
  requireTokenKey(config);
  return qboAuthDepsFromConfig(config, db, now)!;
}
