import { ApplicationFailure } from '@temporalio/common';
import type { LogEntry } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { QboError } from '../activities/qbo/qbo-errors.js';
import { FailureType } from '../common/failure-types.js';
import { formatLogEntry } from './log-format.js';

// Issue 12, point 13: a failure in the worker's log is one line unless QBSYNC_LOG_LEVEL=debug.

function activityFailed(error: Error): LogEntry {
  return {
    level: 'WARN',
    message: 'Activity failed',
    meta: { activityType: 'syncEntityPage', error, durationMs: 12 },
    timestampNanos: 1_764_590_400_000_000_000n,
  };
}

describe('worker log lines', () => {
  const refused = new QboError(FailureType.QboValidation, 'query Item: Invalid Request', { status: 400 });

  it('prints a QboError as its type and message on one line, without the stack', () => {
    const line = formatLogEntry(activityFailed(refused), false);
    expect(line.split('\n')).toHaveLength(1);
    expect(line).not.toMatch(/ {4}at /);
    expect(line).toContain("error: 'QboValidation: query Item: Invalid Request'");
    expect(line).toContain("activityType: 'syncEntityPage'");
    expect(line).toMatch(/^2025-12-01T12:00:00\.000Z \[WARN\] Activity failed /);
  });

  it('names the causes of a wrapped failure on the same line', () => {
    const failure = ApplicationFailure.create({
      type: FailureType.DatabaseUnavailable,
      message: 'database unavailable: Connection terminated unexpectedly',
      cause: new Error('Connection terminated unexpectedly'),
    });
    const line = formatLogEntry(activityFailed(failure), false);
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toContain(
      'DatabaseUnavailable: database unavailable: Connection terminated unexpectedly <- Error: Connection terminated unexpectedly',
    );
  });

  it('keeps the stack at debug level', () => {
    expect(formatLogEntry(activityFailed(refused), true)).toMatch(/\n +at /);
  });

  it('prints an entry without metadata as its message', () => {
    const started: LogEntry = { level: 'INFO', message: 'Worker started', timestampNanos: 1_764_590_400_000_000_000n };
    expect(formatLogEntry(started, false)).toBe('2025-12-01T12:00:00.000Z [INFO] Worker started');
  });
});
