import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** The tables a sync pass fills; a first backfill can grow them from nothing to millions of rows. */
export const syncedTables = [
  'accounts',
  'contacts',
  'list_members',
  'revenue_categories',
  'products',
  'opportunities',
  'opportunity_lines',
  'qbo_links',
  'sync_errors',
] as const;

/**
 * When a synced table is analyzed again: once it has grown by the factor that applies to it, plus
 * `minChangedRows` (rows changed since its last ANALYZE against the size that ANALYZE saw):
 * doubled while its last statistics saw fewer than `largeTableRows`, ten-fold after. The plans
 * that go wrong are made while a table is nearly empty; once the statistics have seen a table of
 * some size, the planner scales their row counts by the table's pages as it grows, and its lookups
 * stay index probes. Each
 * ANALYZE of a grown table samples 30,000 rows across all its pages: those a 100k backfill ran on
 * its largest tables after they passed 20,000 rows took 0.3–0.8 s of PostgreSQL's time. Ten-fold
 * still refreshes the statistics a large table's distribution is planned by (its tenants, say)
 * where autovacuum is off.
 */
export interface AnalyzeThresholds {
  readonly minChangedRows: number;
  readonly largeTableRows: number;
  /** Growth factors: 2 is a table that doubled. */
  readonly smallTableGrowth: number;
  readonly largeTableGrowth: number;
}

const defaultAnalyzeThresholds: AnalyzeThresholds = {
  minChangedRows: 1000,
  largeTableRows: 20_000,
  smallTableGrowth: 2,
  largeTableGrowth: 10,
};

/**
 * Refreshes the planner statistics of the synced tables that have grown enough since they were
 * last analyzed (AnalyzeThresholds), and says which it analyzed.
 *
 * Why the sync does what autovacuum normally does: each connection caches the plans of its
 * foreign-key checks. A plan made while a table was empty scans the whole table, and it stays
 * cached until the table's statistics change. During a first backfill that turns every insert
 * into a scan of everything written so far: 100,000 records took tens of minutes instead of about
 * a minute. Autovacuum fixes it only after its next nap (a minute by default), and not at all on
 * a server where it is off. An ANALYZE invalidates those cached plans in every session.
 *
 * Best effort: a lock held by a concurrent ANALYZE or VACUUM (another worker's, autovacuum), or
 * missing privileges, only skip it; it never waits for such a lock.
 */
export async function analyzeGrownTables(
  db: Kysely<Database>,
  onSkip: (table: string, error: unknown) => void = () => undefined,
  thresholds: AnalyzeThresholds = defaultAnalyzeThresholds,
): Promise<string[]> {
  const { minChangedRows, largeTableRows, smallTableGrowth, largeTableGrowth } = thresholds;
  const { rows } = await sql<{ relname: string }>`
    SELECT s.relname
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
    WHERE s.schemaname = current_schema()
      AND s.relname = ANY(${[...syncedTables]}::text[])
      AND s.n_mod_since_analyze > ${minChangedRows} + greatest(c.reltuples, 0) *
        (CASE WHEN c.reltuples < ${largeTableRows} THEN ${smallTableGrowth}::float8
              ELSE ${largeTableGrowth}::float8 END - 1)`.execute(db);
  const analyzed: string[] = [];
  for (const { relname } of rows) {
    try {
      await db.transaction().execute(async (trx) => {
        await sql`LOCK TABLE ${sql.table(relname)} IN SHARE UPDATE EXCLUSIVE MODE NOWAIT`.execute(trx);
        await sql`ANALYZE ${sql.table(relname)}`.execute(trx);
      });
      analyzed.push(relname);
    } catch (error) {
      onSkip(relname, error);
    }
  }
  return analyzed;
}

/**
 * Runs analyzeGrownTables after the sync's writes without holding them up: in the background, one
 * check at a time per process and at most one every `minIntervalMs`. A check reads the statistics
 * of every synced table: after every page it cost a backfill about 4 % of its time.
 */
export function createStatisticsRefresher(
  db: Kysely<Database>,
  onSkip: (table: string, error: unknown) => void,
  { minIntervalMs = 5_000, now = Date.now }: { minIntervalMs?: number; now?: () => number } = {},
) {
  let running: Promise<void> | undefined;
  let lastCheck = Number.NEGATIVE_INFINITY;
  // Nothing it reports may escape: it runs after the activity that started it has returned.
  const report = (table: string, error: unknown) => {
    try {
      onSkip(table, error);
    } catch {
      // A logger gone with its activity: the next check reports again.
    }
  };
  return {
    /** Called after a commit that wrote `written` records. */
    afterWrite(written: number): void {
      if (written === 0 || running || now() - lastCheck < minIntervalMs) return;
      lastCheck = now();
      running = analyzeGrownTables(db, report)
        .then(() => undefined)
        .catch((error: unknown) => report('(all)', error))
        .finally(() => (running = undefined));
    },
    /** The check under way, if any (for tests and shutdown). */
    settled(): Promise<void> {
      return running ?? Promise.resolve();
    },
  };
}
