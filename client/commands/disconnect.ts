import type { Command } from 'commander';
import { loadConfig } from '../../worker/config.js';
import { tenantArg } from './args.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

/** `qbsync disconnect <tenant>`: revokes the tokens and stops the tenant's workflow cleanly. */
export function registerDisconnectCommand(program: Command): void {
  program
    .command('disconnect')
    .description("revoke a tenant's QuickBooks tokens, delete them, and cancel its sync workflow")
    .argument('<tenant>', 'tenant id', tenantArg)
    .option('--force', 'delete the stored tokens even if Intuit cannot be reached to revoke them')
    .action(async (tenantId: string, options: { force?: boolean }) => {
      const config = loadConfig(process.env);
      const { openOnboarding } = await import('../onboarding/deps.js');
      const { disconnectAndStop } = await import('../onboarding/service.js');
      const opened = await openOnboarding(config, () => undefined);
      try {
        const result = await disconnectAndStop(opened.deps, tenantId, { force: options.force ?? false });
        log(
          result.hadConnection
            ? `Tenant ${tenantId}: tokens ${result.revoked ? 'revoked at Intuit' : 'not confirmed revoked (--force)'} and deleted.`
            : `Tenant ${tenantId} had no QuickBooks connection.`,
        );
        log(result.cancelled ? `Cancelled its sync workflow.` : 'No sync workflow was running.');
      } finally {
        await opened.close();
      }
    });
}
