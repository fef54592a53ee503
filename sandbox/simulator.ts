/**
 * The simulator's state and behaviour, independent of HTTP: companies, OAuth, rate limits, faults,
 * webhooks, the QBO operations (query, CDC, read, customer create and sparse update) and the admin
 * operations that script what users do in QuickBooks (edit, deactivate, delete, merge, bulk edit).
 */
import { randomBytes } from 'node:crypto';
import { faults, QboFault } from './faults.js';
import { generateCompany, materializeTransaction } from './generator.js';
import { applyLoaded, detectTimeZone, type LoadedFiles } from './loader.js';
import { OAuthServer } from './oauth.js';
import { mixSeed, Prng } from './prng.js';
import { prewarmIndexes, runQuery, type QueryOptions } from './query.js';
import { RateLimiter } from './rate-limiter.js';
import {
  Company,
  DAMAGE_KINDS,
  ENTITIES,
  entityFromName,
  isObject,
  NAME_LISTS,
  TRANSACTIONS,
  type ChangeEvent,
  type DamageKind,
  type EntityName,
  type Json,
  type Row,
  wholeSecond,
} from './store.js';
import { checkTimeZone, formatLocal, parseQboDateTime } from './time.js';
import { checkCustomerWrite, checkDepth, type CheckedCustomer } from './validation.js';
import { INTUIT_RETRY_DELAYS_MS, WebhookSender, type WebhookFormat } from './webhooks.js';

/** Everything the simulator can be told. All optional; defaults are QBO's own figures. */
export interface SimulatorOptions {
  /** TCP port; 0 picks a free one. Default 8911. */
  readonly port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** Seed for generated data, fault draws and bulk edits. Default 1. */
  readonly seed?: number;
  /** Number of generated companies. Default 1. */
  readonly companies?: number;
  /** Customers per generated company. Default 200. */
  readonly customers?: number;
  /** Transactions (estimates, invoices, credit memos, sales receipts) per generated company. Default 1000. */
  readonly transactions?: number;
  /** Items per generated company, categories included. Default 40. */
  readonly items?: number;
  /** Recorded responses already read (see readRecordedDirectory): loaded as the first company. */
  readonly loaded?: LoadedFiles;
  /** Realm ids to use, in order; the rest are derived from the seed. */
  readonly realmIds?: readonly string[];
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Webhook verifier token (signs `intuit-signature`). */
  readonly verifierToken?: string;
  /**
   * The app's registered redirect URIs (Intuit: the developer portal's Redirect URIs tab): the
   * authorize page refuses any other, exactly compared. Without them, any loopback http(s) URI
   * (localhost, 127.0.0.1, [::1]) counts as registered, so local tools work unconfigured.
   */
  readonly redirectUris?: readonly string[];
  /** Skip the consent page: /connect/oauth2 redirects at once to the first company. */
  readonly autoConsent?: boolean;
  /** Companies' IANA time zone. Default America/Toronto (loaded data: detected from its offsets). */
  readonly timeZone?: string;
  /** The clock for tokens, rate limits, timestamps and CDC. Default Date.now. */
  readonly now?: () => number;
  readonly accessTokenTtlSeconds?: number;
  readonly refreshTokenTtlSeconds?: number;
  readonly refreshGraceSeconds?: number;
  readonly refreshHardTtlSeconds?: number;
  readonly rateLimits?: { readonly enabled?: boolean; readonly perMinute?: number; readonly concurrent?: number };
  readonly cdc?: Partial<CdcOptions>;
  readonly query?: Partial<QueryOptions>;
  readonly webhooks?: {
    readonly url?: string;
    readonly format?: WebhookFormat;
    readonly retryDelaysMs?: readonly number[];
    readonly maxAttempts?: number;
    readonly aggregationMs?: number;
    readonly timeoutMs?: number;
  };
  /** Share of throttling (429) bodies sent as XML rather than JSON. Default 0.5. */
  readonly throttleXmlRate?: number;
  /**
   * Bytes of rendered record JSON kept per company so pages are joined from cached text
   * (dropped on every write to the record; oldest evicted first). Default 256 M; 0 turns it off.
   */
  readonly renderCacheBytes?: number;
  /**
   * After `startSimulator` listens, render the customers' and items' JSON into the cache in the
   * background (chunks between requests, up to half the cache budget), so even a page nobody has
   * read is joined from cached bytes. Default true; `new Simulator` alone never warms.
   */
  readonly warmCache?: boolean;
}

/** What kind of API request was counted (see Simulator.apiRequestCount). */
export type ApiRequestKind = 'query' | 'cdc' | 'read' | 'write' | 'other';

export interface CdcOptions {
  readonly lookbackDays: number;
  readonly maxObjects: number;
  /**
   * Where the 1000-object cap applies. Intuit: "A given CDC request returns a maximum of 1000
   * objects"; 'request' (default) caps the sum over entities, 'entity' caps each block. UNCONFIRMED.
   */
  readonly capScope: 'request' | 'entity';
  /**
   * A changedSince older than the look-back: 'reject' (default) answers 400 ValidationFault,
   * 'clamp' silently serves the last 30 days. UNCONFIRMED which one production does.
   */
  readonly outOfRange: 'reject' | 'clamp';
}

export interface FaultRates {
  /** Share of API requests answered 429 ThrottleExceeded. */
  readonly rate429?: number;
  /** Share answered 500 or 503 SystemFault. */
  readonly rate5xx?: number;
  /** Share delayed by slowMs before being served. */
  readonly rateSlow?: number;
  readonly slowMs?: number;
  /** Share whose connection is dropped without a response. */
  readonly rateDrop?: number;
}

/** A fault forced on the next matching API request(s). */
export interface ForcedFault {
  readonly kind: '429' | '5xx' | 'slow' | 'drop';
  readonly status?: number;
  readonly xml?: boolean;
  readonly slowMs?: number;
  readonly realmId?: string;
}

export type FaultDecision =
  | { readonly kind: 'none' }
  | { readonly kind: 'fault'; readonly fault: QboFault; readonly xml: boolean }
  | { readonly kind: 'slow'; readonly ms: number }
  | { readonly kind: 'drop' };

/** An admin call that cannot be done; answered with HTTP `status` and a one-line message. */
export class AdminError extends Error {
  override readonly name = 'AdminError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const DAY_MS = 86_400_000;

export class Simulator {
  readonly companies = new Map<string, Company>();
  readonly oauth: OAuthServer;
  readonly rateLimiter: RateLimiter;
  rateLimitsEnabled: boolean;
  readonly webhooks: WebhookSender;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly verifierToken: string;
  readonly autoConsent: boolean;
  /** Registered redirect URIs, or undefined when any loopback URI counts as registered. */
  readonly redirectUris: readonly string[] | undefined;
  readonly now: () => number;
  cdcOptions: CdcOptions;
  queryOptions: QueryOptions;
  throttleXmlRate: number;
  private faultRates = new Map<string, FaultRates>();
  private forced: ForcedFault[] = [];
  private readonly faultRng: Prng;
  private readonly editRng: Prng;
  /** API requests (`/v3/company/{realm}/…`) received per realm, by kind. */
  private readonly apiRequests = new Map<string, Record<ApiRequestKind, number>>();
  /** `requestid` → reply, per realm (idempotent writes). */
  private readonly requestIds = new Map<string, Map<string, { status: number; body: Json }>>();

  constructor(options: SimulatorOptions = {}) {
    const seed = options.seed ?? 1;
    this.now = options.now ?? Date.now;
    this.clientId = options.clientId ?? `ABsim${seedHex(seed, 1)}${seedHex(seed, 2)}`;
    this.clientSecret = options.clientSecret ?? `sim${seedHex(seed, 3)}${seedHex(seed, 4)}${seedHex(seed, 5)}`;
    this.verifierToken = options.verifierToken ?? `verifier-${randomBytes(12).toString('hex')}`;
    this.autoConsent = options.autoConsent ?? false;
    this.redirectUris = options.redirectUris ? [...options.redirectUris] : undefined;
    for (const uri of this.redirectUris ?? [])
      if (!isHttpUrl(uri)) throw new Error(`redirect URI ${uri} is not an absolute http(s) URL`);
    this.faultRng = new Prng(mixSeed(seed, 0xfa17));
    this.editRng = new Prng(mixSeed(seed, 0xed17));
    this.throttleXmlRate = options.throttleXmlRate ?? 0.5;
    this.oauth = new OAuthServer({
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      accessTokenTtlMs: (options.accessTokenTtlSeconds ?? 3600) * 1000,
      refreshTokenTtlMs: (options.refreshTokenTtlSeconds ?? 8_726_400) * 1000,
      refreshGraceMs: (options.refreshGraceSeconds ?? 86_400) * 1000,
      refreshHardTtlMs: (options.refreshHardTtlSeconds ?? 5 * 365 * 86_400) * 1000,
      now: this.now,
    });
    this.rateLimitsEnabled = options.rateLimits?.enabled ?? true;
    this.rateLimiter = new RateLimiter({
      perMinute: options.rateLimits?.perMinute ?? 500,
      concurrent: options.rateLimits?.concurrent ?? 10,
      now: this.now,
    });
    this.cdcOptions = { lookbackDays: 30, maxObjects: 1000, capScope: 'request', outOfRange: 'reject', ...options.cdc };
    this.queryOptions = {
      caseSensitiveEntities: false,
      defaultOrder: 'name',
      includeTotalCount: false,
      ...options.query,
    };
    this.webhooks = new WebhookSender(
      {
        url: options.webhooks?.url,
        verifierToken: this.verifierToken,
        format: options.webhooks?.format ?? 'cloudevents',
        retryDelaysMs: options.webhooks?.retryDelaysMs ?? INTUIT_RETRY_DELAYS_MS,
        maxAttempts: options.webhooks?.maxAttempts ?? 20,
        aggregationMs: options.webhooks?.aggregationMs ?? 0,
        timeoutMs: options.webhooks?.timeoutMs ?? 3000,
        maxEventsPerDelivery: 100,
      },
      this.clientId,
    );

    const timeZone = options.timeZone ?? 'America/Toronto';
    checkTimeZone(timeZone);
    const count = options.loaded ? Math.max(1, options.companies ?? 1) : (options.companies ?? 1);
    const realmIds = options.realmIds ?? [];
    for (let i = 0; i < count; i++) {
      const realmId =
        realmIds[i] ??
        `9341${String(mixSeed(seed, 100 + i) % 1e6).padStart(6, '0')}${String(mixSeed(seed, 200 + i) % 1e6).padStart(6, '0')}`;
      if (this.companies.has(realmId)) throw new Error(`realm id ${realmId} is given twice`);
      const loadedHere = i === 0 ? options.loaded : undefined;
      const zone = loadedHere ? detectTimeZone(loadedHere.times, options.timeZone ?? 'America/Los_Angeles') : timeZone;
      const company = new Company({
        realmId,
        name: loadedHere ? 'Loaded company' : `Simulated company ${i + 1}`,
        timeZone: zone,
        seed: mixSeed(seed, i),
        now: this.now,
        materialize: materializeTransaction,
        onChange: (event) => this.onChange(event),
        ...(options.renderCacheBytes !== undefined ? { renderCacheBytes: options.renderCacheBytes } : {}),
      });
      if (loadedHere) applyLoaded(company, loadedHere);
      else
        generateCompany(company, {
          seed: mixSeed(seed, i),
          customers: options.customers ?? 200,
          transactions: options.transactions ?? 1000,
          items: options.items ?? 40,
          now: this.now(),
        });
      prewarmIndexes(company, this.queryOptions);
      this.companies.set(realmId, company);
    }
  }

  get realmIds(): string[] {
    return [...this.companies.keys()];
  }

  private onChange(event: ChangeEvent): void {
    this.webhooks.enqueue(event);
  }

  company(realmId: string): Company {
    const company = this.companies.get(realmId);
    if (!company) throw faults.authorization(`No company with realm id ${realmId}`);
    return company;
  }

  /**
   * Whether the app registered this redirect URI. Intuit compares it with the registered ones
   * exactly; the default app (no `redirectUris`) registers every loopback http(s) URI.
   */
  isRegisteredRedirect(uri: string): boolean {
    if (this.redirectUris) return this.redirectUris.includes(uri);
    if (!isHttpUrl(uri)) return false;
    return ['localhost', '127.0.0.1', '[::1]'].includes(new URL(uri).hostname);
  }

  adminCompany(realmId: string): Company {
    const company = this.companies.get(realmId);
    if (!company) throw new AdminError(404, `no company with realm id ${realmId}; known: ${this.realmIds.join(', ')}`);
    return company;
  }

  /** The response `time` field: now, in the company's offset, with milliseconds. */
  time(company?: Company): string {
    return formatLocal(this.now(), company?.timeZone ?? 'America/Toronto', true);
  }

  // ---- API operations -------------------------------------------------------------------------

  /** Runs a query and shapes the QueryResponse (the parsed form of `queryText`). */
  query(realmId: string, statement: string): Json {
    return JSON.parse(this.queryBytes(realmId, statement).toString('utf8')) as Json;
  }

  /**
   * The QueryResponse as JSON text, as the HTTP API sends it: the same bytes as JSON.stringify of
   * `{QueryResponse: {Entity: [...records], startPosition, maxResults[, totalCount]}, time}`, with
   * each record's text taken from its cache rather than rendered and stringified again.
   */
  queryText(realmId: string, statement: string): string {
    return this.queryBytes(realmId, statement).toString('utf8');
  }

  /** `queryText` as the UTF-8 bytes the HTTP API sends, concatenated from each record's cached bytes. */
  queryBytes(realmId: string, statement: string): Buffer {
    const company = this.company(realmId);
    const result = runQuery(company, statement, this.queryOptions);
    const time = JSON.stringify(this.time(company));
    if (result.count) return Buffer.from(`{"QueryResponse":{"totalCount":${result.totalCount ?? 0}},"time":${time}}`);
    if (result.rows.length === 0) return Buffer.from(`{"QueryResponse":{},"time":${time}}`);
    const total = result.totalCount !== undefined ? `,"totalCount":${result.totalCount}` : '';
    return joinJson(
      `{"QueryResponse":{${JSON.stringify(result.entity)}:[`,
      result.rows.map((r) => company.renderBytes(r)),
      `],"startPosition":${result.startPosition},"maxResults":${result.rows.length}${total}},"time":${time}}`,
    );
  }

  /** GET /cdc: changes since a time, grouped by entity, deleted stubs last, capped silently. */
  cdc(realmId: string, entitiesParam: string | null, changedSinceParam: string | null): Json {
    return JSON.parse(this.cdcBytes(realmId, entitiesParam, changedSinceParam).toString('utf8')) as Json;
  }

  /** The CDC response as JSON text (records from their cached bytes). */
  cdcText(realmId: string, entitiesParam: string | null, changedSinceParam: string | null): string {
    return this.cdcBytes(realmId, entitiesParam, changedSinceParam).toString('utf8');
  }

  /** The CDC response as UTF-8 JSON. */
  cdcBytes(realmId: string, entitiesParam: string | null, changedSinceParam: string | null): Buffer {
    const company = this.company(realmId);
    if (!entitiesParam) throw faults.required('entities');
    if (!changedSinceParam) throw faults.required('changedSince');
    const entities: EntityName[] = [];
    for (const name of entitiesParam
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const entity = entityFromName(name);
      if (!entity)
        throw faults.invalid(
          `Entity ${name} is not supported by ChangeDataCapture in this simulator (supported: ${ENTITIES.join(', ')})`,
          'entities',
        );
      if (!entities.includes(entity)) entities.push(entity);
    }
    if (entities.length === 0) throw faults.required('entities');
    let since = parseQboDateTime(changedSinceParam, company.timeZone);
    if (since === undefined)
      throw faults.invalid(`changedSince ${changedSinceParam} is not a valid date or date-time`, 'changedSince');
    const oldest = this.now() - this.cdcOptions.lookbackDays * DAY_MS;
    if (since < oldest) {
      if (this.cdcOptions.outOfRange === 'reject')
        throw faults.invalid(
          `changedSince must be within the last ${this.cdcOptions.lookbackDays} days (look-back limit of ChangeDataCapture)`,
          'changedSince',
        );
      since = oldest;
    }
    let budget = this.cdcOptions.maxObjects;
    const blocks: Buffer[] = [];
    for (const entity of entities) {
      if (this.cdcOptions.capScope === 'entity') budget = this.cdcOptions.maxObjects;
      const byUpdated = company.tables[entity].view('updated', (r) => r.updated, ['updated']).rows;
      let lo = 0;
      let hi = byUpdated.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((byUpdated[mid] as Row).updated < since) lo = mid + 1;
        else hi = mid;
      }
      const objects: Buffer[] = [];
      for (let i = lo; i < byUpdated.length && budget > 0; i++, budget--)
        objects.push(company.renderBytes(byUpdated[i] as Row));
      const deleted = company.deleted.filter((d) => d.entity === entity && d.at >= since!).sort((a, b) => a.at - b.at);
      for (const d of deleted) {
        if (budget <= 0) break;
        budget--;
        objects.push(
          Buffer.from(
            JSON.stringify({
              status: 'Deleted',
              domain: 'QBO',
              Id: d.id,
              MetaData: { LastUpdatedTime: formatLocal(d.at, company.timeZone) },
            }),
          ),
        );
      }
      blocks.push(
        objects.length
          ? joinJson(`{${JSON.stringify(entity)}:[`, objects, `],"startPosition":1,"maxResults":${objects.length}}`)
          : Buffer.from('{}'),
      );
    }
    return joinJson('{"CDCResponse":[{"QueryResponse":[', blocks, `]}],"time":${JSON.stringify(this.time(company))}}`);
  }

  /** Counts an API request to a realm (the HTTP server calls this for every `/v3/company/{realm}/…`). */
  countApiRequest(realmId: string, kind: ApiRequestKind): void {
    this.lastApiRequestAt = performance.now();
    let counts = this.apiRequests.get(realmId);
    if (!counts) {
      counts = { query: 0, cdc: 0, read: 0, write: 0, other: 0 };
      this.apiRequests.set(realmId, counts);
    }
    counts[kind]++;
  }

  /**
   * API requests received for a realm since start (or the last reset), whatever their outcome
   * (401, 429 and injected faults included); OAuth and `/__sim/` calls are not counted.
   */
  apiRequestCount(realmId: string, kind?: ApiRequestKind): number {
    const counts = this.apiRequests.get(realmId);
    if (!counts) return 0;
    if (kind) return counts[kind];
    return counts.query + counts.cdc + counts.read + counts.write + counts.other;
  }

  /** Every realm's counts: `{realmId: {total, query, cdc, read, write, other}}`. */
  apiRequestCounts(): Record<string, Record<ApiRequestKind | 'total', number>> {
    const out: Record<string, Record<ApiRequestKind | 'total', number>> = {};
    for (const [realmId, counts] of this.apiRequests)
      out[realmId] = { total: this.apiRequestCount(realmId), ...counts };
    return out;
  }

  /** Sets a realm's counts (or every realm's) back to 0. */
  resetApiRequestCounts(realmId?: string): void {
    if (realmId === undefined) this.apiRequests.clear();
    else this.apiRequests.delete(realmId);
  }

  /** GET /{entity}/{id}. */
  read(realmId: string, entityName: string, id: string): Json {
    return JSON.parse(this.readBytes(realmId, entityName, id).toString('utf8')) as Json;
  }

  /** GET /{entity}/{id} as UTF-8 JSON. */
  readBytes(realmId: string, entityName: string, id: string): Buffer {
    const company = this.company(realmId);
    const entity = entityFromName(entityName);
    if (!entity) throw faults.routeNotFound(`GET /${entityName}`);
    const row = company.get(entity, id);
    if (!row) throw faults.notFound(entity, id);
    return joinJson(
      `{${JSON.stringify(entity)}:`,
      [company.renderBytes(row)],
      `,"time":${JSON.stringify(this.time(company))}}`,
    );
  }

  /** Remembers or replays the reply to a write carrying `requestid`. */
  idempotent(
    realmId: string,
    requestId: string | null,
    run: () => { status: number; body: Json },
  ): { status: number; body: Json } {
    if (!requestId) return run();
    let seen = this.requestIds.get(realmId);
    if (!seen) {
      seen = new Map();
      this.requestIds.set(realmId, seen);
    }
    const previous = seen.get(requestId);
    if (previous) return previous;
    try {
      const reply = run();
      seen.set(requestId, reply);
      return reply;
    } catch (err) {
      if (err instanceof QboFault) seen.set(requestId, { status: err.status, body: err.toJson(this.time()) });
      throw err;
    }
  }

  /** POST /customer: create without Id, update (sparse or full) with Id and SyncToken. */
  writeCustomer(realmId: string, input: unknown, operation: string | null): Json {
    const company = this.company(realmId);
    if (operation && operation !== 'update' && operation !== 'create')
      throw faults.unsupportedOperation(
        `Operation ${operation} is not supported for Customer: customers cannot be deleted, make them inactive with Active false`,
      );
    if (!isObject(input)) throw faults.badRequest('Request body must be a JSON object');
    checkDepth(input);
    const wrapped = isObject(input['Customer']) ? input['Customer'] : input;
    if (wrapped['Id'] === undefined || wrapped['Id'] === null || wrapped['Id'] === '')
      return this.createCustomer(company, wrapped);
    return this.updateCustomer(company, wrapped);
  }

  private createCustomer(company: Company, input: Json): Json {
    const checked = checkCustomerWrite(input, { mode: 'create' }, (name) => company.isNameTaken(name));
    const fields = checked.fields;
    const display = checked.display as string;
    const parent = fields['ParentRef'];
    if (parent !== undefined) this.checkParent(company, parent);
    const now = Math.floor(this.now() / 1000) * 1000;
    const id = company.allocateId('Customer');
    const body: Json = {
      Taxable: false,
      Job: parent !== undefined,
      BillWithParent: false,
      Balance: 0,
      BalanceWithJobs: 0,
      CurrencyRef: { value: 'CAD', name: 'Canadian Dollar' },
      PreferredDeliveryMethod: 'Print',
      IsProject: false,
      ClientEntityId: '0',
      ...fields,
    };
    if (parent !== undefined) body['Level'] = 1;
    if (typeof body['PrintOnCheckName'] !== 'string') body['PrintOnCheckName'] = display;
    const row: Row = {
      entity: 'Customer',
      id,
      idNum: Number(id),
      syncToken: 0,
      created: now,
      updated: now,
      active: checked.active !== false,
      name: display,
      body: stripEmpty(body),
    };
    company.insert(row);
    company.emit({ entity: 'Customer', id, operation: 'Create', at: now });
    return { Customer: company.render(row), time: this.time(company) };
  }

  private updateCustomer(company: Company, input: Json): Json {
    const id = String(input['Id']);
    const row = company.get('Customer', id);
    if (!row) throw faults.notFound('Customer', id);
    const sparse = input['sparse'] === true || input['sparse'] === 'true';
    const checked = checkCustomerWrite(
      input,
      { mode: 'update', syncToken: row.syncToken, name: row.name, sparse },
      (name) => company.isNameTaken(name, row.id),
    );
    this.applyCustomerChanges(company, row, checked, sparse);
    company.touch(row);
    return { Customer: company.render(row), time: this.time(company) };
  }

  /**
   * Stores a checked write. Sparse: given top-level fields replace the stored ones; nested objects
   * are replaced wholesale (UNCONFIRMED, Intuit's most plausible reading); null or "" clears.
   * Full: omitted fields are cleared.
   */
  private applyCustomerChanges(company: Company, row: Row, checked: CheckedCustomer, sparse: boolean): void {
    const body = company.body(row);
    const { fields, display } = checked;
    if (fields['ParentRef'] !== undefined && fields['ParentRef'] !== null)
      this.checkParent(company, fields['ParentRef'], row.id);
    if (sparse) {
      for (const [key, value] of Object.entries(fields)) {
        if (value === null || value === '') delete body[key];
        else body[key] = value;
      }
    } else {
      const kept: Json = {};
      for (const key of [
        'Balance',
        'BalanceWithJobs',
        'CurrencyRef',
        'V4IDPseudonym',
        'ClientEntityId',
        'IsProject',
        'MetaData',
        'Level',
      ]) {
        if (body[key] !== undefined) kept[key] = body[key];
      }
      row.body = stripEmpty({ ...kept, ...fields });
    }
    if (display !== undefined && display !== row.name) company.setCustomerName(row, display);
    if (checked.active !== undefined) row.active = checked.active;
  }

  private checkParent(company: Company, parent: unknown, selfId?: string): void {
    const value = isObject(parent) ? parent['value'] : undefined;
    if (typeof value !== 'string' || value === selfId || !company.get('Customer', value))
      throw faults.invalid(`ParentRef ${JSON.stringify(value)} does not reference an existing customer`, 'ParentRef');
  }

  // ---- Faults and limits --------------------------------------------------------------------

  setFaults(realmId: string | undefined, rates: FaultRates): void {
    for (const [key, value] of Object.entries(rates)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (key.startsWith('rate') && value > 1))
        throw new AdminError(
          400,
          `fault ${key} must be a number${key.startsWith('rate') ? ' between 0 and 1' : ' of milliseconds >= 0'}`,
        );
    }
    this.faultRates.set(realmId ?? '*', { ...rates });
  }

  forceFaults(list: readonly ForcedFault[]): void {
    this.forced.push(...list);
  }

  clearFaults(): void {
    this.faultRates.clear();
    this.forced = [];
  }

  get faultState(): { rates: Record<string, FaultRates>; forced: ForcedFault[] } {
    return { rates: Object.fromEntries(this.faultRates), forced: [...this.forced] };
  }

  /** Decides whether an API request for a realm meets an injected fault. */
  drawFault(realmId: string): FaultDecision {
    const index = this.forced.findIndex((f) => f.realmId === undefined || f.realmId === realmId);
    if (index >= 0) {
      const forced = this.forced.splice(index, 1)[0] as ForcedFault;
      return this.decision(forced.kind, forced.status, forced.xml, forced.slowMs);
    }
    const rates = this.faultRates.get(realmId) ?? this.faultRates.get('*');
    if (!rates) return { kind: 'none' };
    const r = this.faultRng.next();
    let edge = 0;
    for (const [kind, rate] of [
      ['429', rates.rate429],
      ['5xx', rates.rate5xx],
      ['drop', rates.rateDrop],
      ['slow', rates.rateSlow],
    ] as const) {
      edge += rate ?? 0;
      if (r < edge) return this.decision(kind, undefined, undefined, rates.slowMs);
    }
    return { kind: 'none' };
  }

  /** Whether a throttling reply goes out as XML (Intuit sends some 429 bodies as XML). */
  drawThrottleXml(): boolean {
    return this.faultRng.chance(this.throttleXmlRate);
  }

  private decision(kind: ForcedFault['kind'], status?: number, xml?: boolean, slowMs?: number): FaultDecision {
    switch (kind) {
      case '429':
        return { kind: 'fault', fault: faults.throttle(), xml: xml ?? this.faultRng.chance(this.throttleXmlRate) };
      case '5xx':
        return { kind: 'fault', fault: faults.server(status ?? this.faultRng.pick([500, 503])), xml: xml ?? false };
      case 'slow':
        return { kind: 'slow', ms: slowMs ?? 5000 };
      case 'drop':
        return { kind: 'drop' };
    }
  }

  // ---- Admin: what users do in QuickBooks ---------------------------------------------------

  /** A user edits a customer in QBO: fields change, SyncToken and LastUpdatedTime move on. */
  adminEditCustomer(realmId: string, id: string, patch: unknown): Json {
    const company = this.adminCompany(realmId);
    const row = company.get('Customer', id);
    if (!row) throw new AdminError(404, `customer ${id} not found in realm ${realmId}`);
    if (!isObject(patch) || Object.keys(patch).length === 0)
      throw new AdminError(
        400,
        'body must be a JSON object of Customer fields to change, e.g. {"PrimaryPhone":{"FreeFormNumber":"(514) 555-0101"}}',
      );
    try {
      const checked = checkCustomerWrite(patch, { mode: 'edit', name: row.name }, (name) =>
        company.isNameTaken(name, row.id),
      );
      this.applyCustomerChanges(company, row, checked, true);
    } catch (err) {
      // QuickBooks refuses a user's edit by the same rules as the API's; a body the API would call
      // malformed (2010, 2050) is the caller's mistake, a conflict with the data (6240) is 409.
      if (err instanceof QboFault) throw new AdminError(err.errors[0]?.code === '6240' ? 409 : 400, err.message);
      throw err;
    }
    company.touch(row);
    return company.render(row);
  }

  /** Makes a customer or item (category included) inactive, or active again. */
  adminSetActive(realmId: string, entityName: string, id: string, active: boolean): Json {
    const company = this.adminCompany(realmId);
    const entity = entityFromName(entityName);
    if (!entity || !NAME_LISTS.has(entity))
      throw new AdminError(400, `only Customer and Item can be made inactive, not ${entityName}`);
    const row = company.get(entity, id);
    if (!row) throw new AdminError(404, `${entity} ${id} not found in realm ${realmId}`);
    if (row.active !== active) {
      row.active = active;
      company.touch(row);
    }
    return company.render(row);
  }

  /** Hard-deletes a transaction, as a user deleting it in QBO. */
  adminDelete(realmId: string, entityName: string, id: string): void {
    const company = this.adminCompany(realmId);
    const entity = entityFromName(entityName);
    if (!entity) throw new AdminError(400, `unknown entity ${entityName}`);
    if (!TRANSACTIONS.has(entity))
      throw new AdminError(400, `${entity} cannot be deleted in QBO; make it inactive instead`);
    if (!company.deleteTransaction(entity, id))
      throw new AdminError(404, `${entity} ${id} not found in realm ${realmId}`);
  }

  /**
   * Merges customer `fromId` into `intoId` as QBO does: the merged-away customer becomes inactive
   * with balance 0, the survivor takes its balance, every transaction of it moves to the survivor
   * with a new SyncToken and LastUpdatedTime, and a Merge event (deletedId) is sent for the survivor.
   */
  adminMerge(realmId: string, fromId: string, intoId: string): { survivor: Json; moved: Record<string, string[]> } {
    const company = this.adminCompany(realmId);
    if (fromId === intoId) throw new AdminError(400, 'cannot merge a customer into itself');
    const from = company.get('Customer', fromId);
    const into = company.get('Customer', intoId);
    if (!from) throw new AdminError(404, `customer ${fromId} (from) not found in realm ${realmId}`);
    if (!into) throw new AdminError(404, `customer ${intoId} (into) not found in realm ${realmId}`);
    if (!from.active || !into.active) throw new AdminError(409, 'both customers must be active to merge');
    const hasChildren = company.tables.Customer.byId.some((r) => {
      const parent = r.body?.['ParentRef'];
      return isObject(parent) && parent['value'] === fromId;
    });
    if (hasChildren) throw new AdminError(409, `customer ${fromId} has sub-customers; QBO cannot merge it`);
    const moved: Record<string, string[]> = {};
    const at = this.now();
    for (const entity of TRANSACTIONS) {
      for (const row of company.tables[entity].byId) {
        if (row.customerId !== fromId) continue;
        if (row.body && isObject(row.body['CustomerRef'])) delete row.body['CustomerRef'];
        row.customerId = intoId;
        company.touch(row, 'Update', undefined, at);
        (moved[entity] ??= []).push(row.id);
      }
    }
    this.moveBalance(company, from, into);
    from.active = false;
    from.syncToken++;
    from.updated = Math.max(wholeSecond(at), from.updated);
    company.changed(from, ['updated']);
    company.touch(into, 'Merge', fromId, at);
    return { survivor: company.render(into), moved };
  }

  /**
   * The merged-away customer's balance goes to the survivor (Balance and BalanceWithJobs), and the
   * BalanceWithJobs of each parent above one but not the other moves with it; the merged-away one is left at 0.
   */
  private moveBalance(company: Company, from: Row, into: Row): void {
    const fromBody = company.body(from);
    const intoBody = company.body(into);
    const amount = numberOr0(fromBody['Balance']);
    const withJobs = numberOr0(fromBody['BalanceWithJobs']);
    intoBody['Balance'] = money(numberOr0(intoBody['Balance']) + amount);
    intoBody['BalanceWithJobs'] = money(numberOr0(intoBody['BalanceWithJobs']) + withJobs);
    fromBody['Balance'] = 0;
    fromBody['BalanceWithJobs'] = 0;
    const fromParents = this.parents(company, from);
    const intoParents = this.parents(company, into);
    for (const [parents, sign] of [
      [fromParents.filter((p) => !intoParents.includes(p)), -1],
      [intoParents.filter((p) => !fromParents.includes(p)), 1],
    ] as const) {
      for (const parent of parents) {
        const body = company.body(parent);
        body['BalanceWithJobs'] = money(numberOr0(body['BalanceWithJobs']) + sign * withJobs);
        company.changed(parent);
      }
    }
  }

  /** A customer's parent, grandparent and so on (QBO allows five levels). */
  private parents(company: Company, row: Row): Row[] {
    const out: Row[] = [];
    let current: Row | undefined = row;
    while (current && out.length < 5) {
      const ref: unknown = current.body?.['ParentRef'];
      const parentId = isObject(ref) && typeof ref['value'] === 'string' ? ref['value'] : undefined;
      current = parentId ? company.get('Customer', parentId) : undefined;
      if (current) out.push(current);
    }
    return out;
  }

  /**
   * Edits N random records (customers and transactions, or one entity) as a bulk import would. All
   * of them get the same LastUpdatedTime, the second the call started (`at` in the reply), however
   * long the edit takes: a burst of N records in one second.
   */
  adminBulkEdit(
    realmId: string,
    count: unknown,
    entityName?: unknown,
  ): { edited: { entity: EntityName; id: string }[]; at: string } {
    const company = this.adminCompany(realmId);
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 1_000_000)
      throw new AdminError(400, 'count must be an integer between 1 and 1000000');
    let entities: EntityName[];
    if (entityName === undefined) entities = ['Customer', 'Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt'];
    else {
      const entity = typeof entityName === 'string' ? entityFromName(entityName) : undefined;
      if (!entity) throw new AdminError(400, `entity must be one of ${ENTITIES.join(', ')}`);
      entities = [entity];
    }
    const pool = entities.flatMap((e) => company.tables[e].byId);
    if (pool.length === 0) throw new AdminError(409, 'no records to edit');
    const chosen = new Set<Row>();
    const wanted = Math.min(count, pool.length);
    while (chosen.size < wanted) chosen.add(pool[this.editRng.int(0, pool.length - 1)] as Row);
    const edited: { entity: EntityName; id: string }[] = [];
    const at = wholeSecond(this.now());
    for (const row of chosen) {
      const body = company.body(row);
      if (row.entity === 'Customer') body['Notes'] = `Mis à jour en lot / bulk update ${this.editRng.int(1, 1e6)}`;
      else if (row.entity === 'Item') body['Description'] = `${row.name} (révisé ${this.editRng.int(1, 1e6)})`;
      else body['PrivateNote'] = `Import en lot / bulk import ${this.editRng.int(1, 1e6)}`;
      company.touch(row, 'Update', undefined, at);
      edited.push({ entity: row.entity, id: row.id });
    }
    return { edited, at: formatLocal(at, company.timeZone) };
  }

  /**
   * Damages a record so that it no longer maps, as if QBO had stored bad data: `missing` removes a
   * required field, `wrongType` gives it the wrong JSON type, `oversized` makes it a string longer
   * than QBO allows, `nulByte` puts a NUL character in it. Like an edit, the SyncToken and LastUpdatedTime move on (and a webhook goes
   * out). The damage shows in every read, query, CDC and state until `adminRepair`.
   * Default fields: Customer `DisplayName` (with `CompanyName` when missing, so no name is left),
   * Item `Name`, transactions `CustomerRef` (`DocNumber` when oversized or nulByte).
   */
  adminCorrupt(
    realmId: string,
    entityName: string,
    id: string,
    kind: unknown,
    options: { field?: unknown; length?: unknown } = {},
  ): Json {
    const company = this.adminCompany(realmId);
    const entity = entityFromName(entityName) ?? entityFromName(entityName.replace(/s$/i, ''));
    if (!entity) throw new AdminError(400, `unknown entity ${entityName}; known: ${ENTITIES.join(', ')}`);
    if (typeof kind !== 'string' || !(DAMAGE_KINDS as readonly string[]).includes(kind))
      throw new AdminError(400, `kind must be one of ${DAMAGE_KINDS.join(', ')}`);
    const damageKind = kind as DamageKind;
    const row = company.get(entity, id);
    if (!row) throw new AdminError(404, `${entity} ${id} not found in realm ${realmId}`);
    let fields: string[];
    if (options.field !== undefined) {
      if (typeof options.field !== 'string' || !/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)?$/.test(options.field))
        throw new AdminError(400, 'field must be a property name, or Parent.child (e.g. "CustomerRef.value")');
      fields = [options.field];
    } else if (entity === 'Customer')
      fields = damageKind === 'missing' ? ['DisplayName', 'CompanyName'] : ['DisplayName'];
    else if (entity === 'Item') fields = ['Name'];
    else fields = damageKind === 'oversized' || damageKind === 'nulByte' ? ['DocNumber'] : ['CustomerRef'];
    let length = 5000;
    if (options.length !== undefined) {
      if (
        typeof options.length !== 'number' ||
        !Number.isInteger(options.length) ||
        options.length < 1 ||
        options.length > 10_000_000
      )
        throw new AdminError(400, 'length must be an integer between 1 and 10000000');
      length = options.length;
    }
    row.damage = { kind: damageKind, fields, length };
    company.touch(row);
    return company.render(row);
  }

  /** Removes the damage `adminCorrupt` made; SyncToken and LastUpdatedTime move on like an edit. */
  adminRepair(realmId: string, entityName: string, id: string): Json {
    const company = this.adminCompany(realmId);
    const entity = entityFromName(entityName) ?? entityFromName(entityName.replace(/s$/i, ''));
    if (!entity) throw new AdminError(400, `unknown entity ${entityName}; known: ${ENTITIES.join(', ')}`);
    const row = company.get(entity, id);
    if (!row) throw new AdminError(404, `${entity} ${id} not found in realm ${realmId}`);
    if (!row.damage) throw new AdminError(409, `${entity} ${id} is not damaged`);
    row.damage = undefined;
    company.touch(row);
    return company.render(row);
  }

  /** The company's full state: every record (inactive ones included) and every deleted stub. */
  adminState(realmId: string, entityFilter?: string | null): Json {
    const company = this.adminCompany(realmId);
    let entities: readonly EntityName[] = ENTITIES;
    if (entityFilter) {
      const list = entityFilter.split(',').map((e) => entityFromName(e.trim()));
      if (list.some((e) => e === undefined)) throw new AdminError(400, `entities must be among ${ENTITIES.join(', ')}`);
      entities = list as EntityName[];
    }
    const state: Json = {};
    for (const entity of entities) state[entity] = company.tables[entity].byId.map((r) => company.render(r));
    return {
      realmId,
      name: company.name,
      timeZone: company.timeZone,
      entities: state,
      deleted: company.deleted.map((d) => ({ entity: d.entity, id: d.id, at: formatLocal(d.at, company.timeZone) })),
      time: this.time(company),
    };
  }

  private warming: NodeJS.Immediate | NodeJS.Timeout | undefined;
  /** performance.now() of the last API request; the warm-up waits for a quiet moment after it. */
  private lastApiRequestAt = -Infinity;
  private readonly warmingDone = new Set<() => void>();
  private stopped = false;

  /**
   * Renders name-list records (Customer, then Item) of every company into the JSON cache, a few
   * milliseconds at a time, only while no API request has come for `quietMs`, so it never slows a
   * run of requests. Resolves when done, or at once when stopped.
   */
  warmCache(chunkMs = 4, quietMs = 25): Promise<void> {
    const queue: { company: Company; rows: readonly Row[] }[] = [];
    for (const company of this.companies.values())
      for (const entity of ['Customer', 'Item'] as const) queue.push({ company, rows: company.tables[entity].byId });
    let index = 0;
    return new Promise((done) => {
      const resolve = () => {
        this.warmingDone.delete(resolve);
        done();
      };
      this.warmingDone.add(resolve);
      if (this.stopped) return resolve();
      const step = () => {
        this.warming = undefined;
        if (this.stopped) return resolve();
        const quietFor = performance.now() - this.lastApiRequestAt;
        if (quietFor < quietMs) {
          this.warming = setTimeout(step, quietMs - quietFor + 1);
          return undefined;
        }
        const until = performance.now() + chunkMs;
        while (!this.stopped && queue.length > 0) {
          const { company, rows } = queue[0] as (typeof queue)[number];
          if (index >= rows.length || company.renderCacheSize * 2 > company.renderCacheLimit) {
            queue.shift();
            index = 0;
            continue;
          }
          company.renderBytes(rows[index++] as Row);
          if ((index & 63) === 0 && performance.now() > until) break;
        }
        if (this.stopped || queue.length === 0) resolve();
        else this.warming = setImmediate(step);
      };
      this.warming = setImmediate(step);
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.warming) {
      clearImmediate(this.warming as NodeJS.Immediate);
      clearTimeout(this.warming as NodeJS.Timeout);
    }
    this.warming = undefined;
    for (const resolve of [...this.warmingDone]) resolve();
    this.webhooks.stop();
  }
}

/** Drops empty strings, nulls and empty objects: QBO returns only properties that have values. */
function stripEmpty(body: Json): Json {
  for (const [key, value] of Object.entries(body)) {
    if (value === null || value === undefined || value === '' || (isObject(value) && Object.keys(value).length === 0))
      delete body[key];
  }
  return body;
}

const COMMA = Buffer.from(',');

/** `head` + the parts separated by commas + `tail`, as one Buffer (one copy of each part). */
function joinJson(head: string, parts: readonly Buffer[], tail: string): Buffer {
  const list: Buffer[] = [Buffer.from(head)];
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) list.push(COMMA);
    list.push(parts[i] as Buffer);
  }
  list.push(Buffer.from(tail));
  return Buffer.concat(list);
}

function numberOr0(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** An amount rounded to the cent, as QBO keeps money. */
function money(value: number): number {
  return Math.round(value * 100) / 100;
}

function isHttpUrl(text: string): boolean {
  return URL.canParse(text) && /^https?:$/.test(new URL(text).protocol);
}

function seedHex(seed: number, n: number): string {
  return mixSeed(seed, n).toString(16).padStart(8, '0');
}
