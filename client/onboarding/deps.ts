import { requireQboApp, requireTokenKey, type Config } from '../../worker/config.js';
import { requireQboAuthDeps } from '../../worker/qbo-deps.js';
import { connectClient, openDatabase } from '../connections.js';
import type { OnboardingDeps } from './service.js';

export { redirectUriOf } from '../../worker/qbo-deps.js';

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
  };
  return {
    deps,
    async close() {
      await temporal?.connection.close();
      await database.close();
    },
  };
}
