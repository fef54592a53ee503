import type { Command } from 'commander';
import { UsageError } from '../cli-errors.js';

const reports = ['forecast', 'revenue', 'pipeline', 'buyers'] as const;
type ReportName = (typeof reports)[number];

interface ReportOptions {
  product?: string;
  olderThan?: string;
  period: string;
  asOf?: string;
}

/**
 * `qbsync report <tenant> forecast|revenue|pipeline|buyers`: the brief's uses as tables, one SQL
 * query each (db/reports.ts).
 */
export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description("print one of the brief's reports for a tenant: forecast, revenue, pipeline or buyers --product CODE")
    .argument('<tenant>', 'tenant id')
    .argument('<report>', reports.join(' | '))
    .option('--product <code>', 'buyers: the product code bought')
    .option(
      '--older-than <months>',
      'buyers: only those whose last purchase is at least this many months old (warranty end)',
    )
    .option('--period <period>', 'revenue: month, quarter or year', 'month')
    .option('--as-of <date>', 'buyers: the date --older-than counts back from (default today)')
    .action(async (tenant: string, report: string, options: ReportOptions) => {
      if (!(reports as readonly string[]).includes(report)) {
        throw new UsageError(`unknown report "${report}": choose one of ${reports.join(', ')}`);
      }
      const name = report as ReportName;
      if (name === 'buyers' && (options.product === undefined || options.product.trim() === '')) {
        throw new UsageError('the buyers report needs --product CODE');
      }
      if (name !== 'buyers' && (options.product !== undefined || options.olderThan !== undefined)) {
        throw new UsageError('--product and --older-than apply to the buyers report only');
      }
      let olderThanMonths: number | undefined;
      if (options.olderThan !== undefined) {
        olderThanMonths = Number(options.olderThan);
        if (!Number.isInteger(olderThanMonths) || olderThanMonths < 0) {
          throw new UsageError('--older-than must be a whole number of months');
        }
      }
      if (options.asOf !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(options.asOf)) {
        throw new UsageError('--as-of must be a date like 2026-04-30');
      }
      const { revenuePeriods } = await import('../../db/reports.js');
      if (!(revenuePeriods as readonly string[]).includes(options.period)) {
        throw new UsageError(`--period must be one of ${revenuePeriods.join(', ')}`);
      }

      const { loadConfig } = await import('../../worker/config.js');
      const { openDatabase } = await import('../connections.js');
      const reportsModule = await import('../../db/reports.js');
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const database = await openDatabase(loadConfig(process.env), log);
      try {
        const { findTenantById } = await import('../../db/repositories/tenants.js');
        const found = await findTenantById(database.db, tenant);
        if (found === undefined) throw new UsageError(`no tenant "${tenant}"`);
        let rows: readonly object[];
        if (name === 'forecast') rows = await reportsModule.forecastByMonth(database.db, tenant);
        else if (name === 'revenue') {
          rows = await reportsModule.revenueByPeriod(
            database.db,
            tenant,
            options.period as 'month' | 'quarter' | 'year',
          );
        } else if (name === 'pipeline') rows = await reportsModule.pipelineByStage(database.db, tenant);
        else {
          rows = await reportsModule.productBuyers(database.db, tenant, options.product ?? '', {
            ...(olderThanMonths === undefined ? {} : { olderThanMonths }),
            ...(options.asOf === undefined ? {} : { asOf: options.asOf }),
          });
        }
        process.stdout.write(formatTable(rows));
      } finally {
        await database.close();
      }
    });
}

/** A plain text table: a header, a rule, one line per row; numbers right-aligned. */
export function formatTable(objects: readonly object[]): string {
  const rows = objects as readonly Record<string, unknown>[];
  if (rows.length === 0) return '(no rows)\n';
  const columns = Object.keys(rows[0] ?? {});
  const cells = rows.map((row) =>
    columns.map((column) => (row[column] === null || row[column] === undefined ? '' : String(row[column]))),
  );
  const numeric = columns.map((_, i) => cells.every((line) => line[i] === '' || /^-?\d+(\.\d+)?$/.test(line[i] ?? '')));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => (line[i] ?? '').length)));
  const render = (values: readonly string[]) =>
    values
      .map((value, i) => (numeric[i] ? value.padStart(widths[i] ?? 0) : value.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [render(columns), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.map(render)].join('\n') + '\n';
}
