import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failure-types.js';
import { QboError, toApplicationFailure } from '../qbo/qbo-errors.js';

/**
 * The one place where an activity's failure gets its stable type: a QBO failure keeps the type
 * the client gave it, a lost PostgreSQL connection becomes DatabaseUnavailable (retryable), and
 * anything else is left as it is: the workflow counts only FailureTypes as a failed pass, so an
 * unclassified error shows up as the bug it is.
 */
export function toActivityFailure(error: unknown): unknown {
  if (error instanceof QboError) return toApplicationFailure(error);
  if (error instanceof ApplicationFailure) return error;
  if (isDatabaseUnavailable(error)) {
    return ApplicationFailure.create({
      type: FailureType.DatabaseUnavailable,
      message: `database unavailable: ${describe(error)}`,
      nonRetryable: false,
    });
  }
  return error;
}

/** SQLSTATE classes and codes of a server that is going away or not accepting connections. */
const unavailableSqlState = /^(08...|57P01|57P02|57P03)$/;
const unavailableSocketCode = new Set(['ECONNREFUSED', 'ECONNRESET']);
/**
 * node-postgres's own errors, which carry no code: the connection ended under a query, or a
 * client whose connection was lost earlier (while its transaction waited between queries) is used.
 */
const lostConnectionMessages = ['Connection terminated', 'Client has encountered a connection error'];

/** A PostgreSQL connection failure, looked for in the error, its causes and (for AggregateError) its parts. */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (depth > 4 || typeof error !== 'object' || error === null) return false;
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string' && (unavailableSqlState.test(code) || unavailableSocketCode.has(code))) return true;
  if (typeof message === 'string' && lostConnectionMessages.some((start) => message.startsWith(start))) return true;
  if (Array.isArray(errors) && errors.some((part) => isDatabaseUnavailable(part, depth + 1))) return true;
  return isDatabaseUnavailable(cause, depth + 1);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, 200);
  const code = (error as { code?: unknown }).code;
  return `${typeof code === 'string' ? `${code} ` : ''}${error.message}`.slice(0, 200);
}

/** Wraps every activity of a set so that its failures leave it classified (see toActivityFailure). */
export function classifyFailures<T extends Record<string, (input: never) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = async (input: never) => {
      try {
        return await activity(input);
      } catch (error) {
        throw toActivityFailure(error);
      }
    };
  }
  return wrapped as T;
}
