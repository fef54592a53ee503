import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperatorError } from '../common/errors.js';
import { pathToFileURL } from 'node:url';
import {
  Migrator,
  NO_MIGRATIONS,
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResult,
} from 'kysely';

export const migrationsFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

export class MigrationError extends OperatorError {
  override readonly name = 'MigrationError';
  constructor(
    message: string,
    readonly results: readonly MigrationResult[],
  ) {
    super(message);
  }
}

/**
 * Kysely's FileMigrationProvider imports from inside node_modules, where test runners do not
 * transform TypeScript; importing from here works under tsx and vitest alike.
 */
const folderMigrationProvider: MigrationProvider = {
  async getMigrations() {
    const migrations: Record<string, Migration> = {};
    const files = (await fs.readdir(migrationsFolder)).filter((file) => /^\d{14}_[a-z0-9_]+\.ts$/.test(file)).sort();
    for (const file of files) {
      const module = (await import(pathToFileURL(path.join(migrationsFolder, file)).href)) as Partial<Migration>;
      if (typeof module.up !== 'function') throw new MigrationError(`migration ${file} exports no up() function`, []);
      migrations[file.replace(/\.ts$/, '')] = module as Migration;
    }
    return migrations;
  },
};

function createMigrator(db: Kysely<unknown>): Migrator {
  return new Migrator({ db, provider: folderMigrationProvider });
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
