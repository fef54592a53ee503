import { createHash, createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { isIPv4, type AddressInfo } from 'node:net';
import {
  authorizeUrl,
  readConnection,
  RealmAlreadyConnectedError,
  RealmChangeRefusedError,
} from '../../activities/qbo/qbo-auth.js';
import { QboError } from '../../activities/qbo/qbo-errors.js';
import { OperatorError } from '../../common/errors.js';
import { ConfigError, type ServeAuth } from '../../worker/config.js';
import { errorPage, layout, previewPage, statusFragment, statusPage, tenantPage, tenantPickerPage } from './page.js';
import {
  applyModeToRunningSync,
  completeCallback,
  ensureTenant,
  previewTenant,
  readTenant,
  requireConnection,
  resumeAfterReconnect,
  sameText,
  saveSettings,
  issueState,
  startTenantSync,
  tenantSyncStatus,
  type OnboardingDeps,
} from './service.js';
import {
  isoDay,
  OnboardingInputError,
  parseLanguage,
  parseMode,
  parseStartDate,
  parseTenantId,
  type Language,
} from './inputs.js';

/**
 * `qbsync serve`: the onboarding page and the OAuth callback (the webhook endpoint will join them).
 *
 *   GET  /                                 pick a tenant
 *   GET  /onboarding/:tenant               step 1 (connect) and step 2 (settings)
 *   POST /onboarding/:tenant/connect       → Intuit's authorize page
 *   GET  /oauth/callback                   stores the tokens → back to the tenant's page
 *   POST /onboarding/:tenant/settings      stores start date and languages → preview
 *   GET  /onboarding/:tenant/preview       step 3: counts and likely duplicates
 *   POST /onboarding/:tenant/start         starts the workflow (idempotent) → status
 *   GET  /onboarding/:tenant/status        step 4: the workflow's status, refreshed
 *   GET  /onboarding/:tenant/status-fragment
 *
 * It has no login of its own: it sits behind the CRM's, which QBSYNC_SERVE_AUTH names (a header
 * its reverse proxy sets, or a shared secret), and it refuses to listen beyond the loopback
 * interface without that. Every POST carries a synchronizer token tied to the browser session
 * cookie and must come from the page's own origin (issue 12, points 2 and 4). Requests are bounded:
 * a long URL is 414, a large body 413, a long field 400, and no answer echoes a long value (point 5).
 */

const maxUrl = 2048;
const maxBody = 16 * 1024;
const maxField = 1024;
const maxMessage = 300;
const sessionCookie = 'qbsync_session';
const sessionPattern = /^[A-Za-z0-9_-]{43}$/;

class PayloadTooLargeError extends OnboardingInputError {
  override readonly name = 'PayloadTooLargeError';
}

class ForbiddenRequestError extends OnboardingInputError {
  override readonly name = 'ForbiddenRequestError';
}

/**
 * The form of a POST, url-encoded, at most maxBody bytes. A larger body is read to its end and
 * dropped, so the 413 reaches the client instead of a reset connection.
 */
function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    let size = 0;
    const chunks: Buffer[] = [];
    let tooLarge = declared > maxBody;
    if (tooLarge) {
      req.resume();
      reject(new PayloadTooLargeError(`the form is larger than ${maxBody / 1024} KB`));
      return;
    }
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) return reject(new PayloadTooLargeError(`the form is larger than ${maxBody / 1024} KB`));
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      for (const [name, value] of form) {
        if (name.length > 64 || value.length > maxField) {
          return reject(new OnboardingInputError(`a form field is longer than ${maxField} characters`));
        }
      }
      resolve(form);
    });
    req.on('error', reject);
  });
}

function languageOf(url: URL): Language {
  const value = url.searchParams.get('lang');
  return value === 'en' ? 'en' : 'fr';
}

function cookieValue(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** The synchronizer token of a browser session: an HMAC of its cookie, so nothing is stored per session. */
export function csrfToken(key: Uint8Array, session: string): string {
  return createHmac('sha256', key).update(`qbsync-csrf:${session}`).digest('base64url');
}

/** The origin a POST says it comes from (Origin, else Referer), or undefined when it says nothing. */
function requestOrigin(req: http.IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined) return origin;
  const referer = req.headers.referer;
  if (referer === undefined) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return 'null';
  }
}

function isAuthenticated(auth: ServeAuth, req: http.IncomingMessage): boolean {
  if (auth.kind === 'header') {
    const value = req.headers[auth.header];
    return typeof value === 'string' && value.trim() !== '';
  }
  const given = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const digest = (value: string) => createHash('sha256').update(value).digest('base64url');
  return sameText(digest(given), digest(auth.secret));
}

const loopbackHosts = new Set(['localhost', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']);

export function isLoopback(host: string): boolean {
  return loopbackHosts.has(host.toLowerCase()) || (isIPv4(host) && host.startsWith('127.'));
}

/** The page has no login of its own: beyond the loopback interface, QBSYNC_SERVE_AUTH must stand in. */
export function requireAuthBeyondLoopback(host: string, auth: ServeAuth | undefined): void {
  if (!auth && !isLoopback(host)) {
    throw new ConfigError(
      `refusing to listen on ${host} without QBSYNC_SERVE_AUTH: the onboarding page has no login of its own (set QBSYNC_SERVE_AUTH, see the README, or listen on 127.0.0.1)`,
    );
  }
}

export interface OnboardingServer {
  readonly url: string;
  close(): Promise<void>;
}

export interface OnboardingServerOptions {
  /** How requests are authenticated (QBSYNC_SERVE_AUTH); undefined: no check, loopback only. */
  readonly auth?: ServeAuth | undefined;
  readonly log?: (line: string) => void;
}

export function createOnboardingHandler(
  deps: OnboardingDeps,
  options: OnboardingServerOptions = {},
): http.RequestListener {
  const log = options.log ?? (() => undefined);
  const callbackPath = new URL(deps.oauth.redirectUri).pathname;
  const publicOrigin = new URL(deps.oauth.redirectUri).origin;
  const secureCookie = publicOrigin.startsWith('https:') ? '; Secure' : '';
  const csrfKey = createHmac('sha256', deps.tokenKey).update('qbsync-csrf-key').digest();
  return (req, res) => {
    const headers: Record<string, string> = {
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // same-origin, not no-referrer: the page's own POSTs must carry their Origin (no-referrer makes it "null").
      'referrer-policy': 'same-origin',
      'x-frame-options': 'DENY',
    };
    const plain = (status: number, text: string) => {
      res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${text}\n`);
    };
    if ((req.url ?? '/').length > maxUrl) return plain(414, `URI too long (more than ${maxUrl} characters)`);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://onboarding.invalid');
    } catch {
      return plain(400, 'bad request URL');
    }
    if (options.auth && url.pathname !== '/health' && !isAuthenticated(options.auth, req)) {
      return plain(401, 'not authenticated: open this page through the CRM');
    }
    let session = cookieValue(req, sessionCookie);
    if (session === undefined || !sessionPattern.test(session)) {
      session = randomBytes(32).toString('base64url');
      headers['set-cookie'] = `${sessionCookie}=${session}; Path=/; HttpOnly; SameSite=Lax${secureCookie}`;
    }
    const language = languageOf(url);
    const send = (status: number, body: string, type = 'text/html; charset=utf-8') => {
      res.writeHead(status, { ...headers, 'content-type': type });
      res.end(body);
    };
    const redirect = (location: string) => {
      res.writeHead(303, { ...headers, location });
      res.end();
    };
    const request: RequestContext = {
      req,
      url,
      language,
      session,
      csrf: csrfToken(csrfKey, session),
      allowedOrigins: new Set([publicOrigin, `http://${req.headers.host ?? ''}`, `https://${req.headers.host ?? ''}`]),
      callbackPath,
      send,
      redirect,
    };
    route(deps, request).catch((error: unknown) => {
      const malformed = error instanceof URIError;
      const taken = error instanceof RealmAlreadyConnectedError;
      const known = malformed || taken || error instanceof OperatorError || error instanceof QboError;
      // The other tenant's name stays out of the answer: the person at the page may not be its user.
      const message = malformed
        ? 'the address has a malformed %-escape'
        : taken
          ? 'this QuickBooks company is already connected to another account; disconnect it there first'
          : error instanceof Error
            ? (error.message.split('\n')[0] ?? error.name)
            : String(error);
      if (!known) log(`onboarding: ${req.method} ${url.pathname.slice(0, 200)} failed: ${message}`);
      if (res.headersSent) return void res.end();
      send(
        statusOf(error),
        errorPage(
          language,
          known ? (message.length > maxMessage ? `${message.slice(0, maxMessage)}…` : message) : 'internal error',
          `/?lang=${language}`,
        ),
      );
    });
  };
}

function statusOf(error: unknown): number {
  if (error instanceof PayloadTooLargeError) return 413;
  if (error instanceof ForbiddenRequestError) return 403;
  if (error instanceof RealmChangeRefusedError || error instanceof RealmAlreadyConnectedError) return 409;
  if (error instanceof OnboardingInputError || error instanceof URIError) return 400;
  if (error instanceof QboError) return 502;
  return 500;
}

interface RequestContext {
  readonly req: http.IncomingMessage;
  readonly url: URL;
  readonly language: Language;
  readonly session: string;
  /** The token this session's forms carry. */
  readonly csrf: string;
  readonly allowedOrigins: ReadonlySet<string>;
  readonly callbackPath: string;
  send(status: number, body: string, type?: string): void;
  redirect(location: string): void;
}

/** The form of a state-changing request, once its origin and token are checked. */
async function checkedForm(request: RequestContext): Promise<URLSearchParams> {
  const origin = requestOrigin(request.req);
  if (origin !== undefined && !request.allowedOrigins.has(origin)) {
    request.req.resume();
    throw new ForbiddenRequestError('this form was sent from another site: open the onboarding page and try again');
  }
  const form = await readForm(request.req);
  if (!sameText(form.get('csrf') ?? '', request.csrf)) {
    throw new ForbiddenRequestError(
      'this form has expired or was not sent by the onboarding page: reload the page and try again',
    );
  }
  return form;
}

async function route(deps: OnboardingDeps, request: RequestContext): Promise<void> {
  const { req, url, language, send, redirect, callbackPath } = request;
  const method = req.method ?? 'GET';
  const q = `?lang=${language}`;
  if (method === 'GET' && url.pathname === '/') return send(200, tenantPickerPage(language));
  if (method === 'GET' && url.pathname === '/onboarding') {
    return redirect(`/onboarding/${encodeURIComponent(parseTenantId(url.searchParams.get('tenant') ?? ''))}${q}`);
  }
  if (method === 'GET' && url.pathname === callbackPath) {
    const { tenantId, extra } = await completeCallback(deps, url.toString(), request.session);
    await resumeAfterReconnect(deps.temporal, tenantId).catch(() => false);
    return redirect(`/onboarding/${encodeURIComponent(tenantId)}?lang=${extra === 'en' ? 'en' : 'fr'}`);
  }
  if (method === 'GET' && url.pathname === '/health') return send(200, '{"ok":true}', 'application/json');
  const match = /^\/onboarding\/([^/]+)(?:\/([a-z-]+))?$/.exec(url.pathname);
  if (!match) return send(404, layout(language, 'Not found', '<p role="alert">404</p>'));
  const tenantId = parseTenantId(decodeURIComponent(match[1] ?? ''));
  const action = match[2] ?? '';
  const path = `/onboarding/${encodeURIComponent(tenantId)}`;
  const now = deps.now();

  const form = method === 'POST' ? await checkedForm(request) : undefined;
  if (form && action === 'connect') {
    await ensureTenant(deps.db, tenantId, now);
    const state = await issueState(deps.db, tenantId, now, { session: request.session, extra: language });
    return redirect(authorizeUrl(deps.oauth, state));
  }
  const tenant = await readTenant(deps.db, tenantId);
  if (method === 'GET' && action === '') {
    const connection = await readConnection(deps.db, tenantId);
    const view = tenant ? await tenantSyncStatus(deps.temporal, tenantId, 0) : undefined;
    return send(
      200,
      tenantPage({
        language,
        tenant: tenant ?? {
          tenantId,
          name: tenantId,
          startDate: isoDay(now),
          syncLanguage: 'fr',
          defaultCustomerLanguage: 'fr',
          mode: 'two_way',
        },
        connection,
        today: isoDay(now),
        running: view?.execution === 'RUNNING',
        csrfToken: request.csrf,
      }),
    );
  }
  if (!tenant) throw new OnboardingInputError(`no tenant ${tenantId}: connect it to QuickBooks first`);
  if (form && action === 'settings') {
    await requireConnection(deps.db, tenantId);
    const mode = parseMode(form.get('mode') ?? tenant.mode);
    await saveSettings(deps.db, tenantId, {
      startDate: parseStartDate(form.get('startDate') ?? '', now),
      syncLanguage: parseLanguage(form.get('syncLanguage') ?? '', 'sync language'),
      defaultCustomerLanguage: parseLanguage(form.get('defaultCustomerLanguage') ?? '', 'default customer language'),
      mode,
    });
    // A tenant already syncing switches through its workflow, which applies the CRM's lock (R8).
    if (mode !== tenant.mode) await applyModeToRunningSync(deps.temporal, tenantId, mode);
    return redirect(`${path}/preview${q}`);
  }
  if (method === 'GET' && action === 'preview') {
    await requireConnection(deps.db, tenantId);
    return send(
      200,
      previewPage(language, tenant, await previewTenant(deps, tenantId, tenant.startDate), request.csrf),
    );
  }
  if (form && action === 'start') {
    await startTenantSync(deps, tenantId);
    return redirect(`${path}/status${q}`);
  }
  if (method === 'GET' && action === 'status') {
    return send(200, statusPage(language, tenant, await tenantSyncStatus(deps.temporal, tenantId)));
  }
  if (method === 'GET' && action === 'status-fragment') {
    return send(200, statusFragment(language, await tenantSyncStatus(deps.temporal, tenantId)));
  }
  return send(404, layout(language, 'Not found', '<p role="alert">404</p>'));
}

export async function startOnboardingServer(
  deps: OnboardingDeps,
  options: OnboardingServerOptions & { port: number; host?: string },
): Promise<OnboardingServer> {
  const host = options.host ?? '127.0.0.1';
  requireAuthBeyondLoopback(host, options.auth);
  const server = http.createServer(createOnboardingHandler(deps, options));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
