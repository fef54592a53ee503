/**
 * The simulator, independent of HTTP: its companies, OAuth, rate limits and webhooks, and one
 * method per operation, each done by the module of its concern: reads (query, CDC, read), writes
 * (customer create and update, after validation), fault injection, admin operations (what users do
 * in QuickBooks), the API request counter and cache warming.
 */
import { randomBytes } from 'node:crypto';
import * as admin from './admin.js';
import { AdminError } from './admin-error.js';
import { CacheWarmer } from './cache-warming.js';
import { FaultInjector, type FaultDecision, type FaultRates, type ForcedFault } from './fault-injection.js';
import { faults, QboFault } from './faults.js';
import { generateCompany, materializeTransaction } from './generator.js';
import { applyLoaded, detectTimeZone, type LoadedFiles } from './loader.js';
import { OAuthServer } from './oauth.js';
import { mixSeed, Prng } from './prng.js';
import { prewarmIndexes, type QueryOptions } from './query.js';
import { RateLimiter } from './rate-limiter.js';
import { cdcBytes, readBytes, queryBytes, type CdcOptions } from './reads.js';
import { ApiRequestCounter, type ApiRequestKind } from './request-counter.js';
import { Company, isObject, type ChangeEvent, type EntityName, type Json } from './store.js';
import { checkTimeZone, formatLocal } from './time.js';
import { INTUIT_RETRY_DELAYS_MS, WebhookSender, type WebhookFormat } from './webhooks.js';
import { checkDepth } from './validation.js';
import { IdempotentReplies, writeCustomer } from './writes.js';

export { AdminError } from './admin-error.js';
export type { FaultDecision, FaultRates, ForcedFault } from './fault-injection.js';
export type { CdcOptions } from './reads.js';
export type { ApiRequestKind } from './request-counter.js';

/** Everything the simulator can be told. All optional; defaults are QBO's own figures. */
/** Intuit's limit of operations in one batch request ([D-batch]; confirmed by test in the .NET SDK's issue 358). */
export const MAX_BATCH_ITEMS = 30;
/** Intuit's limit of batch requests a minute per realm, each also one of the 500 ([D-batch], qbo-api.md § 5). */
export const MAX_BATCHES_PER_MINUTE = 40;

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
   * Seconds a throttled request is told to wait, as a Retry-After header. Intuit is not known to
   * send one (shared/reference/qbo-api.md § 5, UNCONFIRMED), so by default none is sent and clients
   * wait their own default; tests set it to keep injected throttling short.
   */
  readonly throttleRetryAfterSeconds?: number;
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
  readonly rateLimits?: {
    readonly enabled?: boolean;
    readonly perMinute?: number;
    readonly concurrent?: number;
    readonly batchPerMinute?: number;
  };
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

export class Simulator {
  readonly companies = new Map<string, Company>();
  readonly oauth: OAuthServer;
  readonly rateLimiter: RateLimiter;
  rateLimitsEnabled: boolean;
  readonly webhooks: WebhookSender;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly verifierToken: string;
  readonly throttleRetryAfterSeconds: number | undefined;
  readonly autoConsent: boolean;
  /** Registered redirect URIs, or undefined when any loopback URI counts as registered. */
  readonly redirectUris: readonly string[] | undefined;
  readonly now: () => number;
  cdcOptions: CdcOptions;
  queryOptions: QueryOptions;
  private readonly faults: FaultInjector;
  private readonly editRng: Prng;
  private readonly requests = new ApiRequestCounter();
  private readonly replies = new IdempotentReplies();
  private readonly warmer = new CacheWarmer();

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
    this.faults = new FaultInjector(new Prng(mixSeed(seed, 0xfa17)), options.throttleXmlRate ?? 0.5);
    this.editRng = new Prng(mixSeed(seed, 0xed17));
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
    this.throttleRetryAfterSeconds = options.throttleRetryAfterSeconds;
    this.rateLimiter = new RateLimiter({
      perMinute: options.rateLimits?.perMinute ?? 500,
      concurrent: options.rateLimits?.concurrent ?? 10,
      batchPerMinute: options.rateLimits?.batchPerMinute ?? MAX_BATCHES_PER_MINUTE,
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

  // ---- API operations (reads.ts, writes.ts) ---------------------------------------------------

  /** Runs a query and shapes the QueryResponse (the parsed form of `queryText`). */
  query(realmId: string, statement: string): Json {
    return JSON.parse(this.queryBytes(realmId, statement).toString('utf8')) as Json;
  }

  /** The QueryResponse as the JSON text the HTTP API sends. */
  queryText(realmId: string, statement: string): string {
    return this.queryBytes(realmId, statement).toString('utf8');
  }

  /** `queryText` as the UTF-8 bytes the HTTP API sends, concatenated from each record's cached bytes. */
  queryBytes(realmId: string, statement: string): Buffer {
    const company = this.company(realmId);
    return queryBytes(company, statement, this.queryOptions, this.time(company));
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
    return cdcBytes(company, entitiesParam, changedSinceParam, this.cdcOptions, this.now(), this.time(company));
  }

  /** GET /{entity}/{id}. */
  read(realmId: string, entityName: string, id: string): Json {
    return JSON.parse(this.readBytes(realmId, entityName, id).toString('utf8')) as Json;
  }

  /** GET /{entity}/{id} as UTF-8 JSON. */
  readBytes(realmId: string, entityName: string, id: string): Buffer {
    const company = this.company(realmId);
    return readBytes(company, entityName, id, this.time(company));
  }

  /** Remembers or replays the reply to a write carrying `requestid`. */
  idempotent(
    realmId: string,
    requestId: string | null,
    run: () => { status: number; body: Json },
  ): { status: number; body: Json } {
    return this.replies.run(realmId, requestId, run, () => this.time());
  }

  /**
   * POST /batch: at most 30 operations in one request (Customer create and update, and queries),
   * each answered in its place with its entity, its query result or its own Fault. One request
   * against the 500 a minute, and one of the 40 batch requests a minute, as at Intuit
   * (shared/reference/qbo-api.md § 5, [D-batch]; the HTTP server applies the limits).
   */
  batch(realmId: string, input: unknown): Json {
    checkDepth(input);
    const items = isObject(input) ? input['BatchItemRequest'] : undefined;
    if (!Array.isArray(items) || items.length === 0)
      throw faults.badRequest('Request body must be {"BatchItemRequest": [...]} with at least one item');
    if (items.length > MAX_BATCH_ITEMS)
      throw faults.badRequest(`A batch request holds at most ${MAX_BATCH_ITEMS} items; this one has ${items.length}`);
    const answers = items.map((item: unknown) => {
      const bId = isObject(item) && typeof item['bId'] === 'string' ? item['bId'] : undefined;
      try {
        if (!isObject(item) || bId === undefined) throw faults.badRequest('Each batch item needs a bId string');
        if (typeof item['Query'] === 'string') {
          return { bId, QueryResponse: (this.query(realmId, item['Query']) as Json)['QueryResponse'] };
        }
        if (item['Customer'] === undefined)
          throw faults.unsupportedOperation('The simulator batches Customer create and update, and queries');
        const operation = typeof item['operation'] === 'string' ? item['operation'] : null;
        return { bId, Customer: (this.writeCustomer(realmId, item['Customer'], operation) as Json)['Customer'] };
      } catch (err) {
        if (!(err instanceof QboFault)) throw err;
        return { ...(bId !== undefined ? { bId } : {}), Fault: (err.toJson(this.time()) as Json)['Fault'] };
      }
    });
    return { BatchItemResponse: answers, time: this.time() };
  }

  /** POST /customer: create without Id, update (sparse or full) with Id and SyncToken. */
  writeCustomer(realmId: string, input: unknown, operation: string | null): Json {
    const company = this.company(realmId);
    return writeCustomer(company, input, operation, this.now(), this.time(company));
  }

  // ---- API request counter (request-counter.ts) ------------------------------------------------

  /** Counts an API request to a realm (the HTTP server calls this for every `/v3/company/{realm}/…`). */
  countApiRequest(realmId: string, kind: ApiRequestKind): void {
    this.warmer.noteRequest();
    this.requests.count(realmId, kind);
  }

  /**
   * API requests received for a realm since start (or the last reset), whatever their outcome
   * (401, 429 and injected faults included); OAuth and `/__sim/` calls are not counted.
   */
  apiRequestCount(realmId: string, kind?: ApiRequestKind): number {
    return this.requests.total(realmId, kind);
  }

  /** Every realm's counts: `{realmId: {total, query, cdc, read, write, other}}`. */
  apiRequestCounts(): Record<string, Record<ApiRequestKind | 'total', number>> {
    return this.requests.all();
  }

  /** Sets a realm's counts (or every realm's) back to 0. */
  resetApiRequestCounts(realmId?: string): void {
    this.requests.reset(realmId);
  }

  // ---- Fault injection (fault-injection.ts) ----------------------------------------------------

  /** Share of throttling (429) bodies sent as XML rather than JSON. */
  get throttleXmlRate(): number {
    return this.faults.throttleXmlRate;
  }

  set throttleXmlRate(rate: number) {
    this.faults.throttleXmlRate = rate;
  }

  setFaults(realmId: string | undefined, rates: FaultRates): void {
    this.faults.set(realmId, rates);
  }

  forceFaults(list: readonly ForcedFault[]): void {
    this.faults.force(list);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  get faultState(): { rates: Record<string, FaultRates>; forced: ForcedFault[] } {
    return this.faults.state;
  }

  /** Decides whether an API request for a realm meets an injected fault. */
  drawFault(realmId: string): FaultDecision {
    return this.faults.draw(realmId);
  }

  /** Whether a throttling reply goes out as XML (Intuit sends some 429 bodies as XML). */
  drawThrottleXml(): boolean {
    return this.faults.drawThrottleXml();
  }

  // ---- Admin: what users do in QuickBooks (admin.ts) ------------------------------------------

  /** A user edits a customer in QBO: fields change, SyncToken and LastUpdatedTime move on. */
  adminEditCustomer(realmId: string, id: string, patch: unknown): Json {
    return admin.editCustomer(this.adminCompany(realmId), id, patch);
  }

  /** Makes a customer or item (category included) inactive, or active again. */
  adminSetActive(realmId: string, entityName: string, id: string, active: boolean): Json {
    return admin.setActive(this.adminCompany(realmId), entityName, id, active);
  }

  /** Hard-deletes a transaction, as a user deleting it in QBO. */
  adminDelete(realmId: string, entityName: string, id: string): void {
    admin.deleteTransaction(this.adminCompany(realmId), entityName, id);
  }

  /** Merges customer `fromId` into `intoId` as QBO does (see admin.merge). */
  adminMerge(realmId: string, fromId: string, intoId: string): { survivor: Json; moved: Record<string, string[]> } {
    return admin.merge(this.adminCompany(realmId), fromId, intoId, this.now());
  }

  /** Edits N random records, all stamped with the second the call started (see admin.bulkEdit). */
  adminBulkEdit(
    realmId: string,
    count: unknown,
    entityName?: unknown,
  ): { edited: { entity: EntityName; id: string }[]; at: string } {
    return admin.bulkEdit(this.adminCompany(realmId), count, entityName, this.editRng, this.now());
  }

  /** Damages a record so that it no longer maps, until `adminRepair` (see admin.corrupt). */
  adminCorrupt(
    realmId: string,
    entityName: string,
    id: string,
    kind: unknown,
    options: { field?: unknown; length?: unknown } = {},
  ): Json {
    return admin.corrupt(this.adminCompany(realmId), entityName, id, kind, options);
  }

  /** Removes the damage `adminCorrupt` made; SyncToken and LastUpdatedTime move on like an edit. */
  adminRepair(realmId: string, entityName: string, id: string): Json {
    return admin.repair(this.adminCompany(realmId), entityName, id);
  }

  /** The company's full state: every record (inactive ones included) and every deleted stub. */
  adminState(realmId: string, entityFilter?: string | null): Json {
    const company = this.adminCompany(realmId);
    return admin.state(company, entityFilter, this.time(company));
  }

  // ---- Cache warming (cache-warming.ts) --------------------------------------------------------

  /**
   * Renders name-list records (Customer, then Item) of every company into the JSON cache, a few
   * milliseconds at a time, only while no API request has come for `quietMs`. Resolves when done,
   * or at once when stopped.
   */
  warmCache(chunkMs = 4, quietMs = 25): Promise<void> {
    return this.warmer.warm(this.companies.values(), chunkMs, quietMs);
  }

  stop(): void {
    this.warmer.stop();
    this.webhooks.stop();
  }
}

function isHttpUrl(text: string): boolean {
  return URL.canParse(text) && /^https?:$/.test(new URL(text).protocol);
}

function seedHex(seed: number, n: number): string {
  return mixSeed(seed, n).toString(16).padStart(8, '0');
}
