import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { authorizeUrl, readConnection } from '../../activities/qbo/qbo-auth.js';
import { QboError } from '../../activities/qbo/qbo-errors.js';
import { OperatorError } from '../../common/errors.js';
import { errorPage, layout, previewPage, statusFragment, statusPage, tenantPage, tenantPickerPage } from './page.js';
import {
  completeCallback,
  ensureTenant,
  isoDay,
  OnboardingInputError,
  parseLanguage,
  parseStartDate,
  parseTenantId,
  previewTenant,
  readTenant,
  requireConnection,
  resumeAfterReconnect,
  saveSettings,
  signState,
  startTenantSync,
  tenantSyncStatus,
  type Language,
  type OnboardingDeps,
} from './service.js';

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
 * It has no login of its own: deploy it behind the CRM's authentication.
 */

const maxBody = 64 * 1024;

function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > maxBody) {
        reject(new OnboardingInputError('form too large'));
        req.destroy();
      }
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

function languageOf(url: URL): Language {
  const value = url.searchParams.get('lang');
  return value === 'en' ? 'en' : 'fr';
}

export interface OnboardingServer {
  readonly url: string;
  close(): Promise<void>;
}

export function createOnboardingHandler(
  deps: OnboardingDeps,
  log: (line: string) => void = () => undefined,
): http.RequestListener {
  const callbackPath = new URL(deps.oauth.redirectUri).pathname;
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://onboarding.invalid');
    const language = languageOf(url);
    const send = (status: number, body: string, type = 'text/html; charset=utf-8') => {
      res.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'x-frame-options': 'DENY',
      });
      res.end(body);
    };
    const redirect = (location: string) => {
      res.writeHead(303, { location, 'cache-control': 'no-store' });
      res.end();
    };
    route(deps, req, url, language, send, redirect, callbackPath).catch((error: unknown) => {
      const known = error instanceof OperatorError || error instanceof QboError;
      const message = error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error);
      if (!known) log(`onboarding: ${req.method} ${url.pathname} failed: ${message}`);
      if (res.headersSent) return void res.end();
      send(
        error instanceof OnboardingInputError ? 400 : error instanceof QboError ? 502 : 500,
        errorPage(language, known ? message : 'internal error', `/?lang=${language}`),
      );
    });
  };
}

async function route(
  deps: OnboardingDeps,
  req: http.IncomingMessage,
  url: URL,
  language: Language,
  send: (status: number, body: string, type?: string) => void,
  redirect: (location: string) => void,
  callbackPath: string,
): Promise<void> {
  const method = req.method ?? 'GET';
  const q = `?lang=${language}`;
  if (method === 'GET' && url.pathname === '/') return send(200, tenantPickerPage(language));
  if (method === 'GET' && url.pathname === '/onboarding') {
    return redirect(`/onboarding/${encodeURIComponent(parseTenantId(url.searchParams.get('tenant') ?? ''))}${q}`);
  }
  if (method === 'GET' && url.pathname === callbackPath) {
    const { tenantId, extra } = await completeCallback(deps, url.toString());
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

  if (method === 'POST' && action === 'connect') {
    await ensureTenant(deps.db, tenantId, now);
    return redirect(authorizeUrl(deps.oauth, signState(deps.tokenKey, tenantId, now, language)));
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
      }),
    );
  }
  if (!tenant) throw new OnboardingInputError(`no tenant ${tenantId}: connect it to QuickBooks first`);
  if (method === 'POST' && action === 'settings') {
    const form = await readForm(req);
    await requireConnection(deps.db, tenantId);
    await saveSettings(deps.db, tenantId, {
      startDate: parseStartDate(form.get('startDate') ?? '', now),
      syncLanguage: parseLanguage(form.get('syncLanguage') ?? '', 'sync language'),
      defaultCustomerLanguage: parseLanguage(form.get('defaultCustomerLanguage') ?? '', 'default customer language'),
    });
    return redirect(`${path}/preview${q}`);
  }
  if (method === 'GET' && action === 'preview') {
    await requireConnection(deps.db, tenantId);
    return send(200, previewPage(language, tenant, await previewTenant(deps, tenantId, tenant.startDate)));
  }
  if (method === 'POST' && action === 'start') {
    await readForm(req);
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
  options: { port: number; host?: string; log?: (line: string) => void },
): Promise<OnboardingServer> {
  const server = http.createServer(createOnboardingHandler(deps, options.log));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
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
