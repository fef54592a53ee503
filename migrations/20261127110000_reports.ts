import { sql, type Kysely } from 'kysely';

/**
 * The brief's uses, one SQL function each (db/reports.ts calls them):
 * forecast by month, revenue by period against the one before, buyers of a product code (or whose
 * purchase is older than N months: warranty end), and the pipeline by stage.
 *
 * Open opportunities are the Qualified and Advanced ones; revenue is the Won ones' total before tax
 * (credit notes are Won with negative amounts, so they net out).
 *
 * Frozen in time: plain SQL and Kysely<any>, no application imports.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of upStatements) await sql.raw(statement).execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql
    .raw(
      `DROP FUNCTION IF EXISTS report_forecast_by_month(text), report_revenue_by_period(text, text),
         report_product_buyers(text, text, integer, date), report_pipeline(text)`,
    )
    .execute(db);
}

const upStatements = [
  `CREATE FUNCTION report_forecast_by_month(p_tenant_id text)
   RETURNS TABLE (month date, open_opportunities bigint, open_amount numeric, weighted_amount numeric)
   LANGUAGE sql STABLE AS $$
     SELECT date_trunc('month', coalesce(o.expected_close_date, o.txn_date))::date,
            count(*),
            sum(o.total_before_tax),
            round(sum(o.total_before_tax * o.probability / 100), 2)
     FROM opportunities o
     WHERE o.tenant_id = p_tenant_id AND o.stage IN ('qualified', 'advanced')
     GROUP BY 1
     ORDER BY 1
   $$`,
  `CREATE FUNCTION report_revenue_by_period(p_tenant_id text, p_period text DEFAULT 'month')
   RETURNS TABLE (period_start date, revenue numeric, previous_revenue numeric, change numeric, change_percent numeric)
   LANGUAGE sql STABLE AS $$
     WITH step AS (
       SELECT CASE p_period WHEN 'month' THEN interval '1 month' WHEN 'quarter' THEN interval '3 months'
                            WHEN 'year' THEN interval '1 year' END AS size
     ), won AS (
       SELECT date_trunc(p_period, o.txn_date)::date AS period, sum(o.total_before_tax) AS revenue
       FROM opportunities o
       WHERE o.tenant_id = p_tenant_id AND o.stage = 'won'
       GROUP BY 1
     ), periods AS (
       SELECT generate_series(min(period), max(period), (SELECT size FROM step))::date AS period FROM won
     ), filled AS (
       SELECT p.period, coalesce(w.revenue, 0) AS revenue,
              lag(coalesce(w.revenue, 0)) OVER (ORDER BY p.period) AS previous
       FROM periods p LEFT JOIN won w ON w.period = p.period
     )
     SELECT period, revenue, previous, revenue - previous,
            CASE WHEN previous IS NULL OR previous = 0 THEN NULL
                 ELSE round((revenue - previous) / abs(previous) * 100, 1) END
     FROM filled
     WHERE (SELECT size FROM step) IS NOT NULL
     ORDER BY period
   $$`,
  `CREATE FUNCTION report_product_buyers(p_tenant_id text, p_product_code text,
                                         p_older_than_months integer DEFAULT NULL, p_as_of date DEFAULT current_date)
   RETURNS TABLE (account_id bigint, company_name text, contact_name text, email text, language text,
                  first_purchase date, last_purchase date, quantity numeric, amount numeric)
   LANGUAGE sql STABLE AS $$
     SELECT a.id, a.company_name, c.full_name, c.email, a.language,
            min(o.txn_date) FILTER (WHERE l.amount > 0),
            max(o.txn_date) FILTER (WHERE l.amount > 0),
            sum(l.quantity), sum(l.amount)
     FROM opportunity_lines l
     JOIN opportunities o ON o.id = l.opportunity_id AND o.tenant_id = l.tenant_id
     JOIN accounts a ON a.id = o.account_id AND a.tenant_id = o.tenant_id
     LEFT JOIN contacts c ON c.account_id = a.id AND c.is_primary
     WHERE l.tenant_id = p_tenant_id AND o.stage = 'won' AND lower(l.product_code) = lower(p_product_code)
     GROUP BY a.id, a.company_name, c.full_name, c.email, a.language
     HAVING sum(l.amount) > 0
        AND (p_older_than_months IS NULL
             OR max(o.txn_date) FILTER (WHERE l.amount > 0) <= (p_as_of - make_interval(months => p_older_than_months))::date)
     ORDER BY 7, 1
   $$`,
  `CREATE FUNCTION report_pipeline(p_tenant_id text)
   RETURNS TABLE (stage text, stage_label text, opportunities bigint, amount numeric, weighted_amount numeric)
   LANGUAGE sql STABLE AS $$
     WITH stages (stage, position, label_fr, label_en) AS (
       VALUES ('qualified', 1, 'Qualifiée', 'Qualified'), ('advanced', 2, 'Avancée', 'Advanced'),
              ('won', 3, 'Gagnée', 'Won'), ('lost', 4, 'Perdue', 'Lost')
     )
     SELECT s.stage,
            CASE (SELECT sync_language FROM tenants WHERE id = p_tenant_id) WHEN 'en' THEN s.label_en ELSE s.label_fr END,
            count(o.id),
            coalesce(sum(o.total_before_tax), 0),
            coalesce(round(sum(o.total_before_tax * o.probability / 100), 2), 0)
     FROM stages s
     LEFT JOIN opportunities o ON o.stage = s.stage AND o.tenant_id = p_tenant_id
     GROUP BY s.stage, s.position, s.label_fr, s.label_en
     ORDER BY s.position
   $$`,
];
