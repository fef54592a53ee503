/**
 * Stable failure types. Activities raise ApplicationFailures with one of these as `type`; workflows
 * and the retry policy branch on them, never on messages.
 */
export const FailureType = {
  /** 429 / fault 3001 (some bodies XML, some with status 403): wait as long as QBO asks, then retry. */
  QboThrottled: 'QboThrottled',
  /** 5xx or SystemFault 10000: transient on QBO's side. */
  QboServerFault: 'QboServerFault',
  /** Network trouble: reset, refused, timed out. */
  QboNetwork: 'QboNetwork',
  /** 401 / fault 3200 even after one refresh. */
  QboAuthExpired: 'QboAuthExpired',
  /** The refresh token was refused (`invalid_grant`) or the connection is gone: the tenant must reconnect. */
  QboAuthRevoked: 'QboAuthRevoked',
  /** 403 AuthorizationFault (3201, 120): the app has no access to this company or operation. */
  QboForbidden: 'QboForbidden',
  /** Fault 5010: the SyncToken sent is not the latest. */
  QboStaleObject: 'QboStaleObject',
  /** Fault 6240: DisplayName is taken by a customer, vendor or employee. */
  QboDuplicateName: 'QboDuplicateName',
  /** Fault 610 or 404: the object is gone or inactive. */
  QboNotFound: 'QboNotFound',
  /** Any other ValidationFault: the request itself is wrong. */
  QboValidation: 'QboValidation',
  /** A response whose shape we do not recognise; the message names the field. */
  QboUnexpectedResponse: 'QboUnexpectedResponse',
  /** The tenant is not connected (no tokens stored). */
  TenantNotConnected: 'TenantNotConnected',
  /**
   * PostgreSQL could not be reached or dropped the connection (shutdown, restart, refused, reset):
   * nothing was committed, and the same call succeeds once the database is back.
   */
  DatabaseUnavailable: 'DatabaseUnavailable',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Failures that the same call will meet again: Temporal must not retry them. */
export const nonRetryableFailureTypes: readonly FailureType[] = [
  FailureType.QboAuthRevoked,
  FailureType.QboForbidden,
  FailureType.QboStaleObject,
  FailureType.QboDuplicateName,
  FailureType.QboNotFound,
  FailureType.QboValidation,
  FailureType.QboUnexpectedResponse,
  FailureType.TenantNotConnected,
];

/** Failures after which the tenant needs a person to reconnect it: the workflow pauses itself. */
export const reconnectFailureTypes: readonly FailureType[] = [
  FailureType.QboAuthRevoked,
  FailureType.QboForbidden,
  FailureType.TenantNotConnected,
];
