import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileMigrationProvider, Migrator, NO_MIGRATIONS, type Kysely, type MigrationResult } from 'kysely';

export const migrationsFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  constructor(
    message: string,
    readonly results: readonly MigrationResult[],
  ) {
    super(message);
  }
}

function createMigrator(db: Kysely<unknown>): Migrator {
  return new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: migrationsFolder }),
  });
}

/** Kysely's Migrator never throws: it returns an error. Turn it into one that names the migration. */
function unwrap(direction: string, resultSet: { error?: unknown; results?: MigrationResult[] }): MigrationResult[] {
  const results = resultSet.results ?? [];
  if (resultSet.error !== undefined) {
    const failed = results.find((result) => result.status === 'Error');
    const cause = resultSet.error instanceof Error ? resultSet.error.message : String(resultSet.error);
    throw new MigrationError(
      `migration ${direction} failed${failed ? ` at ${failed.migrationName}` : ''}: ${cause}`,
      results,
    );
  }
  return results;
}

export async function migrateToLatest(db: Kysely<unknown>): Promise<MigrationResult[]> {
  return unwrap('up', await createMigrator(db).migrateToLatest());
}

export async function migrateDownOne(db: Kysely<unknown>): Promise<MigrationResult[]> {
  return unwrap('down', await createMigrator(db).migrateDown());
}

export async function migrateDownAll(db: Kysely<unknown>): Promise<MigrationResult[]> {
  return unwrap('down', await createMigrator(db).migrateTo(NO_MIGRATIONS));
}

export async function listMigrations(db: Kysely<unknown>) {
  return createMigrator(db).getMigrations();
}
