import type { Command } from 'commander';
import { loadConfig } from '../../worker/config.js';
import { tenantArg } from './args.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

/** `qbsync connect <tenant>`: the OAuth code flow from a terminal (R1). */
export function registerConnectCommand(program: Command): void {
  program
    .command('connect')
    .description(
      'connect a tenant to its QuickBooks company: prints the authorize URL, waits for the callback, stores the tokens',
    )
    .argument('<tenant>', 'tenant id (lowercase letters, digits, - and _)', tenantArg)
    .option('--name <name>', 'display name of a tenant created by this command')
    .option('--auto-consent', 'simulator only: answer the consent page without a person')
    .action(async (tenantId: string, options: { name?: string; autoConsent?: boolean }) => {
      const config = loadConfig(process.env);
      const { openOnboarding } = await import('../onboarding/deps.js');
      const { runConnectFlow } = await import('../onboarding/connect-flow.js');
      const opened = await openOnboarding(config, log, { temporal: false });
      try {
        const { realmId } = await runConnectFlow(opened.deps, tenantId, {
          autoConsent: options.autoConsent ?? false,
          log,
          name: options.name,
        });
        log(`Tenant ${tenantId} is connected to QuickBooks company ${realmId}; its tokens are stored encrypted.`);
        // A workflow that paused itself for want of valid tokens can go on now.
        const { connectClient } = await import('../connections.js');
        const { resumeAfterReconnect } = await import('../onboarding/service.js');
        try {
          const temporal = await connectClient(config);
          try {
            if (await resumeAfterReconnect(temporal, tenantId))
              log('Resumed its sync workflow, which was waiting for a reconnect.');
          } finally {
            await temporal.connection.close();
          }
        } catch (error) {
          log(
            `(Could not check its sync workflow: ${error instanceof Error ? error.message.split('\n')[0] : String(error)})`,
          );
        }
      } finally {
        await opened.close();
      }
    });
}
