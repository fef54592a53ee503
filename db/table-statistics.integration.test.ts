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

  it('analyzes a table that doubled while its statistics saw a small table, and only ten-fold growth past that', async () => {
    const thresholds = { minChangedRows: 100, largeTableRows: 2000, smallTableGrowth: 2, largeTableGrowth: 10 };
    let inserted = 0;
    const insertProducts = async (count: number) => {
      for (let done = 0; done < count; done += 5000) {
        const rows = Array.from({ length: Math.min(5000, count - done) }, () => ({
          tenant_id: 'stats',
          code: `P${(inserted += 1)}`,
        }));
        await testDb.db.insertInto('products').values(rows).execute();
      }
    };
    const changedSinceAnalyze = async () =>
      Number(
        (
          await sql<{ n: number }>`
            SELECT n_mod_since_analyze AS n FROM pg_stat_user_tables WHERE relname = 'products'`.execute(testDb.db)
        ).rows[0]!.n,
      );
    // Sessions publish their table counters about once a second: wait until the inserts show.
    const countersShow = async (changed: number) => {
      for (let attempt = 0; attempt < 50 && (await changedSinceAnalyze()) < changed; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(await changedSinceAnalyze()).toBeGreaterThanOrEqual(changed);
    };

    await insertProducts(2500);
    await countersShow(2500);
    expect(await analyzeGrownTables(testDb.db, undefined, thresholds)).toContain('products');
    expect(await reltuples('products')).toBe(2500);

    // Doubled, but its statistics saw a large table: left alone until it grows ten-fold.
    await insertProducts(2700);
    await countersShow(2700);
    expect(await analyzeGrownTables(testDb.db, undefined, thresholds)).not.toContain('products');
    expect(await reltuples('products')).toBe(2500);

    await insertProducts(20_000);
    await countersShow(22_700);
    expect(await analyzeGrownTables(testDb.db, undefined, thresholds)).toContain('products');
    expect(await reltuples('products')).toBe(25_200);
  }, 60_000);
});
