import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * The brief's uses, one query each over the SQL functions of migrations/20261127110000_reports.ts.
 * NUMERIC figures come back as strings (exact), dates as YYYY-MM-DD strings.
 */
export interface ForecastRow {
  month: string;
  open_opportunities: number;
  open_amount: string;
  weighted_amount: string;
}

export interface RevenueRow {
  period_start: string;
  revenue: string;
  previous_revenue: string | null;
  change: string | null;
  change_percent: string | null;
}

export interface BuyerRow {
  account_id: number;
  company_name: string;
  contact_name: string | null;
  email: string | null;
  language: string;
  first_purchase: string;
  last_purchase: string;
  quantity: string | null;
  amount: string;
}

export interface PipelineRow {
  stage: string;
  stage_label: string;
  opportunities: number;
  amount: string;
  weighted_amount: string;
}

export const revenuePeriods = ['month', 'quarter', 'year'] as const;
export type RevenuePeriod = (typeof revenuePeriods)[number];

/** Open (Qualified, Advanced) opportunities by month: amount and amount × probability. */
export async function forecastByMonth(db: Kysely<Database>, tenantId: string): Promise<ForecastRow[]> {
  const result = await sql<ForecastRow>`
    SELECT to_char(month, 'YYYY-MM-DD') AS month, open_opportunities, open_amount, weighted_amount
    FROM report_forecast_by_month(${tenantId})`.execute(db);
  return result.rows;
}

/** Won revenue (total before tax) per period, with the period before it; gaps count as zero. */
export async function revenueByPeriod(
  db: Kysely<Database>,
  tenantId: string,
  period: RevenuePeriod,
): Promise<RevenueRow[]> {
  const result = await sql<RevenueRow>`
    SELECT to_char(period_start, 'YYYY-MM-DD') AS period_start, revenue, previous_revenue, change, change_percent
    FROM report_revenue_by_period(${tenantId}, ${period})`.execute(db);
  return result.rows;
}

/**
 * Accounts that bought a product code (won documents, net of credit notes); with olderThanMonths,
 * only those whose last purchase is at least that old on asOf (warranty end).
 */
export async function productBuyers(
  db: Kysely<Database>,
  tenantId: string,
  productCode: string,
  options: { olderThanMonths?: number; asOf?: string } = {},
): Promise<BuyerRow[]> {
  const result = await sql<BuyerRow>`
    SELECT account_id, company_name, contact_name, email, language,
           to_char(first_purchase, 'YYYY-MM-DD') AS first_purchase, to_char(last_purchase, 'YYYY-MM-DD') AS last_purchase,
           quantity, amount
    FROM report_product_buyers(${tenantId}, ${productCode}, ${options.olderThanMonths ?? null}::integer,
                               coalesce(${options.asOf ?? null}::date, current_date))`.execute(db);
  return result.rows;
}

/** Every stage, in pipeline order, with count, amount and weighted amount. */
export async function pipelineByStage(db: Kysely<Database>, tenantId: string): Promise<PipelineRow[]> {
  const result = await sql<PipelineRow>`
    SELECT stage, stage_label, opportunities, amount, weighted_amount FROM report_pipeline(${tenantId})`.execute(db);
  return result.rows;
}
