import type { Command } from 'commander';
import { UsageError } from '../cli-errors.js';
import { loadConfig } from '../../worker/config.js';
import { tenantArg } from './args.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

/**
 * `qbsync change-company <tenant> --confirm`: the one way to move a tenant to another QuickBooks
 * company (reconnecting never does it): tokens revoked, workflow cancelled, and everything synced
 * from the old company deleted, so that its records cannot mix with the new one's.
 */
export function registerChangeCompanyCommand(program: Command): void {
  program
    .command('change-company')
    .description(
      'prepare a tenant for another QuickBooks company: revoke its tokens, cancel its sync and delete everything synced from the old company (then run qbsync connect)',
    )
    .argument('<tenant>', 'tenant id', tenantArg)
    .option('--confirm', 'required: the old company’s synced accounts, contacts and opportunities are deleted')
    .option('--force', 'go on even if Intuit cannot be reached to revoke the old tokens')
    .action(async (tenantId: string, options: { confirm?: boolean; force?: boolean }) => {
      if (!options.confirm) {
        throw new UsageError(
          `change-company deletes everything synced into tenant ${tenantId} from its current QuickBooks company; run it again with --confirm`,
        );
      }
      const config = loadConfig(process.env);
      const { openOnboarding } = await import('../onboarding/deps.js');
      const { changeCompany } = await import('../onboarding/service.js');
      const opened = await openOnboarding(config, () => undefined);
      try {
        const { stopped, removed } = await changeCompany(opened.deps, tenantId, { force: options.force ?? false });
        log(
          stopped.hadConnection
            ? `Tenant ${tenantId}: tokens ${stopped.revoked ? 'revoked at Intuit' : 'not confirmed revoked (--force)'} and deleted.`
            : `Tenant ${tenantId} had no QuickBooks connection.`,
        );
        if (stopped.cancelled) log('Cancelled its sync workflow.');
        log(
          `Deleted what the old company synced: ${removed.accounts} accounts (with their contacts), ${removed.opportunities} opportunities, ${removed.products} products, ${removed.revenueCategories} revenue categories; ${removed.links} links, ${removed.cursors} cursors, ${removed.errors} errors, ${removed.passes} passes.`,
        );
        log(`Connect it to its new company with: qbsync connect ${tenantId}`);
      } finally {
        await opened.close();
      }
    });
}
