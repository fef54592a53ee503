import { ConfigError } from '../worker/config.js';
import { MigrationError } from '../db/migrate.js';
import { PostgresUnavailableError, describe } from '../db/postgres.js';
import { TemporalUnavailableError } from '../worker/temporal-server.js';

/** An error caused by how the command was called; exits 2 like commander's own usage errors. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const expectedErrors = [ConfigError, MigrationError, PostgresUnavailableError, TemporalUnavailableError, UsageError];

/**
 * One line on stderr for every failure a user can cause or fix; a stack trace only for bugs,
 * or when QBSYNC_LOG_LEVEL=debug.
 */
export function reportFailure(error: unknown, debug: boolean): number {
  const expected = expectedErrors.some((type) => error instanceof type);
  process.stderr.write(`qbsync: ${describe(error)}\n`);
  if ((!expected || debug) && error instanceof Error && error.stack && debug) {
    process.stderr.write(`${error.stack}\n`);
  }
  return error instanceof UsageError ? 2 : 1;
}
