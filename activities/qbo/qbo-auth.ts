import OAuthClient from 'intuit-oauth';
import type { Kysely, Transaction } from 'kysely';
import { FailureType } from '../../common/failure-types.js';
import { OperatorError } from '../../common/errors.js';
import { findPinnedRealms } from '../../db/repositories/tenants.js';
import type { Database } from '../../db/schema.js';
import { decryptToken, encryptToken } from '../../db/token-crypto.js';
import {
  createQboClient,
  qboApiBaseUrls,
  type AccessTokenSource,
  type QboClient,
  type RequestLimiter,
} from './qbo-client.js';
import { defaultThrottleWaitMs, QboError } from './qbo-errors.js';

/**
 * OAuth 2.0 with Intuit through `intuit-oauth`, and the tenant's tokens in PostgreSQL.
 *
 * - The library's own retries are off: Temporal is the one retry owner.
 * - The same code talks to Intuit and to the simulator; only the endpoints in `OAuthSettings` differ.
 * - Tokens are stored encrypted (AES-256-GCM, the tenant id bound as associated data). Nothing here
 *   logs them, and no function returns them to a caller that could put them in workflow history.
 * - A refresh runs under a per-tenant row lock (SELECT … FOR UPDATE on qbo_connections): only one
 *   worker refreshes, the others wait and then use the token it stored. The rotated refresh token
 *   and the new access token are committed in the same transaction before either is used.
 * - A refresh token that is past its expiry or refused (`invalid_grant`) marks the tenant
 *   needs_reauth and raises QboError QboAuthRevoked (non-retryable); the workflow pauses itself.
 */

export const qboAccountingScope = 'com.intuit.quickbooks.accounting';

export interface OAuthEndpoints {
  readonly authorizeEndpoint: string;
  readonly tokenEndpoint: string;
  readonly revokeEndpoint: string;
}

export const intuitOAuthEndpoints: OAuthEndpoints = {
  authorizeEndpoint: 'https://appcenter.intuit.com/connect/oauth2',
  tokenEndpoint: 'https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer',
  revokeEndpoint: 'https://developer.api.intuit.com/v2/oauth2/tokens/revoke',
};

/** The simulator's paths under one base URL (sandbox/server.ts). */
export function oauthEndpointsAt(baseUrl: string): OAuthEndpoints {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    authorizeEndpoint: `${base}/connect/oauth2`,
    tokenEndpoint: `${base}/oauth2/v1/tokens/bearer`,
    revokeEndpoint: `${base}/oauth2/v1/tokens/revoke`,
  };
}

export interface OAuthSettings {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly environment: 'sandbox' | 'production';
  readonly redirectUri: string;
  readonly endpoints: OAuthEndpoints;
  /** Token endpoint calls give up after this long (intuit-oauth sets no timeout of its own). */
  readonly timeoutMs?: number;
}

/** Builds the settings from configuration values: unset overrides mean Intuit's own endpoints. */
export function oauthSettings(options: {
  clientId: string;
  clientSecret: string;
  environment: 'sandbox' | 'production';
  redirectUri: string;
  oauthBaseUrl?: string | undefined;
}): OAuthSettings {
  return {
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    environment: options.environment,
    redirectUri: options.redirectUri,
    endpoints: options.oauthBaseUrl ? oauthEndpointsAt(options.oauthBaseUrl) : intuitOAuthEndpoints,
  };
}

export function apiBaseUrlFor(environment: 'sandbox' | 'production', override?: string | undefined): string {
  return override ?? qboApiBaseUrls[environment];
}

/** Everything token handling needs; the worker builds it once from configuration. */
export interface QboAuthDeps {
  readonly db: Kysely<Database>;
  readonly oauth: OAuthSettings;
  readonly tokenKey: Uint8Array;
  readonly apiBaseUrl: string;
  readonly limiter?: RequestLimiter | undefined;
  readonly now: () => Date;
  /** Refresh an access token this long before it expires (default 5 minutes). */
  readonly refreshMarginMs?: number;
  /** Called after each refresh that reached the token endpoint (tests and metrics count them). */
  readonly onRefresh?: (tenantId: string) => void;
}

/**
 * A fresh intuit-oauth client. Its endpoints and retry settings are class-level statics: they are set
 * here, synchronously, right before every call, and each call reads them synchronously when it builds
 * its request, so two configurations in one process cannot mix. Retries are off (maxRetries 0).
 */
function oauthClient(settings: OAuthSettings): OAuthClient {
  const client = new OAuthClient({
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    environment: settings.environment,
    redirectUri: settings.redirectUri,
    logging: false,
  });
  applyStatics(settings, client);
  return client;
}

function applyStatics(settings: OAuthSettings, client: OAuthClient): void {
  OAuthClient.retryConfig = { ...OAuthClient.retryConfig, maxRetries: 0 };
  client.setAuthorizeURLs({
    ...settings.endpoints,
    userInfoEndpoint:
      settings.environment === 'sandbox'
        ? OAuthClient.userinfo_endpoint_sandbox
        : OAuthClient.userinfo_endpoint_production,
  });
}

async function call<T>(settings: OAuthSettings, client: OAuthClient, what: string, run: () => Promise<T>): Promise<T> {
  applyStatics(settings, client);
  const timeoutMs = settings.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new QboError(FailureType.QboNetwork, `${what}: no answer from the token endpoint in ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([run(), timeout]);
  } catch (error) {
    throw classifyOAuthError(what, error);
  } finally {
    clearTimeout(timer);
  }
}

interface IntuitOAuthFailure {
  error?: unknown;
  error_description?: unknown;
  originalMessage?: unknown;
  authResponse?: { response?: { status?: unknown } } | string;
}

/** The OAuth error code (`invalid_grant`…) of a failed intuit-oauth call, if it carries one. */
export function oauthErrorCode(error: unknown): string | undefined {
  const code = (error as IntuitOAuthFailure | null)?.error;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

function classifyOAuthError(what: string, error: unknown): unknown {
  if (error instanceof QboError) return error;
  const failure = (error ?? {}) as IntuitOAuthFailure;
  const code = oauthErrorCode(error);
  const status =
    typeof failure.authResponse === 'object' && typeof failure.authResponse.response?.status === 'number'
      ? failure.authResponse.response.status
      : undefined;
  const description = typeof failure.error_description === 'string' ? failure.error_description : '';
  // Messages carry the OAuth error code and Intuit's description, never a token.
  const text = `${what}: ${code ?? (error instanceof Error ? error.message : String(error))}${description && description !== code ? ` (${description})` : ''}${status ? ` [HTTP ${status}]` : ''}`;
  if (code === 'invalid_grant') return new QboError(FailureType.QboAuthRevoked, text, statusDetail(status));
  if (code === 'invalid_client' || code === 'unauthorized_client')
    return new QboError(
      FailureType.QboForbidden,
      `${text}: check QBO_CLIENT_ID and QBO_CLIENT_SECRET`,
      statusDetail(status),
    );
  if (status === 429)
    return new QboError(FailureType.QboThrottled, text, { status, retryAfterMs: defaultThrottleWaitMs });
  if (status !== undefined && status >= 500) return new QboError(FailureType.QboServerFault, text, { status });
  if (status !== undefined && status >= 400) return new QboError(FailureType.QboValidation, text, { status });
  return new QboError(FailureType.QboNetwork, text);
}

function statusDetail(status: number | undefined): { status?: number } {
  return status === undefined ? {} : { status };
}

interface TokenResponse {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly expires_in: number;
  readonly x_refresh_token_expires_in?: number;
}

function tokenResponse(json: unknown, what: string): TokenResponse {
  const body = (json ?? {}) as Record<string, unknown>;
  const access = body['access_token'];
  const refresh = body['refresh_token'];
  const expiresIn = Number(body['expires_in']);
  const refreshExpiresIn = Number(body['x_refresh_token_expires_in']);
  if (typeof access !== 'string' || access === '' || typeof refresh !== 'string' || refresh === '') {
    throw new QboError(
      FailureType.QboUnexpectedResponse,
      `${what}: the token response lacks access_token or refresh_token`,
    );
  }
  return {
    access_token: access,
    refresh_token: refresh,
    expires_in: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600,
    ...(Number.isFinite(refreshExpiresIn) && refreshExpiresIn > 0
      ? { x_refresh_token_expires_in: refreshExpiresIn }
      : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Authorization code flow

/** The URL of Intuit's consent page (or the simulator's) for the accounting scope. */
export function authorizeUrl(settings: OAuthSettings, state: string): string {
  const client = oauthClient(settings);
  return client.authorizeUri({ scope: [qboAccountingScope], state });
}

export class RealmAlreadyConnectedError extends Error {
  override readonly name = 'RealmAlreadyConnectedError';
}

/** A consent for another company than the one the tenant is pinned to; nothing was stored. */
export class RealmChangeRefusedError extends OperatorError {
  override readonly name = 'RealmChangeRefusedError';
  constructor(tenantId: string, pinnedRealmIds: readonly string[], realmId: string) {
    super(
      `tenant ${tenantId} is connected to QuickBooks company ${pinnedRealmIds.join(', ')}, and this consent was for company ${realmId}: nothing was stored. Reconnect to the same company; moving the tenant to another company is qbsync change-company ${tenantId} --confirm, which deletes what was synced from the old one`,
    );
  }
}

/**
 * Exchanges the code of a callback URL (`…?code=…&state=…&realmId=…`) for tokens and stores them
 * for the tenant, encrypted, clearing needs_reauth. The caller has checked `state`. The code is
 * used once only: a second exchange of the same code fails (and can break the connection).
 */
export async function connectTenant(
  deps: Pick<QboAuthDeps, 'db' | 'oauth' | 'tokenKey' | 'now'>,
  tenantId: string,
  callbackUrl: string,
): Promise<{ realmId: string }> {
  const query = new URL(callbackUrl, 'http://callback.invalid').searchParams;
  const denied = query.get('error');
  if (denied) throw new QboError(FailureType.QboForbidden, `QuickBooks did not grant access: ${denied}`);
  const realmId = query.get('realmId') ?? '';
  if (!query.get('code') || !realmId) {
    throw new QboError(FailureType.QboValidation, 'the callback URL lacks code or realmId');
  }
  // A tenant's company never changes by reconnecting (issue 12, point 1): checked before the code is spent.
  const pinned = await findPinnedRealms(deps.db, tenantId);
  if (pinned.length > 0 && !pinned.includes(realmId)) throw new RealmChangeRefusedError(tenantId, pinned, realmId);
  const client = oauthClient(deps.oauth);
  const response = await call(deps.oauth, client, 'exchange the authorization code', () =>
    client.createToken(callbackUrl),
  );
  const tokens = tokenResponse(response.json, 'exchange the authorization code');
  const now = deps.now();
  const other = await deps.db
    .selectFrom('qbo_connections')
    .select('tenant_id')
    .where('environment', '=', deps.oauth.environment)
    .where('realm_id', '=', realmId)
    .where('tenant_id', '<>', tenantId)
    .executeTakeFirst();
  if (other) {
    throw new RealmAlreadyConnectedError(
      `QuickBooks company ${realmId} is already connected to another tenant; it must be disconnected there first`,
    );
  }
  const row = encryptedRow(deps.tokenKey, tenantId, tokens, now);
  const stored = await deps.db
    .insertInto('qbo_connections')
    .values({
      tenant_id: tenantId,
      realm_id: realmId,
      environment: deps.oauth.environment,
      ...row,
      needs_reauth: false,
    })
    .onConflict((conflict) =>
      conflict
        .column('tenant_id')
        .doUpdateSet({ environment: deps.oauth.environment, ...row, needs_reauth: false })
        .where('qbo_connections.realm_id', '=', realmId),
    )
    .executeTakeFirst();
  if (Number(stored.numInsertedOrUpdatedRows ?? 0) === 0) {
    throw new RealmChangeRefusedError(tenantId, await findPinnedRealms(deps.db, tenantId), realmId);
  }
  return { realmId };
}

function encryptedRow(key: Uint8Array, tenantId: string, tokens: TokenResponse, now: Date) {
  return {
    access_token_encrypted: encryptToken(key, tokens.access_token, tenantId),
    refresh_token_encrypted: encryptToken(key, tokens.refresh_token, tenantId),
    access_token_expires_at: new Date(now.getTime() + tokens.expires_in * 1000),
    refresh_token_expires_at:
      tokens.x_refresh_token_expires_in !== undefined
        ? new Date(now.getTime() + tokens.x_refresh_token_expires_in * 1000)
        : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Connection state

export interface ConnectionInfo {
  readonly tenantId: string;
  readonly realmId: string;
  readonly environment: 'sandbox' | 'production';
  readonly needsReauth: boolean;
  readonly accessTokenExpiresAt: Date;
  readonly refreshTokenExpiresAt: Date | null;
}

/** The tenant's connection without its tokens; undefined when it has none. */
export async function readConnection(db: Kysely<Database>, tenantId: string): Promise<ConnectionInfo | undefined> {
  const row = await db
    .selectFrom('qbo_connections')
    .select([
      'tenant_id',
      'realm_id',
      'environment',
      'needs_reauth',
      'access_token_expires_at',
      'refresh_token_expires_at',
    ])
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return row
    ? {
        tenantId: row.tenant_id,
        realmId: row.realm_id,
        environment: row.environment,
        needsReauth: row.needs_reauth,
        accessTokenExpiresAt: row.access_token_expires_at,
        refreshTokenExpiresAt: row.refresh_token_expires_at,
      }
    : undefined;
}

function notConnected(tenantId: string): QboError {
  return new QboError(
    FailureType.TenantNotConnected,
    `tenant ${tenantId} has no QuickBooks connection; connect it with qbsync connect ${tenantId}`,
  );
}

function revoked(tenantId: string, why: string): QboError {
  return new QboError(
    FailureType.QboAuthRevoked,
    `tenant ${tenantId} needs to reconnect to QuickBooks: ${why}; run qbsync connect ${tenantId}`,
  );
}

/** Marks the tenant as needing a person to reconnect it. Returns false when it has no connection. */
export async function markNeedsReconnect(
  db: Kysely<Database> | Transaction<Database>,
  tenantId: string,
): Promise<boolean> {
  const result = await db
    .updateTable('qbo_connections')
    .set({ needs_reauth: true })
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

// ---------------------------------------------------------------------------------------------
// Token source with a per-tenant refresh lock

/**
 * The access tokens of one tenant. `current()` returns a token valid for at least the refresh
 * margin, refreshing first if needed; `refreshAfterRejection(t)` is called after QBO refused `t` (401)
 * and returns a newer token: the one another worker already stored, or a new one.
 */
export function createTenantTokenSource(deps: QboAuthDeps, tenantId: string): AccessTokenSource {
  const margin = deps.refreshMarginMs ?? 5 * 60_000;
  let cached: { token: string; expiresAt: number } | undefined;

  const fresh = (expiresAt: Date) => expiresAt.getTime() - margin > deps.now().getTime();

  async function refresh(rejected: string | undefined): Promise<string> {
    const outcome: { token: string; expiresAt: number } | { revoked: string } = await deps.db
      .transaction()
      .execute(async (trx) => {
        // The per-tenant lock: a second worker waits here until the first has committed.
        const row = await trx
          .selectFrom('qbo_connections')
          .select([
            'access_token_encrypted',
            'refresh_token_encrypted',
            'access_token_expires_at',
            'refresh_token_expires_at',
            'needs_reauth',
          ])
          .where('tenant_id', '=', tenantId)
          .forUpdate()
          .executeTakeFirst();
        if (!row) throw notConnected(tenantId);
        if (row.needs_reauth) return { revoked: 'its connection was marked as needing to reconnect' };
        const stored = decryptToken(deps.tokenKey, row.access_token_encrypted, tenantId);
        // Someone refreshed while we waited: use theirs.
        if (stored !== rejected && fresh(row.access_token_expires_at)) {
          return { token: stored, expiresAt: row.access_token_expires_at.getTime() };
        }
        if (row.refresh_token_expires_at && row.refresh_token_expires_at.getTime() <= deps.now().getTime()) {
          await markNeedsReconnect(trx, tenantId);
          return { revoked: 'its refresh token has expired' };
        }
        const refreshToken = decryptToken(deps.tokenKey, row.refresh_token_encrypted, tenantId);
        const client = oauthClient(deps.oauth);
        let tokens: TokenResponse;
        try {
          const response = await call(deps.oauth, client, 'refresh the access token', () =>
            client.refreshUsingToken(refreshToken),
          );
          tokens = tokenResponse(response.json, 'refresh the access token');
        } catch (error) {
          if (error instanceof QboError && error.type === FailureType.QboAuthRevoked) {
            // Committed with this transaction, so the mark survives the failure we raise after it.
            await markNeedsReconnect(trx, tenantId);
            return { revoked: `QuickBooks refused the refresh token (${error.message})` };
          }
          throw error;
        }
        deps.onRefresh?.(tenantId);
        const now = deps.now();
        const update = encryptedRow(deps.tokenKey, tenantId, tokens, now);
        await trx
          .updateTable('qbo_connections')
          .set({
            ...update,
            // Keep the known expiry if this response did not restate it.
            refresh_token_expires_at: update.refresh_token_expires_at ?? row.refresh_token_expires_at,
          })
          .where('tenant_id', '=', tenantId)
          .execute();
        return { token: tokens.access_token, expiresAt: update.access_token_expires_at.getTime() };
      });
    // Only now, after the commit, is the new token handed out.
    if ('revoked' in outcome) {
      cached = undefined;
      throw revoked(tenantId, outcome.revoked);
    }
    cached = outcome;
    return outcome.token;
  }

  return {
    async current() {
      if (cached && cached.expiresAt - margin > deps.now().getTime()) return cached.token;
      const row = await deps.db
        .selectFrom('qbo_connections')
        .select(['access_token_encrypted', 'access_token_expires_at', 'needs_reauth'])
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst();
      if (!row) throw notConnected(tenantId);
      if (row.needs_reauth) throw revoked(tenantId, 'its connection was marked as needing to reconnect');
      if (fresh(row.access_token_expires_at)) {
        cached = {
          token: decryptToken(deps.tokenKey, row.access_token_encrypted, tenantId),
          expiresAt: row.access_token_expires_at.getTime(),
        };
        return cached.token;
      }
      return refresh(undefined);
    },
    async refreshAfterRejection(rejected: string) {
      cached = undefined;
      return refresh(rejected);
    },
  };
}

/**
 * The QBO API client for a tenant, as the sync activities use it: its realm, its token source and
 * the shared per-realm limiter. Throws QboError TenantNotConnected without a connection, and
 * QboAuthRevoked when the connection needs a person to reconnect it.
 */
export async function createQboClientForTenant(deps: QboAuthDeps, tenantId: string): Promise<QboClient> {
  const connection = await readConnection(deps.db, tenantId);
  if (!connection) throw notConnected(tenantId);
  if (connection.needsReauth) throw revoked(tenantId, 'its connection was marked as needing to reconnect');
  return createQboClient({
    baseUrl: deps.apiBaseUrl,
    realmId: connection.realmId,
    tokens: createTenantTokenSource(deps, tenantId),
    ...(deps.limiter ? { limiter: deps.limiter } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Disconnect

/**
 * Revokes the tenant's tokens at Intuit (the refresh token: that ends the whole grant) and deletes
 * the stored connection. Returns whether Intuit confirmed the revocation; a token that Intuit
 * already forgot counts as revoked. A network failure leaves the connection in place unless `force`.
 */
export async function disconnectTenant(
  deps: Pick<QboAuthDeps, 'db' | 'oauth' | 'tokenKey'>,
  tenantId: string,
  options: { force?: boolean } = {},
): Promise<{ realmId: string; revoked: boolean } | undefined> {
  const row = await deps.db
    .selectFrom('qbo_connections')
    .select(['realm_id', 'refresh_token_encrypted', 'access_token_encrypted'])
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  if (!row) return undefined;
  let confirmed = false;
  try {
    const client = oauthClient(deps.oauth);
    const refreshToken = decryptToken(deps.tokenKey, row.refresh_token_encrypted, tenantId);
    await call(deps.oauth, client, 'revoke the tokens', () => client.revoke({ refresh_token: refreshToken }));
    confirmed = true;
  } catch (error) {
    const revokedAlready = error instanceof QboError && error.type === FailureType.QboAuthRevoked;
    if (!revokedAlready && !options.force) throw error;
  }
  await deps.db.deleteFrom('qbo_connections').where('tenant_id', '=', tenantId).execute();
  return { realmId: row.realm_id, revoked: confirmed };
}
