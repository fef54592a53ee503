import type { Command } from 'commander';
import { loadConfig } from '../../worker/config.js';
import type { Preview } from '../onboarding/service.js';
import { startDateArg, tenantArg } from './args.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

/** `qbsync preview <tenant> --start-date D`: what the first sync would bring (R6). */
export function registerPreviewCommand(program: Command): void {
  program
    .command('preview')
    .description(
      'show what the first sync would bring: counts per entity since the start date, likely duplicate customers',
    )
    .argument('<tenant>', 'tenant id', tenantArg)
    .requiredOption('--start-date <YYYY-MM-DD>', 'start date (not in the future)', startDateArg)
    .option('--json', 'print the preview as JSON')
    .action(async (tenantId: string, options: { startDate: string; json?: boolean }) => {
      const config = loadConfig(process.env);
      const { openOnboarding } = await import('../onboarding/deps.js');
      const { previewTenant, requireConnection } = await import('../onboarding/service.js');
      const opened = await openOnboarding(config, () => undefined, { temporal: false });
      try {
        await requireConnection(opened.deps.db, tenantId);
        const preview = await previewTenant(opened.deps, tenantId, options.startDate);
        if (options.json) log(JSON.stringify(preview));
        else for (const line of describePreview(preview)) log(line);
      } finally {
        await opened.close();
      }
    });
}

export function describePreview(preview: Preview): string[] {
  const lines = [`Since ${preview.startDate}, the first sync would bring:`];
  for (const [entity, count] of Object.entries(preview.counts))
    lines.push(`  ${entity.padEnd(13)} ${String(count).padStart(7)}`);
  if (preview.duplicates.length === 0) lines.push('No likely duplicate customers.');
  else {
    lines.push(
      `${preview.duplicates.length} groups of likely duplicate customers (clean them up in QuickBooks first):`,
    );
    for (const group of preview.duplicates) {
      lines.push(
        `  same ${group.reason} "${group.key}": ${group.customers.map((c) => `${c.displayName} (#${c.id})`).join(', ')}`,
      );
    }
  }
  if (preview.duplicateScanTruncated) lines.push('(only part of the customers were scanned for duplicates)');
  return lines;
}
