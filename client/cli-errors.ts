import { OperatorError } from '../common/errors.js';

/** An error caused by how the command was called; exits 2 like commander's own usage errors. */
export class UsageError extends OperatorError {
  override readonly name = 'UsageError';
}

/**
 * One line on stderr for every failure a user can cause or fix; a stack trace too for anything
 * else (a bug), or always when QBSYNC_LOG_LEVEL=debug.
 */
export function reportFailure(error: unknown, debug: boolean): number {
  process.stderr.write(`qbsync: ${describeError(error)}\n`);
  if (!(error instanceof OperatorError) || debug) {
    if (error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  }
  return error instanceof UsageError ? 2 : 1;
}

export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}
