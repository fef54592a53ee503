/**
 * The HTTP face of the simulator, on Node's http module: Intuit's OAuth paths, the QBO v3 API
 * under /v3/company/{realmId}/, and the admin API under /__sim/. Nothing a client sends can crash
 * it: every handler's errors become a QBO fault, an OAuth error or an admin error.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { faults, QboFault } from './faults.js';
import { AdminError, type ApiRequestKind, type ForcedFault, type FaultRates, type Simulator } from './simulator.js';
import { entityFromName, isObject, type Json } from './store.js';
import { MAX_BODY_BYTES } from './validation.js';
import type { WebhookFormat } from './webhooks.js';

class BodyTooLarge extends Error {}

/**
 * Reads the body, keeping at most MAX_BODY_BYTES. A larger body is drained to its end rather than
 * cut off, so the client gets the 400 instead of a reset connection.
 */
function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(new BodyTooLarge(`Request body is larger than ${MAX_BODY_BYTES} bytes`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

interface Reply {
  status: number;
  body: string | Buffer;
  contentType: string;
  headers?: Record<string, string>;
}

const json = (status: number, body: unknown, headers?: Record<string, string>): Reply => ({
  status,
  body: JSON.stringify(body),
  contentType: 'application/json;charset=UTF-8',
  ...(headers ? { headers } : {}),
});

/** A JSON reply whose body is already UTF-8 JSON. */
const jsonBytes = (status: number, body: Buffer): Reply => ({
  status,
  body,
  contentType: 'application/json;charset=UTF-8',
});

/** What an API path does, for the per-realm request counter. */
function requestKind(method: string, rest: string): ApiRequestKind {
  const segments = rest.split('/').filter(Boolean);
  if (segments[0] === 'query' && segments.length === 1) return 'query';
  if (segments[0] === 'cdc' && segments.length === 1) return 'cdc';
  if (method === 'GET' && segments.length === 2) return 'read';
  if (method === 'POST' && segments.length === 1) return 'write';
  return 'other';
}

/** POST /batch, which QBO limits to 40 a minute per realm on top of the 500. */
function isBatch(method: string, rest: string): boolean {
  return method === 'POST' && rest.split('/').filter(Boolean).join('/') === 'batch';
}

/** Creates the request handler for a simulator; `baseUrl()` is known once listening. */
export function createHandler(sim: Simulator, baseUrl: () => string): http.RequestListener {
  return (req, res) => {
    void handle(sim, baseUrl, req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        // Not an injected fault: say so, so nobody mistakes a simulator bug for a scripted outage.
        const reply = json(500, faults.internal(err instanceof Error ? err.message : String(err)).toJson(sim.time()));
        res.writeHead(reply.status, { 'content-type': reply.contentType });
        res.end(reply.body);
      } else res.destroy();
    });
  };
}

async function handle(
  sim: Simulator,
  baseUrl: () => string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sim.invalid');
  const method = req.method ?? 'GET';
  const path = url.pathname.replace(/\/+$/, '') || '/';
  let release: (() => void) | undefined;
  const send = (reply: Reply) => {
    release?.();
    if (res.destroyed) return;
    res.writeHead(reply.status, {
      'content-type': reply.contentType,
      intuit_tid: randomUUID(),
      ...reply.headers,
    });
    res.end(reply.body);
  };
  try {
    if (path.startsWith('/__sim')) return send(await admin(sim, baseUrl, method, path, url, req));
    if (path === '/connect/oauth2' || path === '/connect/oauth2/consent')
      return send(await authorize(sim, method, url, req));
    if (path === '/oauth2/v1/tokens/bearer') return send(await tokenEndpoint(sim, method, req));
    if (path === '/oauth2/v1/tokens/revoke' || path === '/v2/oauth2/tokens/revoke')
      return send(await revokeEndpoint(sim, method, req));
    const api = /^\/v3\/company\/([^/]+)(\/.*)?$/.exec(path);
    if (api) {
      const rest = api[2] ?? '/';
      let realmId = api[1] as string;
      try {
        realmId = decodeURIComponent(realmId);
      } catch {
        // counted and answered below under the raw segment
      }
      sim.countApiRequest(realmId, requestKind(method, rest));
      try {
        sim.company(realmId);
        sim.oauth.authenticate(req.headers.authorization, realmId);
        if (sim.rateLimitsEnabled) {
          release = sim.rateLimiter.acquire(realmId, isBatch(method, rest) ? 'batch' : 'single');
          if (!release) {
            const xml = sim.drawThrottleXml();
            return send(faultReply(sim, faults.throttle(), xml));
          }
        }
        const decision = sim.drawFault(realmId);
        if (decision.kind === 'drop') {
          release?.();
          req.socket.destroy();
          return undefined;
        }
        if (decision.kind === 'fault') return send(faultReply(sim, decision.fault, decision.xml));
        if (decision.kind === 'slow') await sleep(decision.ms);
        return send(await apiRoute(sim, realmId, method, rest, url, req));
      } catch (err) {
        if (err instanceof QboFault) return send(faultReply(sim, err, err.status === 401 && asksForXml(req)));
        if (err instanceof BodyTooLarge) return send(faultReply(sim, faults.badRequest(err.message), false));
        throw err;
      }
    }
    if (path === '/' && method === 'GET') return send(json(200, info(sim, baseUrl())));
    return send(faultReply(sim, faults.routeNotFound(`${method} ${path}`), false));
  } finally {
    release?.();
  }
}

function faultReply(sim: Simulator, fault: QboFault, xml: boolean): Reply {
  const time = sim.time();
  const wait = fault.status === 429 ? sim.throttleRetryAfterSeconds : undefined;
  const headers = wait === undefined ? undefined : { 'retry-after': String(wait) };
  return xml
    ? { status: fault.status, body: fault.toXml(time), contentType: 'application/xml', ...(headers ? { headers } : {}) }
    : json(fault.status, fault.toJson(time), headers);
}

/**
 * Whether the client asked for XML rather than JSON. Only authentication failures honour it: they
 * come from Intuit's gateway, which answers in the format asked for; the simulator's other replies
 * are JSON (what every client of the v3 JSON API asks for).
 */
function asksForXml(req: http.IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return /\bxml\b/i.test(accept) && !/\bjson\b/i.test(accept);
}

function parseJsonBody(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw faults.badRequest('Request body is not valid JSON');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function info(sim: Simulator, baseUrl: string): Json {
  return {
    baseUrl,
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    verifierToken: sim.verifierToken,
    realmIds: sim.realmIds,
  };
}

// ---- QBO API ------------------------------------------------------------------------------------

async function apiRoute(
  sim: Simulator,
  realmId: string,
  method: string,
  rest: string,
  url: URL,
  req: http.IncomingMessage,
): Promise<Reply> {
  const segments = rest.split('/').filter(Boolean).map(decodeURIComponent);
  const [first, second, third] = segments;
  if (first === 'query' && segments.length === 1) {
    let statement = url.searchParams.get('query');
    if (method === 'POST') {
      const body = await readBody(req);
      if (!statement) statement = body;
    } else if (method !== 'GET') throw faults.routeNotFound(`${method} query`);
    if (!statement || !statement.trim())
      throw faults.parse('Encountered "<EOF>" at line 1, column 1.\nWas expecting: "SELECT"');
    return jsonBytes(200, sim.queryBytes(realmId, statement));
  }
  if (first === 'cdc' && segments.length === 1) {
    if (method !== 'GET') throw faults.routeNotFound(`${method} cdc`);
    return jsonBytes(
      200,
      sim.cdcBytes(realmId, url.searchParams.get('entities'), url.searchParams.get('changedSince')),
    );
  }
  if (first && segments.length === 2 && method === 'GET' && second)
    return jsonBytes(200, sim.readBytes(realmId, first, second));
  if (first === 'batch' && segments.length === 1) {
    if (method !== 'POST') throw faults.routeNotFound(`${method} batch`);
    const raw = await readBody(req);
    const reply = sim.idempotent(realmId, url.searchParams.get('requestid'), () => {
      return { status: 200, body: sim.batch(realmId, parseJsonBody(raw)) };
    });
    return json(reply.status, reply.body);
  }
  if (first && segments.length === 1 && method === 'POST') {
    const entity = entityFromName(first);
    if (!entity) throw faults.routeNotFound(`POST /${first}`);
    const raw = await readBody(req);
    const requestId = url.searchParams.get('requestid');
    const operation = url.searchParams.get('operation');
    const reply = sim.idempotent(realmId, requestId, () => {
      if (entity !== 'Customer')
        throw faults.unsupportedOperation(
          `The simulator serves ${entity} read-only; only Customer supports create and update`,
        );
      return { status: 200, body: sim.writeCustomer(realmId, parseJsonBody(raw), operation) };
    });
    return json(reply.status, reply.body);
  }
  void third;
  throw faults.routeNotFound(`${method} /v3/company/${realmId}${rest}`);
}

// ---- OAuth --------------------------------------------------------------------------------------

async function authorize(sim: Simulator, method: string, url: URL, req: http.IncomingMessage): Promise<Reply> {
  let params = url.searchParams;
  if (method === 'POST') params = new URLSearchParams(await readBody(req));
  const clientId = params.get('client_id');
  const redirectUri = params.get('redirect_uri');
  const state = params.get('state');
  if (clientId !== sim.clientId)
    return html(
      400,
      'Invalid client_id',
      `The client id ${escapeHtml(clientId ?? '(missing)')} is not known to this simulator.`,
    );
  // Intuit redirects only to registered URIs; an unregistered one gets an error page, never a redirect.
  if (!redirectUri || !sim.isRegisteredRedirect(redirectUri))
    return html(
      400,
      'Invalid redirect_uri',
      `The redirect_uri ${escapeHtml(redirectUri ?? '(missing)')} is not registered for this app. Registered: ${escapeHtml(
        sim.redirectUris?.join(', ') ??
          'any loopback http(s) URI (the default app; start with redirectUris to set them)',
      )}.`,
    );
  // Intuit requires state (it is the client's CSRF defence); answering without it would hand back `state=`.
  if (!state) return html(400, 'Invalid state', 'state is required.');
  if (method === 'GET' && params.get('response_type') !== 'code')
    return html(400, 'Invalid response_type', 'response_type must be "code".');
  if (method === 'GET' && !(params.get('scope') ?? '').includes('com.intuit.quickbooks.accounting'))
    return html(400, 'Invalid scope', 'scope must include com.intuit.quickbooks.accounting.');
  const target = new URL(redirectUri);
  const redirect = (extra: Record<string, string>): Reply => {
    for (const [k, v] of Object.entries(extra)) target.searchParams.set(k, v);
    return { status: 302, body: '', contentType: 'text/plain', headers: { location: target.toString() } };
  };
  const realmHint = params.get('realmId');
  if (method === 'GET' && sim.autoConsent) {
    const realmId = realmHint && sim.companies.has(realmHint) ? realmHint : (sim.realmIds[0] as string);
    return redirect({ code: sim.oauth.issueCode(realmId, redirectUri, clientId), state, realmId });
  }
  if (method === 'POST') {
    if (params.get('action') !== 'connect') return redirect({ error: 'access_denied', state });
    const realmId = params.get('realmId') ?? '';
    if (!sim.companies.has(realmId)) return html(400, 'Unknown company', `No company ${escapeHtml(realmId)}.`);
    return redirect({ code: sim.oauth.issueCode(realmId, redirectUri, clientId), state, realmId });
  }
  const options = sim.realmIds
    .map(
      (id, i) =>
        `<label><input type="radio" name="realmId" value="${escapeHtml(id)}"${i === 0 ? ' checked' : ''}> ${escapeHtml(sim.companies.get(id)?.name ?? id)} (${escapeHtml(id)})</label><br>`,
    )
    .join('');
  const hidden = ['client_id', 'redirect_uri', 'state', 'scope']
    .map((k) => `<input type="hidden" name="${k}" value="${escapeHtml(params.get(k) ?? '')}">`)
    .join('');
  return html(
    200,
    'Connect to QuickBooks (simulator)',
    `<form method="post" action="/connect/oauth2/consent">${hidden}<p>The app wants access to your QuickBooks company data.</p>${options}<p><button type="submit" name="action" value="connect">Connect</button> <button type="submit" name="action" value="cancel">Cancel</button></p></form>`,
  );
}

function html(status: number, title: string, content: string): Reply {
  return {
    status,
    contentType: 'text/html; charset=utf-8',
    body: `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${content}</body></html>`,
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function tokenEndpoint(sim: Simulator, method: string, req: http.IncomingMessage): Promise<Reply> {
  if (method !== 'POST') return json(405, { error: 'invalid_request', error_description: 'use POST' });
  const raw = await readBody(req);
  if (!sim.oauth.checkClient(req.headers.authorization))
    return json(401, { error: 'invalid_client', error_description: 'HTTP Basic client authentication failed' });
  const params = parseForm(raw, req.headers['content-type']);
  if (!params)
    return json(400, { error: 'invalid_request', error_description: 'body must be application/x-www-form-urlencoded' });
  const hard = String(req.headers['x-include-refresh-token-hard-expires-in'] ?? '') === 'true';
  const reply = sim.oauth.token(params, hard);
  return json(reply.status, reply.body, { 'cache-control': 'no-store' });
}

async function revokeEndpoint(sim: Simulator, method: string, req: http.IncomingMessage): Promise<Reply> {
  if (method !== 'POST') return json(405, { error: 'invalid_request', error_description: 'use POST' });
  const raw = await readBody(req);
  if (!sim.oauth.checkClient(req.headers.authorization))
    return json(401, { error: 'invalid_client', error_description: 'HTTP Basic client authentication failed' });
  let token: string | undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (isObject(parsed) && typeof parsed['token'] === 'string') token = parsed['token'];
  } catch {
    token = new URLSearchParams(raw).get('token') ?? undefined;
  }
  if (!token)
    return json(400, {
      error: 'invalid_request',
      error_description: 'body must be {"token": "<access or refresh token>"}',
    });
  // RFC 7009: an unknown token is not an error.
  sim.oauth.revoke(token);
  return { status: 200, body: '', contentType: 'application/json' };
}

function parseForm(raw: string, contentType: string | undefined): URLSearchParams | undefined {
  if (contentType?.includes('application/json')) {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (!isObject(parsed)) return undefined;
      return new URLSearchParams(Object.entries(parsed).map(([k, v]): [string, string] => [k, String(v)]));
    } catch {
      return undefined;
    }
  }
  return new URLSearchParams(raw);
}

// ---- Admin API ----------------------------------------------------------------------------------

async function admin(
  sim: Simulator,
  baseUrl: () => string,
  method: string,
  path: string,
  url: URL,
  req: http.IncomingMessage,
): Promise<Reply> {
  try {
    const raw = method === 'GET' || method === 'DELETE' ? '' : await readBody(req);
    let body: unknown = {};
    if (raw.trim()) {
      try {
        body = JSON.parse(raw);
      } catch {
        throw new AdminError(400, 'request body is not valid JSON');
      }
    }
    const obj = isObject(body) ? body : undefined;
    const need = () => {
      if (!obj) throw new AdminError(400, 'request body must be a JSON object');
      return obj;
    };
    const segments = path.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
    const route = `${method} ${segments.map((s, i) => (segments[0] === 'companies' && (i === 1 || i === 3) ? ':' : s)).join('/')}`;
    const realmId = segments[1] ?? '';
    switch (route) {
      case 'GET ':
      case 'GET info':
        return json(200, info(sim, baseUrl()));
      case 'GET companies/:/state':
        return json(200, sim.adminState(realmId, url.searchParams.get('entities')));
      case 'POST companies/:/merge': {
        const b = need();
        const fromId = b['fromId'];
        const intoId = b['intoId'];
        if (typeof fromId !== 'string' || typeof intoId !== 'string')
          throw new AdminError(
            400,
            'body must be {"fromId": "<customer merged away>", "intoId": "<surviving customer>"}',
          );
        return json(200, sim.adminMerge(realmId, fromId, intoId));
      }
      case 'POST companies/:/bulk-edit': {
        const b = need();
        return json(200, sim.adminBulkEdit(realmId, b['count'], b['entity']));
      }
      case 'GET requests':
        return json(200, sim.apiRequestCounts());
      case 'DELETE requests':
        sim.resetApiRequestCounts();
        return json(200, sim.apiRequestCounts());
      case 'GET companies/:/requests':
      case 'DELETE companies/:/requests': {
        sim.adminCompany(realmId);
        if (method === 'DELETE') sim.resetApiRequestCounts(realmId);
        const counts = sim.apiRequestCounts()[realmId] ?? { total: 0, query: 0, cdc: 0, read: 0, write: 0, other: 0 };
        return json(200, { realmId, ...counts });
      }
      case 'GET faults':
        return json(200, sim.faultState);
      case 'PUT faults': {
        const b = need();
        const { realmId: faultRealm, ...rates } = b;
        if (faultRealm !== undefined && typeof faultRealm !== 'string')
          throw new AdminError(400, 'realmId must be a string');
        const allowed = ['rate429', 'rate5xx', 'rateSlow', 'slowMs', 'rateDrop'];
        const unknown = Object.keys(rates).filter((k) => !allowed.includes(k));
        if (unknown.length)
          throw new AdminError(400, `unknown fault setting ${unknown.join(', ')}; known: ${allowed.join(', ')}`);
        sim.setFaults(faultRealm, rates as FaultRates);
        return json(200, sim.faultState);
      }
      case 'POST faults/next': {
        const list = need()['faults'];
        if (
          !Array.isArray(list) ||
          list.some((f) => !isObject(f) || !['429', '5xx', 'slow', 'drop'].includes(String(f['kind'])))
        )
          throw new AdminError(
            400,
            'body must be {"faults": [{"kind": "429"|"5xx"|"slow"|"drop", "xml"?: boolean, "status"?: number, "slowMs"?: number, "realmId"?: string}]}',
          );
        sim.forceFaults(list.map((f) => ({ ...(f as object), kind: String((f as Json)['kind']) }) as ForcedFault));
        return json(200, sim.faultState);
      }
      case 'DELETE faults':
        sim.clearFaults();
        return json(200, sim.faultState);
      case 'POST tokens/expire': {
        const r = obj?.['realmId'];
        if (r !== undefined && typeof r !== 'string') throw new AdminError(400, 'realmId must be a string');
        return json(200, { expired: sim.oauth.expireAccessTokens(r) });
      }
      case 'GET rate-limits':
        return json(200, { enabled: sim.rateLimitsEnabled, ...sim.rateLimiter.limits });
      case 'PUT rate-limits': {
        const b = need();
        if (b['enabled'] !== undefined && typeof b['enabled'] !== 'boolean')
          throw new AdminError(400, 'enabled must be true or false');
        for (const key of ['perMinute', 'concurrent', 'batchPerMinute']) {
          const v = b[key];
          if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1))
            throw new AdminError(400, `${key} must be a positive integer`);
        }
        if (typeof b['enabled'] === 'boolean') sim.rateLimitsEnabled = b['enabled'];
        sim.rateLimiter.configure({
          ...(typeof b['perMinute'] === 'number' ? { perMinute: b['perMinute'] } : {}),
          ...(typeof b['concurrent'] === 'number' ? { concurrent: b['concurrent'] } : {}),
          ...(typeof b['batchPerMinute'] === 'number' ? { batchPerMinute: b['batchPerMinute'] } : {}),
        });
        return json(200, { enabled: sim.rateLimitsEnabled, ...sim.rateLimiter.limits });
      }
      case 'GET webhooks':
        return json(200, { config: publicWebhookConfig(sim), deliveries: sim.webhooks.deliveries });
      case 'PUT webhooks': {
        const b = need();
        const changes: Record<string, unknown> = {};
        if (b['url'] !== undefined) {
          if (b['url'] !== null && (typeof b['url'] !== 'string' || !/^https?:\/\//.test(b['url'])))
            throw new AdminError(400, 'url must be an http(s) URL or null');
          changes['url'] = b['url'] ?? undefined;
        }
        if (b['format'] !== undefined) {
          if (b['format'] !== 'legacy' && b['format'] !== 'cloudevents')
            throw new AdminError(400, 'format must be "legacy" or "cloudevents"');
          changes['format'] = b['format'] as WebhookFormat;
        }
        if (b['retryDelaysMs'] !== undefined) {
          const d = b['retryDelaysMs'];
          if (!Array.isArray(d) || d.length === 0 || d.some((x) => typeof x !== 'number' || x < 0))
            throw new AdminError(400, 'retryDelaysMs must be a non-empty array of milliseconds');
          changes['retryDelaysMs'] = d;
        }
        for (const key of ['maxAttempts', 'aggregationMs', 'timeoutMs']) {
          const v = b[key];
          if (v === undefined) continue;
          if (typeof v !== 'number' || !Number.isInteger(v) || v < (key === 'maxAttempts' ? 1 : 0))
            throw new AdminError(400, `${key} must be a non-negative integer`);
          changes[key] = v;
        }
        sim.webhooks.configure(changes);
        return json(200, { config: publicWebhookConfig(sim) });
      }
      default:
        break;
    }
    // Record-level routes: /__sim/companies/{realmId}/{entity}/{id}[/activate|/deactivate]
    if (segments[0] === 'companies' && segments.length >= 4) {
      const entityText = segments[2] as string;
      const entity = entityFromName(entityText) ?? entityFromName(entityText.replace(/s$/, ''));
      if (!entity) throw new AdminError(404, `unknown entity ${entityText}`);
      const id = segments[3] as string;
      const action = segments[4];
      if (segments.length === 5 && method === 'POST' && (action === 'deactivate' || action === 'activate'))
        return json(200, sim.adminSetActive(realmId, entity, id, action === 'activate'));
      if (segments.length === 5 && method === 'POST' && action === 'corrupt') {
        const b = need();
        return json(200, sim.adminCorrupt(realmId, entity, id, b['kind'], { field: b['field'], length: b['length'] }));
      }
      if (segments.length === 5 && method === 'POST' && action === 'repair')
        return json(200, sim.adminRepair(realmId, entity, id));
      if (segments.length === 4 && method === 'DELETE') {
        sim.adminDelete(realmId, entity, id);
        return json(200, { deleted: { entity, id } });
      }
      if (segments.length === 4 && (method === 'PATCH' || method === 'POST')) {
        if (entity !== 'Customer')
          throw new AdminError(400, `only customers can be edited through the admin API, not ${entity}`);
        return json(200, sim.adminEditCustomer(realmId, id, body));
      }
    }
    throw new AdminError(404, `no admin route ${method} ${path}; see sandbox/README.md`);
  } catch (err) {
    if (err instanceof AdminError) return json(err.status, { error: err.message });
    if (err instanceof BodyTooLarge) return json(413, { error: err.message });
    throw err;
  }
}

function publicWebhookConfig(sim: Simulator): Json {
  const { url, format, retryDelaysMs, maxAttempts, aggregationMs, timeoutMs } = sim.webhooks.config;
  return {
    url: url ?? null,
    format,
    retryDelaysMs,
    maxAttempts,
    aggregationMs,
    timeoutMs,
    verifierToken: sim.verifierToken,
  };
}

export interface Listening {
  readonly server: http.Server;
  readonly baseUrl: string;
  close(): Promise<void>;
}

/** Starts the HTTP server for a simulator. */
export function listen(sim: Simulator, port: number, host: string): Promise<Listening> {
  let baseUrl = '';
  const server = http.createServer(createHandler(sim, () => baseUrl));
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
      baseUrl = `http://${shownHost}:${address.port}`;
      resolve({
        server,
        baseUrl,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
