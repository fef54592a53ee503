import { inspect } from 'node:util';
import type { LogEntry } from '@temporalio/worker';

/**
 * The worker's log lines. An activity or workflow failure is logged with its error in the
 * metadata; printed whole, each QuickBooks refusal or lost connection took a dozen lines of stack
 * trace at info level. Outside debug, an error is one line: its stable type (a FailureType when it
 * has one) and first message line, then those of its causes. QBSYNC_LOG_LEVEL=debug keeps the stacks.
 */
export function formatLogEntry(entry: LogEntry, debug: boolean): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const head = `${time} [${entry.level}] ${entry.message}`;
  if (entry.meta === undefined) return head;
  const meta = debug
    ? entry.meta
    : Object.fromEntries(
        Object.entries(entry.meta).map(([key, value]) => [key, value instanceof Error ? oneLineError(value) : value]),
      );
  return `${head} ${inspect(meta, { breakLength: Infinity, depth: 4 })}`;
}

/** `Type: message` for the error and each of its causes, on one line. */
export function oneLineError(error: Error): string {
  const parts: string[] = [];
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 5; depth++) {
    const type = (cause as { type?: unknown }).type;
    const name = typeof type === 'string' && type !== '' ? type : cause.name;
    parts.push(`${name}: ${cause.message.split('\n')[0] ?? ''}`);
    cause = cause.cause;
  }
  return parts.join(' <- ');
}

export function workerLogFunction(debug: boolean): (entry: LogEntry) => void {
  return (entry) => process.stderr.write(`${formatLogEntry(entry, debug)}\n`);
}
