import { Option, type Command } from 'commander';
import { loadConfig } from '../../worker/config.js';
import { languageArg, modeArg, startDateArg, tenantArg } from './args.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

interface OnboardOptions {
  startDate: string;
  language: 'fr' | 'en';
  defaultLanguage: 'fr' | 'en';
  mode: 'two_way' | 'one_way';
  autoConsent?: boolean;
  name?: string;
  preview: boolean;
}

/** `qbsync onboard`: the brief's ten steps from a terminal (R1–R6): connect, settings, start. */
export function registerOnboardCommand(program: Command): void {
  program
    .command('onboard')
    .description('connect a tenant if needed, store its settings and start its sync workflow (idempotent)')
    .argument('<tenant>', 'tenant id', tenantArg)
    .requiredOption(
      '--start-date <YYYY-MM-DD>',
      'sync customers and opportunities from this date (not in the future)',
      startDateArg,
    )
    .requiredOption('--language <fr|en>', 'language the sync writes in (stage names, labels)', languageArg)
    .requiredOption('--default-language <fr|en>', 'language given to new customers the sync creates', languageArg)
    .addOption(
      new Option('--mode <one-way|two-way>', 'customer data direction')
        .argParser(modeArg)
        .default('two_way', 'two-way'),
    )
    .option('--auto-consent', 'simulator only: run the whole OAuth flow without a person')
    .option('--name <name>', 'display name of a tenant created by this command')
    .option('--no-preview', 'do not print the preview before starting')
    .action(async (tenantId: string, options: OnboardOptions) => {
      const config = loadConfig(process.env);
      const { openOnboarding } = await import('../onboarding/deps.js');
      const { runConnectFlow } = await import('../onboarding/connect-flow.js');
      const { readConnection } = await import('../../activities/qbo/qbo-auth.js');
      const service = await import('../onboarding/service.js');
      const { describePreview } = await import('./preview.js');
      const opened = await openOnboarding(config, log);
      const { deps } = opened;
      try {
        const connection = await readConnection(deps.db, tenantId);
        if (!connection || connection.needsReauth) {
          const { realmId } = await runConnectFlow(deps, tenantId, {
            autoConsent: options.autoConsent ?? false,
            log,
            name: options.name,
          });
          log(`Connected tenant ${tenantId} to QuickBooks company ${realmId}.`);
          if (await service.resumeAfterReconnect(deps.temporal, tenantId)) {
            log('Resumed its sync workflow, which was waiting for a reconnect.');
          }
        } else {
          log(`Tenant ${tenantId} is already connected to QuickBooks company ${connection.realmId}.`);
        }
        await service.saveSettings(deps.db, tenantId, {
          startDate: options.startDate,
          syncLanguage: options.language,
          defaultCustomerLanguage: options.defaultLanguage,
          mode: options.mode,
        });
        log(
          `Settings: start date ${options.startDate}, sync language ${options.language}, new customers ${options.defaultLanguage}, mode ${options.mode}.`,
        );
        if (options.preview) {
          for (const line of describePreview(await service.previewTenant(deps, tenantId, options.startDate))) log(line);
        }
        const started = await service.startTenantSync(deps, tenantId);
        log(
          started.alreadyRunning
            ? `Workflow ${started.workflowId} was already running; no second one was started.`
            : `Started workflow ${started.workflowId} (run ${started.runId}).`,
        );
      } finally {
        await opened.close();
      }
    });
}
