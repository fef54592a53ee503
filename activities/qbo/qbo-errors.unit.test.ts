import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { FailureType } from '../../common/failure-types.js';
import {
  classifyResponse,
  defaultThrottleWaitMs,
  parseFault,
  retryAfterMs,
  toApplicationFailure,
} from './qbo-errors.js';

const jsonFault = (code: string, message: string, type = 'ValidationFault') =>
  JSON.stringify({
    Fault: { Error: [{ Message: message, Detail: `${message} : detail`, code, element: '' }], type },
    time: '2026-01-01T00:00:00.000-08:00',
  });

const xmlThrottle = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2024-09-12T06:49:41.227-07:00"><Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.  Try again later</Detail></Error></Fault></IntuitResponse>`;

describe('QBO failure classification (one place, stable types)', () => {
  it('reads JSON and XML fault bodies', () => {
    expect(parseFault(jsonFault('5010', 'Stale Object Error'))).toMatchObject({
      code: '5010',
      message: 'Stale Object Error',
      faultType: 'ValidationFault',
    });
    expect(parseFault(xmlThrottle)).toMatchObject({ code: '3001', faultType: 'SERVICE' });
    expect(parseFault('{"QueryResponse":{}}')).toBeUndefined();
    expect(parseFault('<html>bad gateway</html>')).toBeUndefined();
  });

  // Issue 13 point 2. No 401 body is among the recordings (shared/reference/qbo-samples); this is the
  // shape the issue quotes from a real 401 (shared/reference/qbo-api.md § HTTP status codes: 401 is
  // AuthenticationFault 3200), its elided detail filled in, and the XML IntuitResponse form of it.
  const gateway401 =
    '{"fault":{"error":[{"message":"message=AuthenticationFailed; errorCode=003200; statusCode=401","detail":"Token expired","code":"3200"}],"type":"AUTHENTICATION"},"time":"2026-03-15T05:00:00.000-07:00"}';
  const xml401 = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2026-03-15T05:00:00.000-07:00"><Fault type="AuthenticationFault"><Error code="3200"><Message>message=AuthenticationFailed; errorCode=003200; statusCode=401</Message><Detail>Token &#39;expired&#39;</Detail></Error></Fault></IntuitResponse>`;

  it('point 2: reads the lowercase fault of a 401 and its XML AuthenticationFault', () => {
    expect(parseFault(gateway401)).toEqual({
      code: '3200',
      message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401',
      detail: 'Token expired',
      faultType: 'AUTHENTICATION',
    });
    expect(parseFault(xml401)).toEqual({
      code: '3200',
      message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401',
      detail: "Token 'expired'",
      faultType: 'AuthenticationFault',
    });
    for (const body of [gateway401, xml401]) {
      const error = classifyResponse(401, new Headers(), body, 'query Customer');
      expect(error).toMatchObject({ type: FailureType.QboAuthExpired, details: { status: 401, code: '3200' } });
      expect(error.message).toMatch(/AuthenticationFailed.*\(fault 3200\) \[HTTP 401\]/);
    }
  });

  it.each([
    [429, jsonFault('3001', 'ThrottleExceeded', 'ThrottleFault'), FailureType.QboThrottled],
    [429, xmlThrottle, FailureType.QboThrottled],
    [403, xmlThrottle, FailureType.QboThrottled],
    [500, '<html>oops</html>', FailureType.QboServerFault],
    [503, '', FailureType.QboServerFault],
    [400, jsonFault('10000', 'An application error has occurred', 'SystemFault'), FailureType.QboServerFault],
    [
      401,
      jsonFault('3200', 'message=ApplicationAuthenticationFailed', 'AuthenticationFault'),
      FailureType.QboAuthExpired,
    ],
    [401, jsonFault('003200', 'AuthenticationFailed', 'AuthenticationFault'), FailureType.QboAuthExpired],
    [403, jsonFault('3201', 'Authorization failure', 'AuthorizationFault'), FailureType.QboForbidden],
    [400, jsonFault('5010', 'Stale Object Error'), FailureType.QboStaleObject],
    [400, jsonFault('6240', 'Duplicate Name Exists Error'), FailureType.QboDuplicateName],
    [400, jsonFault('610', 'Object Not Found'), FailureType.QboNotFound],
    [404, '', FailureType.QboNotFound],
    [400, jsonFault('2020', 'Required param missing'), FailureType.QboValidation],
    [200, jsonFault('6240', 'Duplicate Name Exists Error'), FailureType.QboDuplicateName],
  ])('HTTP %i with this body is %s', (status, body, type) => {
    expect(classifyResponse(status, new Headers(), body, 'call').type).toBe(type);
  });

  it('waits as long as QBO asks after a throttle, or 60 s when it does not say', () => {
    expect(classifyResponse(429, new Headers({ 'Retry-After': '7' }), xmlThrottle, 'q').details.retryAfterMs).toBe(
      7_000,
    );
    expect(classifyResponse(429, new Headers(), xmlThrottle, 'q').details.retryAfterMs).toBe(defaultThrottleWaitMs);
    const now = new Date('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'Retry-After': 'Thu, 01 Jan 2026 00:00:30 GMT' }), now)).toBe(30_000);
  });

  it('turns each into an ApplicationFailure with its type, retryability and the throttle wait', () => {
    const throttled = toApplicationFailure(
      classifyResponse(429, new Headers(), xmlThrottle, 'q'),
    ) as ApplicationFailure;
    expect(throttled).toBeInstanceOf(ApplicationFailure);
    expect(throttled.type).toBe(FailureType.QboThrottled);
    expect(throttled.nonRetryable).toBe(false);
    expect(throttled.nextRetryDelay).toBe(defaultThrottleWaitMs);

    const stale = toApplicationFailure(
      classifyResponse(400, new Headers(), jsonFault('5010', 'Stale'), 'u'),
    ) as ApplicationFailure;
    expect(stale.type).toBe(FailureType.QboStaleObject);
    expect(stale.nonRetryable).toBe(true);

    const server = toApplicationFailure(classifyResponse(502, new Headers(), '', 'q')) as ApplicationFailure;
    expect(server.nonRetryable).toBe(false);

    const other = new Error('not ours');
    expect(toApplicationFailure(other)).toBe(other);
  });
});
