import { ApplicationFailure } from '@temporalio/common';
import { FailureType, nonRetryableFailureTypes } from '../../common/failure-types.js';

/** The wait after a throttle when QBO names none (Intuit's guidance: 60 s). */
export const defaultThrottleWaitMs = 60_000;

export interface QboFaultDetail {
  readonly code: string | undefined;
  readonly message: string | undefined;
  readonly detail: string | undefined;
  readonly faultType: string | undefined;
}

/** Every failure of a QBO call, classified once into a stable type. */
export class QboError extends Error {
  override readonly name = 'QboError';
  constructor(
    readonly type: FailureType,
    message: string,
    readonly details: {
      readonly status?: number;
      readonly code?: string;
      readonly retryAfterMs?: number;
      readonly intuitTid?: string;
    } = {},
  ) {
    super(message);
  }

  get retryable(): boolean {
    return !nonRetryableFailureTypes.includes(this.type);
  }
}

/**
 * Reads a QBO fault from a JSON or XML body; undefined when the body holds none. The API writes
 * `{"Fault":{"Error":[{"Message","Detail","code"}],"type"}}`; authentication failures (401) come
 * from Intuit's gateway as `{"fault":{"error":[{"message","detail","code"}],"type":"AUTHENTICATION"}}`.
 */
export function parseFault(body: string): QboFaultDetail | undefined {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      return faultInJson(JSON.parse(trimmed));
    } catch {
      return undefined;
    }
  }
  if (trimmed.startsWith('<')) {
    if (!/<Fault\b/i.test(trimmed)) return undefined;
    return {
      code: /<Error\b[^>]*\bcode="([^"]*)"/i.exec(trimmed)?.[1],
      message: decodeXml(/<Message>([\s\S]*?)<\/Message>/i.exec(trimmed)?.[1]),
      detail: decodeXml(/<Detail>([\s\S]*?)<\/Detail>/i.exec(trimmed)?.[1]),
      faultType: /<Fault\b[^>]*\btype="([^"]*)"/i.exec(trimmed)?.[1],
    };
  }
  return undefined;
}

/** The fault of a body already parsed as JSON (parseFault's JSON half): pages are parsed once. */
export function faultInJson(value: unknown): QboFaultDetail | undefined {
  const parsed = objectOrUndefined(value);
  const fault = objectOrUndefined(parsed?.['Fault']) ?? objectOrUndefined(parsed?.['fault']);
  if (!fault) return undefined;
  const errors = fault['Error'] ?? fault['error'];
  const first = Array.isArray(errors) ? objectOrUndefined(errors[0]) : undefined;
  return {
    code: stringOrUndefined(first?.['code']),
    message: stringOrUndefined(first?.['Message'] ?? first?.['message']),
    detail: stringOrUndefined(first?.['Detail'] ?? first?.['detail']),
    faultType: stringOrUndefined(fault['type']),
  };
}

/** Classifies a failed (or 200-with-Fault) HTTP exchange. */
export function classifyResponse(status: number, headers: Headers, body: string, what: string): QboError {
  const fault = parseFault(body);
  const code = fault?.code?.replace(/^0+(?=\d)/, '');
  const intuitTid = headers.get('intuit_tid') ?? undefined;
  const text =
    [fault?.message, fault?.detail].filter(Boolean).join(': ') || body.slice(0, 200).trim() || `HTTP ${status}`;
  const base = { status, ...(code ? { code } : {}), ...(intuitTid ? { intuitTid } : {}) };
  const error = (type: FailureType, extra: { retryAfterMs?: number } = {}) =>
    new QboError(type, `${what}: ${text}${code ? ` (fault ${code})` : ''} [HTTP ${status}]`, { ...base, ...extra });

  if (status === 429 || code === '3001' || /ThrottleExceeded/i.test(body)) {
    return error(FailureType.QboThrottled, { retryAfterMs: retryAfterMs(headers) ?? defaultThrottleWaitMs });
  }
  if (status === 401 || code === '3200' || code === '3202') return error(FailureType.QboAuthExpired);
  if (status === 403 || fault?.faultType === 'AuthorizationFault' || code === '3201' || code === '120') {
    return error(FailureType.QboForbidden);
  }
  if (code === '5010') return error(FailureType.QboStaleObject);
  if (code === '6240') return error(FailureType.QboDuplicateName);
  if (code === '610' || status === 404) return error(FailureType.QboNotFound);
  if (status >= 500 || code === '10000' || fault?.faultType === 'SystemFault') return error(FailureType.QboServerFault);
  return error(FailureType.QboValidation);
}

/** Retry-After as seconds or an HTTP date (UNCONFIRMED that QBO sends it; honoured when present). */
export function retryAfterMs(headers: Headers, now: Date = new Date()): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now.getTime());
}

export function networkError(what: string, cause: unknown): QboError {
  const reason =
    cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause);
  return new QboError(FailureType.QboNetwork, `${what}: ${reason}`);
}

/**
 * The one place where a QBO failure becomes a Temporal failure: a stable type, an explicit
 * retryability, and for throttling the wait QBO asked for. Messages never carry record data.
 */
export function toApplicationFailure(error: unknown): unknown {
  if (!(error instanceof QboError)) return error;
  return ApplicationFailure.create({
    type: error.type,
    message: error.message,
    nonRetryable: !error.retryable,
    ...(error.details.retryAfterMs !== undefined ? { nextRetryDelay: error.details.retryAfterMs } : {}),
    details: [{ status: error.details.status ?? null, code: error.details.code ?? null }],
  });
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined;
}

function objectOrUndefined(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function decodeXml(value: string | undefined): string | undefined {
  return value
    ?.replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&#x([0-9a-f]+);/gi, (_, code: string) => String.fromCodePoint(parseInt(code, 16)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}
