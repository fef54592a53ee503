/**
 * QBO's error bodies: the JSON `Fault` envelope with string codes, the gateway's lowercase `fault`
 * of authentication failures, and the XML `IntuitResponse` form that some throttling and
 * validation errors arrive in even when JSON was asked for.
 */

export type FaultType = 'ValidationFault' | 'SystemFault' | 'AuthenticationFault' | 'AuthorizationFault';

export interface FaultError {
  readonly Message: string;
  readonly Detail: string;
  readonly code: string;
  readonly element?: string;
}

/**
 * How a fault's JSON is spelled. The API's own faults are `{"Fault":{"Error":[{"Message",…}]}}`;
 * authentication failures come from Intuit's gateway in front of it, which writes
 * `{"fault":{"error":[{"message","detail","code"}],"type":"AUTHENTICATION"}}`.
 */
export type FaultJsonStyle = { readonly kind: 'api' } | { readonly kind: 'gateway'; readonly type: string };

/** An error the simulator answers with a QBO fault: HTTP status plus envelope. */
export class QboFault extends Error {
  constructor(
    readonly status: number,
    readonly type: FaultType | 'SERVICE',
    readonly errors: readonly FaultError[],
    readonly jsonStyle: FaultJsonStyle = { kind: 'api' },
  ) {
    super(errors.map((e) => `${e.code} ${e.Message}: ${e.Detail}`).join('; '));
  }

  /** The JSON envelope: `{"Fault":{"Error":[…],"type":…},"time":…}`, or the gateway's lowercase form. */
  toJson(time: string): Record<string, unknown> {
    if (this.jsonStyle.kind === 'gateway')
      return {
        fault: {
          error: this.errors.map((e) => ({ message: e.Message, detail: e.Detail, code: e.code })),
          type: this.jsonStyle.type,
        },
        time,
      };
    return { Fault: { Error: this.errors.map((e) => ({ ...e })), type: this.type }, time };
  }

  /** The XML envelope Intuit sends for some errors (e.g. ThrottleExceeded). */
  toXml(time: string): string {
    const errors = this.errors
      .map(
        (e) =>
          `<Error code="${escapeXml(e.code)}"${e.element ? ` element="${escapeXml(e.element)}"` : ''}><Message>${escapeXml(
            e.Message,
          )}</Message><Detail>${escapeXml(e.Detail)}</Detail></Error>`,
      )
      .join('');
    return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="${escapeXml(
      time,
    )}"><Fault type="${escapeXml(this.type)}">${errors}</Fault></IntuitResponse>`;
  }
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export const faults = {
  parse: (detail: string) =>
    new QboFault(400, 'ValidationFault', [
      { Message: 'Error parsing query', Detail: `QueryParserError: ${detail}`, code: '4000' },
    ]),
  queryValidation: (detail: string) =>
    new QboFault(400, 'ValidationFault', [
      { Message: 'Invalid query', Detail: `QueryValidationError: ${detail}`, code: '4001' },
    ]),
  stale: () =>
    new QboFault(400, 'ValidationFault', [
      {
        Message: 'Stale Object Error',
        Detail:
          'Stale Object Error : You and root were working on this at the same time. root finished before you did, so your work was not saved.',
        code: '5010',
        element: '',
      },
    ]),
  duplicateName: () =>
    new QboFault(400, 'ValidationFault', [
      {
        Message: 'Duplicate Name Exists Error',
        Detail:
          'The name supplied already exists. : Another customer, vendor or employee is already using this name. Please use a different name.',
        code: '6240',
        element: '',
      },
    ]),
  notFound: (entity: string, id: string) =>
    new QboFault(400, 'ValidationFault', [
      {
        Message: 'Object Not Found',
        Detail: `Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, invoices, items, vendors or employees. (${entity} ${id})`,
        code: '610',
        element: '',
      },
    ]),
  required: (field: string) =>
    new QboFault(400, 'ValidationFault', [
      {
        Message: 'Required param missing, need to supply the required value for the API',
        Detail: `Required parameter ${field} is missing in the request`,
        code: '2020',
        element: field,
      },
    ]),
  invalid: (detail: string, element = '') =>
    new QboFault(400, 'ValidationFault', [
      { Message: 'Request has invalid or unsupported property', Detail: detail, code: '2010', element },
    ]),
  unsupportedOperation: (detail: string) =>
    new QboFault(400, 'ValidationFault', [
      { Message: 'Unsupported Operation', Detail: detail, code: '500', element: '' },
    ]),
  authentication: (detail: string) =>
    new QboFault(
      401,
      'AuthenticationFault',
      [{ Message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401', Detail: detail, code: '3200' }],
      { kind: 'gateway', type: 'AUTHENTICATION' },
    ),
  authorization: (detail: string) =>
    new QboFault(403, 'AuthorizationFault', [
      { Message: 'message=AuthorizationFailure; errorCode=003201; statusCode=403', Detail: detail, code: '3201' },
    ]),
  throttle: () =>
    new QboFault(429, 'SERVICE', [
      {
        Message: 'message=ThrottleExceeded; errorCode=003001; statusCode=429',
        Detail: 'The request limit was reached.  Try again later',
        code: '3001',
      },
    ]),
  /** An injected server fault (`/__sim/faults`), and only that. */
  server: (status: number) =>
    new QboFault(status, 'SystemFault', [
      {
        Message: 'An application error has occurred while processing your request',
        Detail: 'System Failure Error: simulated server fault',
        code: '10000',
      },
    ]),
  /** An error nobody injected (a simulator bug): never labelled as simulated. */
  internal: (detail: string) =>
    new QboFault(500, 'SystemFault', [
      {
        Message: 'An application error has occurred while processing your request',
        Detail: `System Failure Error: simulator internal error (not an injected fault): ${detail}`,
        code: '10000',
      },
    ]),
  routeNotFound: (path: string) =>
    new QboFault(404, 'ValidationFault', [
      { Message: 'Unsupported Operation', Detail: `No resource method found for ${path}`, code: '500' },
    ]),
  badRequest: (detail: string) =>
    new QboFault(400, 'ValidationFault', [{ Message: 'Invalid Request', Detail: detail, code: '2010', element: '' }]),
} as const;
