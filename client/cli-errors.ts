import { OperatorError } from '../common/errors.js';

/** An error caused by how the command was called; exits 2 like commander's own usage errors. */
export class UsageError extends OperatorError {
  override readonly name = 'UsageError';
}

/**
 * Errors of the layers below the CLI that describe the outside world, not a bug: QuickBooks
 * refused or could not be reached (QboError), a company belongs to another tenant, a record does
 * not map. They are told by name because those layers do not depend on the CLI's OperatorError.
 */
const operatorErrorNames: ReadonlySet<string> = new Set(['QboError', 'RealmAlreadyConnectedError', 'MappingError']);

/** An error the person running the command can act on from its message alone. */
export function isOperatorError(error: unknown): boolean {
  return error instanceof OperatorError || (error instanceof Error && operatorErrorNames.has(error.name));
}

/**
 * One line on stderr for every failure a user can cause or fix; a stack trace too for anything
 * else (a bug), or always when QBSYNC_LOG_LEVEL=debug.
 */
export function reportFailure(error: unknown, debug: boolean): number {
  const missingTable = undefinedTable(error);
  if (missingTable !== undefined) {
    process.stderr.write(
      `qbsync: the database is not migrated (it has no table ${missingTable}): run "qbsync migrate"\n`,
    );
    if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
  process.stderr.write(`qbsync: ${describeError(error)}\n`);
  if (!isOperatorError(error) || debug) {
    if (error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  }
  return error instanceof UsageError ? 2 : 1;
}

export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}

/**
 * The table a query named that PostgreSQL does not have (SQLSTATE 42P01, undefined_table), looked
 * for through the error's causes: a database nobody migrated fails this way in every command.
 */
export function undefinedTable(error: unknown): string | undefined {
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 5; depth++) {
    if ((cause as { code?: unknown }).code === '42P01') {
      return /relation "([^"]+)" does not exist/.exec(cause.message)?.[1] ?? 'that a query needs';
    }
    cause = cause.cause;
  }
  return undefined;
}
