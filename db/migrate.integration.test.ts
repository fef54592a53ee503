import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test/database.js';
import { listMigrations, migrateDownAll, migrateDownOne, migrateToLatest } from './migrate.js';

describe('migrations round trip', () => {
  let database: TestDatabase;
  let db: Kysely<unknown>;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: false });
    db = database.db as Kysely<unknown>;
  });
  afterAll(async () => database?.drop());

  it('runs up, down to nothing and up again, every step reporting no error', async () => {
    const all = await listMigrations(db);
    expect(all.length).toBeGreaterThan(0);

    const up = await migrateToLatest(db);
    expect(up.map((result) => result.status)).toEqual(all.map(() => 'Success'));

    const down = await migrateDownAll(db);
    expect(down).toHaveLength(all.length);
    expect(down.every((result) => result.status === 'Success' && result.direction === 'Down')).toBe(true);

    const again = await migrateToLatest(db);
    expect(again).toHaveLength(all.length);
    expect(again.every((result) => result.status === 'Success')).toBe(true);
    expect((await listMigrations(db)).every((migration) => migration.executedAt !== undefined)).toBe(true);
  });

  it('steps down one migration at a time', async () => {
    const before = (await listMigrations(db)).filter((migration) => migration.executedAt !== undefined).length;
    const [undone] = await migrateDownOne(db);
    expect(undone?.status).toBe('Success');
    const after = (await listMigrations(db)).filter((migration) => migration.executedAt !== undefined).length;
    expect(after).toBe(before - 1);
    await migrateToLatest(db);
  });
});
