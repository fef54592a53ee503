import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test/database.js';
import { analyzeGrownTables, createStatisticsRefresher } from './table-statistics.js';

describe('planner statistics kept current during a backfill (R23)', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    await testDb.db.insertInto('tenants').values({ id: 'stats', name: 'Stats', start_date: '2024-01-01' }).execute();
  });
  afterAll(async () => testDb?.drop());

  const reltuples = async (table: string) =>
    Number(
      (await sql<{ n: number }>`SELECT reltuples AS n FROM pg_class WHERE relname = ${table}`.execute(testDb.db))
        .rows[0]!.n,
    );

  it('analyzes a table once it has grown past its last statistics, and leaves it alone until it grows again', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      tenant_id: 'stats',
      realm_id: 'r',
      entity_type: 'Customer',
      qbo_id: String(i),
      error_type: 'MappingError',
      message: 'test',
    }));
    await testDb.db.insertInto('sync_errors').values(rows).execute();
    expect(await reltuples('sync_errors')).toBeLessThan(0);

    // Sessions publish their table counters about once a second: wait for the insert to show.
    let analyzed: string[] = [];
    for (let attempt = 0; attempt < 50 && !analyzed.includes('sync_errors'); attempt += 1) {
      analyzed = await analyzeGrownTables(testDb.db);
      if (!analyzed.includes('sync_errors')) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(analyzed).toContain('sync_errors');
    expect(analyzed).not.toContain('opportunities');
    expect(await reltuples('sync_errors')).toBe(3000);
    expect(await analyzeGrownTables(testDb.db)).toEqual([]);
  });

  it('skips a table it cannot lock in time and says which, without failing', async () => {
    const skipped: string[] = [];
    // Another session holds a lock that ANALYZE waits for; inserts still go through.
    await testDb.db.transaction().execute(async (trx) => {
      await sql`LOCK TABLE sync_errors IN SHARE UPDATE EXCLUSIVE MODE`.execute(trx);
      await testDb.db
        .insertInto('sync_errors')
        .values(
          Array.from({ length: 5000 }, (_, i) => ({
            tenant_id: 'stats',
            realm_id: 'r',
            entity_type: 'Invoice',
            qbo_id: String(i),
            error_type: 'MappingError',
            message: 'test',
          })),
        )
        .execute();
      for (let attempt = 0; attempt < 50 && skipped.length === 0; attempt += 1) {
        const analyzed = await analyzeGrownTables(testDb.db, (table) => skipped.push(table));
        expect(analyzed).not.toContain('sync_errors');
        if (skipped.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });
    expect(skipped).toEqual(['sync_errors']);
    expect(await reltuples('sync_errors')).toBe(3000);
  });

  it('after writes, checks in the background at most once an interval, and never waits for a lock', async () => {
    let clock = 0;
    const skipped: string[] = [];
    const refresher = createStatisticsRefresher(testDb.db, (table) => skipped.push(table), {
      minIntervalMs: 5_000,
      now: () => clock,
    });
    await testDb.db.transaction().execute(async (trx) => {
      await sql`LOCK TABLE sync_errors IN SHARE UPDATE EXCLUSIVE MODE`.execute(trx);
      await testDb.db
        .insertInto('sync_errors')
        .values(
          Array.from({ length: 9000 }, (_, i) => ({
            tenant_id: 'stats',
            realm_id: 'r',
            entity_type: 'CreditMemo',
            qbo_id: String(i),
            error_type: 'MappingError',
            message: 'test',
          })),
        )
        .execute();
      // Wait until the table's counters show the insert, so that every check below finds it grown.
      for (let attempt = 0; attempt < 50; attempt += 1) {
        const probe: string[] = [];
        await analyzeGrownTables(testDb.db, (table) => probe.push(table));
        if (probe.includes('sync_errors')) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      refresher.afterWrite(0);
      await refresher.settled();
      expect(skipped).toEqual([]);
      const started = Date.now();
      refresher.afterWrite(10);
      expect(Date.now() - started).toBeLessThan(50);
      await refresher.settled();
      expect(skipped).toEqual(['sync_errors']);
      clock += 4_000;
      refresher.afterWrite(10);
      await refresher.settled();
      expect(skipped).toEqual(['sync_errors']);
      clock += 1_000;
      refresher.afterWrite(10);
      await refresher.settled();
      expect(skipped).toEqual(['sync_errors', 'sync_errors']);
    });
  });

  it('leaves a table to autovacuum once its statistics have seen 20,000 rows, however much it grows', async () => {
    const insertErrors = async (count: number, entity: string) => {
      for (let from = 0; from < count; from += 5000) {
        await testDb.db
          .insertInto('sync_errors')
          .values(
            Array.from({ length: Math.min(5000, count - from) }, (_, i) => ({
              tenant_id: 'stats',
              realm_id: 'r',
              entity_type: entity,
              qbo_id: String(from + i),
              error_type: 'MappingError',
              message: 'test',
            })),
          )
          .execute();
      }
    };
    const changedSinceAnalyze = async () =>
      Number(
        (
          await sql<{ n: number }>`
            SELECT n_mod_since_analyze AS n FROM pg_stat_user_tables WHERE relname = 'sync_errors'`.execute(testDb.db)
        ).rows[0]!.n,
      );

    await insertErrors(25_000, 'SalesReceipt');
    for (let attempt = 0; attempt < 50 && (await reltuples('sync_errors')) < 20_000; attempt += 1) {
      await analyzeGrownTables(testDb.db);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const seen = await reltuples('sync_errors');
    expect(seen).toBeGreaterThanOrEqual(25_000);

    // More than doubled since: a smaller table would be analyzed again (first test).
    await insertErrors(seen + 2000, 'Estimate');
    for (let attempt = 0; attempt < 50 && (await changedSinceAnalyze()) <= seen + 1000; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await changedSinceAnalyze()).toBeGreaterThan(seen + 1000);
    expect(await analyzeGrownTables(testDb.db)).not.toContain('sync_errors');
    expect(await reltuples('sync_errors')).toBe(seen);
  }, 60_000);
});
