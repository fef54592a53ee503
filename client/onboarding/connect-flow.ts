import http from 'node:http';
import { authorizeUrl, intuitOAuthEndpoints, readConnection } from '../../activities/qbo/qbo-auth.js';
import { UsageError } from '../cli-errors.js';
import { escapeHtml } from './page.js';
import { completeCallback, ensureTenant, issueState, type OnboardingDeps } from './service.js';

/**
 * `qbsync connect` and `qbsync onboard`: the OAuth code flow from a terminal. It prints the
 * authorize URL and waits for the callback on QBO_REDIRECT_URI (or lets `qbsync serve` take it when
 * that already listens there). With autoConsent it plays the person's part on the simulator's
 * consent page itself: for scripts, tests and the demo; Intuit's real page needs a person.
 */
export async function runConnectFlow(
  deps: OnboardingDeps,
  tenantId: string,
  options: { autoConsent: boolean; log: (line: string) => void; timeoutMs?: number; name?: string | undefined },
): Promise<{ realmId: string }> {
  await ensureTenant(deps.db, tenantId, deps.now(), options.name);
  const url = authorizeUrl(deps.oauth, await issueState(deps.db, tenantId, deps.now()));
  if (options.autoConsent) {
    if (deps.oauth.endpoints.authorizeEndpoint === intuitOAuthEndpoints.authorizeEndpoint) {
      throw new UsageError('--auto-consent works only against the simulator (set QBO_OAUTH_BASE_URL to its base URL)');
    }
    const callback = await consentOnSimulator(url);
    const { realmId } = await completeCallback(deps, callback);
    return { realmId };
  }
  return waitForCallback(deps, tenantId, url, options);
}

/** Follows the simulator's consent: a redirect at once (auto-consent), or its form's Connect button. */
export async function consentOnSimulator(authorize: string): Promise<string> {
  const first = await fetch(authorize, { redirect: 'manual' });
  if (first.status >= 300 && first.status < 400) return location(first);
  const page = await first.text();
  if (first.status !== 200 || !/<form[^>]+action="([^"]+)"/.test(page)) {
    throw new UsageError(`the authorize URL did not answer with the simulator's consent page (HTTP ${first.status})`);
  }
  const action = /<form[^>]+action="([^"]+)"/.exec(page)![1]!;
  const form = new URLSearchParams();
  for (const input of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    form.set(input[1]!, unescape(input[2]!));
  }
  const realm = /<input type="radio" name="realmId" value="([^"]+)"/.exec(page)?.[1];
  if (realm) form.set('realmId', unescape(realm));
  form.set('action', 'connect');
  const second = await fetch(new URL(action, authorize), {
    method: 'POST',
    body: form,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    redirect: 'manual',
  });
  return location(second);
}

function unescape(value: string): string {
  return value.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, '&');
}

function location(response: Response): string {
  const target = response.headers.get('location');
  if (!target) throw new UsageError(`the consent page did not redirect (HTTP ${response.status})`);
  return target;
}

async function waitForCallback(
  deps: OnboardingDeps,
  tenantId: string,
  authorize: string,
  options: { log: (line: string) => void; timeoutMs?: number },
): Promise<{ realmId: string }> {
  const redirect = new URL(deps.oauth.redirectUri);
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const startedAt = deps.now();
  let settle!: { resolve: (value: { realmId: string }) => void; reject: (error: unknown) => void };
  const done = new Promise<{ realmId: string }>((resolve, reject) => (settle = { resolve, reject }));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', deps.oauth.redirectUri);
    if (url.pathname !== redirect.pathname) {
      res.writeHead(404).end();
      return;
    }
    completeCallback(deps, url.toString()).then(
      ({ realmId }) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          `<!doctype html><html lang="fr"><meta charset="utf-8"><title>QuickBooks</title><p>Connecté à QuickBooks (${escapeHtml(realmId)}). Vous pouvez fermer cette fenêtre.</p><p lang="en">Connected to QuickBooks. You can close this window.</p></html>`,
        );
        settle.resolve({ realmId });
      },
      (error: unknown) => {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(error instanceof Error ? error.message : String(error));
        settle.reject(error);
      },
    );
  });
  const listening = await new Promise<boolean>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EADDRINUSE' ? resolve(false) : reject(error),
    );
    server.listen(Number(redirect.port || (redirect.protocol === 'https:' ? 443 : 80)), redirect.hostname, () =>
      resolve(true),
    );
  });
  options.log(`Open this URL to connect tenant ${tenantId} to QuickBooks:`);
  options.log(authorize);
  let poll: NodeJS.Timeout | undefined;
  if (!listening) {
    // Something (qbsync serve, most likely) already answers the redirect URI: it stores the tokens.
    options.log(
      `Waiting for the callback at ${deps.oauth.redirectUri} (answered by the server already listening there)...`,
    );
    poll = setInterval(() => {
      readConnection(deps.db, tenantId).then((connection) => {
        if (connection && !connection.needsReauth && connection.accessTokenExpiresAt > startedAt) {
          settle.resolve({ realmId: connection.realmId });
        }
      }, settle.reject);
    }, 500);
  } else {
    options.log(`Waiting for the callback at ${deps.oauth.redirectUri}...`);
  }
  const timer = setTimeout(
    () => settle.reject(new UsageError(`no callback within ${Math.round(timeoutMs / 1000)} s; run the command again`)),
    timeoutMs,
  );
  try {
    return await done;
  } finally {
    clearTimeout(timer);
    clearInterval(poll);
    if (listening) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}
