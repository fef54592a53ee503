import { z } from 'zod';
import { FailureType } from '../../common/failure-types.js';
import { describeType, isPlainObject } from '../mapping/fields.js';
import { classifyResponse, faultInJson, networkError, parseFault, QboError } from './qbo-errors.js';
import { buildQuery, qboDateTime, type QboQuery } from './qbo-query.js';

/**
 * A thin, typed client for the parts of the QBO Accounting API v3 that qbsync uses. The same code
 * talks to Intuit (production or sandbox) and to the project's simulator: only `baseUrl` differs.
 *
 * It never retries on its own (Temporal is the one retry owner) with one exception: after a 401 it
 * asks the token source for a fresh token and repeats the call once, since the first attempt never
 * reached QBO's business logic.
 */
export const minorVersion = 75;

export const qboApiBaseUrls = {
  production: 'https://quickbooks.api.intuit.com',
  sandbox: 'https://sandbox-quickbooks.api.intuit.com',
} as const;

/** Supplies access tokens; the OAuth layer refreshes them under a per-tenant lock. */
export interface AccessTokenSource {
  current(): Promise<string>;
  /** Called after QBO rejected `rejected`; returns a token that is newer than it. */
  refreshAfterRejection(rejected: string): Promise<string>;
}

/** A plain request, or a batch request (POST /batch), which QBO also counts against 40 a minute. */
export type RequestClass = 'single' | 'batch';

/** Keeps every worker together under QBO's per-realm limits (see realm-limiter.ts). */
export interface RequestLimiter {
  /** `requestClass` defaults to 'single'. */
  run<T>(realmId: string, call: () => Promise<T>, requestClass?: RequestClass): Promise<T>;
}

export interface QboClientOptions {
  readonly baseUrl: string;
  readonly realmId: string;
  readonly tokens: AccessTokenSource;
  readonly limiter?: RequestLimiter;
  /** Per-request timeout; QBO itself gives up at 120 s. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/** A QBO entity as it comes over the wire: validated only as far as the envelope needs. */
export type QboRecord = Record<string, unknown> & { readonly Id: string };

const recordSchema = z.looseObject({ Id: z.string().min(1) });

/**
 * One element of a list answer that is not a record qbsync can even name: not an object, or with
 * no usable `Id`. QBO has stored bad data before; one such record must not fail the page around it,
 * so the list answers report it here, in its place, and the sync files it as that record's error.
 */
export class DamagedRecord {
  constructor(
    readonly entity: string,
    /** 0-based place in the answer's list of this entity. */
    readonly index: number,
    /** The id as far as one can be read (a number where QBO sends a string), else null. */
    readonly qboId: string | null,
    /** What is wrong, as a path into the record (`Id`, or `(record)` for the whole of it). */
    readonly field: string,
    readonly problem: string,
  ) {}
}

const queryEnvelope = z.object({
  QueryResponse: z.looseObject({
    startPosition: z.number().optional(),
    maxResults: z.number().optional(),
    totalCount: z.number().optional(),
  }),
  time: z.string().optional(),
});

const cdcEnvelope = z.object({
  CDCResponse: z
    .array(
      z.looseObject({
        QueryResponse: z.array(z.looseObject({})).optional(),
      }),
    )
    .min(1),
  time: z.string(),
});

export interface QueryPage {
  readonly records: QboRecord[];
  /** Elements of the page that are no records (see DamagedRecord); records.length + damaged.length were read. */
  readonly damaged: DamagedRecord[];
  readonly startPosition: number | undefined;
  readonly totalCount: number | undefined;
  readonly time: string | undefined;
}

export interface CdcResult {
  /** Server time of the response: the next `changedSince`. */
  readonly time: string;
  /** Changed (or deleted, `status: "Deleted"`) objects per entity, in QBO's order. */
  readonly changes: Record<string, QboRecord[]>;
  /** Changed objects that are no records (see DamagedRecord), of any entity. */
  readonly damaged: DamagedRecord[];
}

/** One Customer update in a batch request. */
export interface BatchCustomerUpdate {
  readonly bId: string;
  readonly change: { readonly Id: string; readonly SyncToken: string } & Record<string, unknown>;
}

/** Each operation of a batch answers in its place: the customer, or the fault QBO gave it, classified. */
export type BatchAnswer =
  { readonly bId: string; readonly record: QboRecord } | { readonly bId: string; readonly error: QboError };

/** QBO takes at most 30 operations in one batch request ([D-batch]). */
export const maxBatchItems = 30;

/** A count(*) query: an entity and its conditions. */
export type CountQuery = Omit<QboQuery, 'orderBy' | 'startPosition' | 'maxResults'>;

/** Each count of a batch answers in its place: the total, or the fault QBO gave it, classified. */
export type CountAnswer = { readonly total: number } | { readonly error: QboError };

const batchEnvelope = z.object({
  BatchItemResponse: z.array(z.looseObject({ bId: z.string() })),
  time: z.string().optional(),
});

export type QboClient = ReturnType<typeof createQboClient>;

export function createQboClient(options: QboClientOptions) {
  const doFetch = options.fetch ?? fetch;
  const base = `${options.baseUrl.replace(/\/+$/, '')}/v3/company/${encodeURIComponent(options.realmId)}`;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const limiter = options.limiter;

  async function send(
    what: string,
    path: string,
    init: { method: 'GET' | 'POST'; body?: string; contentType?: string },
    requestClass: RequestClass = 'single',
  ) {
    const url = `${base}${path}${path.includes('?') ? '&' : '?'}minorversion=${minorVersion}`;
    const attempt = async (token: string) => {
      const call = () =>
        doFetch(url, {
          method: init.method,
          headers: {
            Accept: 'application/json',
            Authorization: `Bearer ${token}`,
            ...(init.contentType ? { 'Content-Type': init.contentType } : {}),
          },
          ...(init.body !== undefined ? { body: init.body } : {}),
          signal: AbortSignal.timeout(timeoutMs),
        }).then(async (response) => ({ response, body: await response.text() }));
      try {
        return await (limiter ? limiter.run(options.realmId, call, requestClass) : call());
      } catch (error) {
        if (error instanceof QboError) throw error;
        throw networkError(what, error);
      }
    };
    let token = await options.tokens.current();
    let exchange = await attempt(token);
    if (exchange.response.status === 401) {
      token = await options.tokens.refreshAfterRejection(token);
      exchange = await attempt(token);
    }
    const { response, body } = exchange;
    if (!response.ok) throw classifyResponse(response.status, response.headers, body, what);
    // A 200 can still carry a Fault, and throttle bodies can be XML whatever we asked for. A page
    // of a thousand records is parsed once: the fault is looked for in the parsed answer.
    let parsed: unknown;
    try {
      parsed = JSON.parse(body) as unknown;
    } catch {
      if (parseFault(body)) throw classifyResponse(response.status, response.headers, body, what);
      throw new QboError(
        FailureType.QboUnexpectedResponse,
        `${what}: the response is not JSON (${body.slice(0, 80)})`,
        {
          status: response.status,
        },
      );
    }
    if (faultInJson(parsed)) throw classifyResponse(response.status, response.headers, body, what);
    return parsed;
  }

  function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const field = issue ? issue.path.join('.') || '(root)' : '(root)';
    throw new QboError(
      FailureType.QboUnexpectedResponse,
      `${what}: unexpected response shape at ${field}: ${issue?.message ?? 'invalid'}`,
    );
  }

  /** Sends one batch request of these items and returns each item's answer by bId, with the answer's time. */
  async function sendBatch(
    what: string,
    items: ReadonlyArray<{ readonly bId: string } & Record<string, unknown>>,
    requestId?: string,
  ) {
    if (items.length > maxBatchItems) throw new Error(`a batch holds at most ${maxBatchItems} operations`);
    const query = requestId === undefined ? '' : `?requestid=${encodeURIComponent(requestId.slice(0, 50))}`;
    const body = parse(
      batchEnvelope,
      await send(
        what,
        `/batch${query}`,
        { method: 'POST', body: JSON.stringify({ BatchItemRequest: items }), contentType: 'application/json' },
        'batch',
      ),
      what,
    );
    return { byId: new Map(body.BatchItemResponse.map((answer) => [answer.bId, answer])), time: body.time };
  }

  /** Why one item of a batch did not succeed (no answer, or its own Fault), or undefined when it did. */
  function batchItemError(answer: Record<string, unknown> | undefined, itemWhat: string): QboError | undefined {
    if (!answer) return new QboError(FailureType.QboUnexpectedResponse, `${itemWhat}: no answer in the batch response`);
    if (answer['Fault'] === undefined) return undefined;
    return classifyResponse(400, new Headers(), JSON.stringify({ Fault: answer['Fault'] }), itemWhat);
  }

  /** An entity's list in an answer, each element a record or, when it cannot be one, a DamagedRecord. */
  function records(value: unknown, entity: string): { records: QboRecord[]; damaged: DamagedRecord[] } {
    // One SDK returned a single object instead of a one-element array; accept both.
    const list: unknown[] = Array.isArray(value) ? value : value === undefined ? [] : [value];
    const found = { records: [] as QboRecord[], damaged: [] as DamagedRecord[] };
    list.forEach((item: unknown, index) => {
      const damage = damageOf(item);
      if (damage === null) found.records.push(item as QboRecord);
      else found.damaged.push(new DamagedRecord(entity, index, readableId(item), damage.field, damage.problem));
    });
    return found;
  }

  return {
    realmId: options.realmId,

    /**
     * Sparse updates of up to 30 customers in one request: one against the realm's 500 a minute, and
     * one of its 40 batch requests a minute.
     * A fault of one operation is that operation's answer; the request as a whole fails only as any
     * request does (throttling, an outage, expired access).
     */
    async updateCustomers(updates: readonly BatchCustomerUpdate[], requestId: string): Promise<BatchAnswer[]> {
      if (updates.length === 0) return [];
      const { byId } = await sendBatch(
        `batch update of ${updates.length} customers`,
        updates.map(({ bId, change }) => ({ bId, operation: 'update', Customer: { ...change, sparse: true } })),
        requestId,
      );
      return updates.map(({ bId, change }): BatchAnswer => {
        const answer = byId.get(bId);
        const itemWhat = `update Customer ${change.Id} (batch)`;
        const error = batchItemError(answer, itemWhat);
        if (error) return { bId, error };
        const record = recordSchema.safeParse(answer?.['Customer']);
        return record.success
          ? { bId, record: record.data as QboRecord }
          : {
              bId,
              error: new QboError(FailureType.QboUnexpectedResponse, `${itemWhat}: the answer holds no Customer`),
            };
      });
    },

    /** One page of a query. Callers page by windows that fit one page (see the sync), not by offset. */
    async query(query: QboQuery): Promise<QueryPage> {
      const statement = buildQuery(query);
      const what = `query ${query.entity}`;
      const body = parse(
        queryEnvelope,
        await send(what, '/query', { method: 'POST', body: statement, contentType: 'application/text' }),
        what,
      );
      return {
        ...records(body.QueryResponse[query.entity], query.entity),
        startPosition: body.QueryResponse.startPosition,
        totalCount: body.QueryResponse.totalCount,
        time: body.time,
      };
    },

    async count(query: CountQuery): Promise<number> {
      return (await this.countAt(query)).total;
    },

    /** count(*) and QBO's server time of the answer, the clock that LastUpdatedTime values follow. */
    async countAt(query: CountQuery): Promise<{ total: number; time: string | undefined }> {
      const what = `count ${query.entity}`;
      const body = parse(
        queryEnvelope,
        await send(what, '/query', {
          method: 'POST',
          body: buildQuery(query, 'count(*)'),
          contentType: 'application/text',
        }),
        what,
      );
      return { total: body.QueryResponse.totalCount ?? 0, time: body.time };
    },

    /**
     * count(*) of up to 30 queries in one batch request: one against the realm's 500 a minute, and
     * one of its 40 batch requests a minute. Each count answers in its place; `time` is QBO's clock
     * at the answer, as countAt's.
     */
    async countBatch(queries: readonly CountQuery[]): Promise<{ answers: CountAnswer[]; time: string | undefined }> {
      if (queries.length === 0) return { answers: [], time: undefined };
      const { byId, time } = await sendBatch(
        `batch of ${queries.length} counts`,
        queries.map((query, index) => ({ bId: String(index), Query: buildQuery(query, 'count(*)') })),
      );
      const answers = queries.map((query, index): CountAnswer => {
        const answer = byId.get(String(index));
        const itemWhat = `count ${query.entity} (batch)`;
        const error = batchItemError(answer, itemWhat);
        if (error) return { error };
        const parsed = queryEnvelope.shape.QueryResponse.safeParse(answer?.['QueryResponse']);
        if (!parsed.success) {
          return { error: new QboError(FailureType.QboUnexpectedResponse, `${itemWhat}: the answer holds no count`) };
        }
        return { total: parsed.data.totalCount ?? 0 };
      });
      return { answers, time };
    },

    /** Change data capture: at most 30 days back, at most 1000 objects, silently cut (callers check). */
    async cdc(entities: readonly string[], changedSince: Date): Promise<CdcResult> {
      const what = `cdc ${entities.join(',')}`;
      const path = `/cdc?entities=${encodeURIComponent(entities.join(','))}&changedSince=${encodeURIComponent(qboDateTime(changedSince))}`;
      const body = parse(cdcEnvelope, await send(what, path, { method: 'GET' }), what);
      const changes: Record<string, QboRecord[]> = Object.fromEntries(entities.map((entity) => [entity, []]));
      const damaged: DamagedRecord[] = [];
      for (const block of body.CDCResponse[0]?.QueryResponse ?? []) {
        for (const entity of entities) {
          if (block[entity] === undefined) continue;
          const found = records(block[entity], entity);
          changes[entity]!.push(...found.records);
          damaged.push(...found.damaged);
        }
      }
      return { time: body.time, changes, damaged };
    },

    async read(entity: string, id: string): Promise<QboRecord> {
      const what = `read ${entity} ${id}`;
      const body = await send(what, `/${entity.toLowerCase()}/${encodeURIComponent(id)}`, { method: 'GET' });
      return parse(recordSchema, (body as Record<string, unknown> | null)?.[entity], `${what} ${entity}`) as QboRecord;
    },

    /** Creates a customer; `requestId` (at most 50 characters) makes a retried create idempotent. */
    async createCustomer(customer: Record<string, unknown>, requestId: string): Promise<QboRecord> {
      const what = 'create Customer';
      const body = await send(what, `/customer?requestid=${encodeURIComponent(requestId.slice(0, 50))}`, {
        method: 'POST',
        body: JSON.stringify(customer),
        contentType: 'application/json',
      });
      return parse(recordSchema, (body as Record<string, unknown> | null)?.['Customer'], what) as QboRecord;
    },

    /** A sparse update: only the fields given change. Needs the latest SyncToken (else QboStaleObject). */
    async updateCustomer(
      change: { readonly Id: string; readonly SyncToken: string } & Record<string, unknown>,
      requestId: string,
    ): Promise<QboRecord> {
      const what = `update Customer ${change.Id}`;
      const body = await send(what, `/customer?requestid=${encodeURIComponent(requestId.slice(0, 50))}`, {
        method: 'POST',
        body: JSON.stringify({ ...change, sparse: true }),
        contentType: 'application/json',
      });
      return parse(recordSchema, (body as Record<string, unknown> | null)?.['Customer'], what) as QboRecord;
    },
  };
}

/** Why an element of a list answer is no record, or null when it is one (a deleted stub included). */
function damageOf(item: unknown): { field: string; problem: string } | null {
  if (!isPlainObject(item)) return { field: '(record)', problem: `must be an object, got ${describeType(item)}` };
  const id = item['Id'];
  if (typeof id === 'string' && id.trim() !== '') return null;
  return {
    field: 'Id',
    problem: id === undefined ? 'is missing' : `must be a non-empty string, got ${describeType(id)}`,
  };
}

/** The id of a damaged record as far as it can be read: a number where QBO sends a string will do. */
function readableId(item: unknown): string | null {
  if (!isPlainObject(item)) return null;
  const id = item['Id'];
  if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  if (typeof id === 'string' && /^[A-Za-z0-9_-]{1,40}$/.test(id.trim())) return id.trim();
  return null;
}
