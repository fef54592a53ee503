import { requireQboApp, requireTokenKey, type Config } from '../../worker/config.js';
import { requireQboAuthDeps } from '../../worker/qbo-deps.js';
import { connectClient, openDatabase } from '../connections.js';
import type { OnboardingDeps } from './service.js';

export { redirectUriOf } from '../../worker/qbo-deps.js';

/**
 * New tenants' poll interval where the webhook receiver is configured: webhooks bring a change in
 * seconds, and an hourly pass catches what they miss, at about 48 Temporal actions a tenant a day
 * (issue 16's budget is 100) where polling every 15 minutes costs 192.
 */
export const pollIntervalWithWebhooksSeconds = 3_600;

/** Builds what the onboarding commands need from configuration: database, Temporal, OAuth app, key. */
export async function openOnboarding(
  config: Config,
  log: (line: string) => void,
  options: { temporal?: boolean } = {},
): Promise<{ deps: OnboardingDeps; close(): Promise<void> }> {
  // A missing QBO_* variable or key fails before anything is opened.
  requireQboApp(config);
  requireTokenKey(config);
  const database = await openDatabase(config, log);
  let temporal;
  try {
    temporal = options.temporal === false ? undefined : await connectClient(config);
  } catch (error) {
    await database.close();
    throw error;
  }
  const deps: OnboardingDeps = {
    ...requireQboAuthDeps(config, database.db, () => new Date()),
    // Commands that do not talk to Temporal never reach for it; a clear error if one does.
    temporal:
      temporal ??
      (new Proxy({} as NonNullable<typeof temporal>, {
        get() {
          throw new Error('this command was opened without a Temporal connection');
        },
      }) as NonNullable<typeof temporal>),
    taskQueue: config.temporal.taskQueue,
    ...(config.webhooks.verifierToken !== undefined ? { pollIntervalSeconds: pollIntervalWithWebhooksSeconds } : {}),
  };
  return {
    deps,
    async close() {
      await temporal?.connection.close();
      await database.close();
    },
  };
}
