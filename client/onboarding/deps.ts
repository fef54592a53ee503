import type { Kysely } from 'kysely';
import { apiBaseUrlFor, oauthSettings } from '../../activities/qbo/qbo-auth.js';
import { createRealmLimiter } from '../../activities/qbo/realm-limiter.js';
import { requireQboApp, requireTokenKey, type Config } from '../../worker/config.js';
import { connectClient, openDatabase } from '../stack.js';
import type { OnboardingDeps } from './service.js';

/** The redirect URI: QBO_REDIRECT_URI, or the callback `qbsync serve` answers on this machine. */
export function redirectUriOf(config: Config): string {
  return config.qbo.redirectUri ?? `http://127.0.0.1:${config.servePort}/oauth/callback`;
}

/** Builds what the onboarding commands need from configuration: database, Temporal, OAuth app, key. */
export async function openOnboarding(
  config: Config,
  log: (line: string) => void,
  options: { temporal?: boolean } = {},
): Promise<{ deps: OnboardingDeps; close(): Promise<void> }> {
  const app = requireQboApp(config);
  const tokenKey = requireTokenKey(config);
  const database = await openDatabase(config, log);
  let temporal;
  try {
    temporal = options.temporal === false ? undefined : await connectClient(config);
  } catch (error) {
    await database.close();
    throw error;
  }
  const deps: OnboardingDeps = {
    db: database.db,
    oauth: oauthSettings({
      ...app,
      environment: config.qbo.environment,
      redirectUri: redirectUriOf(config),
      oauthBaseUrl: config.qbo.oauthBaseUrl,
    }),
    tokenKey,
    apiBaseUrl: apiBaseUrlFor(config.qbo.environment, config.qbo.apiBaseUrl),
    limiter: createRealmLimiter(database.db as Kysely<unknown>),
    now: () => new Date(),
    // Commands that do not talk to Temporal never reach for it; a clear error if one does.
    temporal:
      temporal ??
      (new Proxy({} as NonNullable<typeof temporal>, {
        get() {
          throw new Error('this command was opened without a Temporal connection');
        },
      }) as NonNullable<typeof temporal>),
    taskQueue: config.temporal.taskQueue,
  };
  return {
    deps,
    async close() {
      await temporal?.connection.close();
      await database.close();
    },
  };
}
