/**
 * Intuit OAuth 2.0 as the simulator serves it: authorization codes (single use), bearer access
 * tokens that expire, refresh tokens that rotate with a grace period for the superseded one, and
 * revocation. Token endpoint errors use OAuth's `{"error":"invalid_grant"}` form.
 */
import { randomBytes } from 'node:crypto';
import { faults } from './faults.js';

export interface OAuthOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Access token lifetime; Intuit's is 3600 s. */
  readonly accessTokenTtlMs: number;
  /** Rolling refresh token lifetime reported as x_refresh_token_expires_in; Intuit's is about 100 days. */
  readonly refreshTokenTtlMs: number;
  /** How long a superseded refresh token keeps working after a new one is issued; Intuit's is 24 h. */
  readonly refreshGraceMs: number;
  /** Hard cap on a connection's refresh tokens (x_refresh_token_hard_expires_in); 5 years (UNCONFIRMED). */
  readonly refreshHardTtlMs: number;
  readonly now: () => number;
}

interface Grant {
  readonly realmId: string;
  readonly createdAt: number;
  revoked: boolean;
  latestRefresh: string;
}

interface AccessToken {
  readonly grant: Grant;
  expiresAt: number;
}

interface RefreshToken {
  readonly grant: Grant;
  readonly expiresAt: number;
  supersededAt: number | undefined;
}

interface AuthCode {
  readonly realmId: string;
  readonly redirectUri: string;
  readonly clientId: string;
  readonly expiresAt: number;
  used: boolean;
}

export interface TokenReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const CODE_TTL_MS = 5 * 60_000;

/** Holds every code and token the simulator issued. */
export class OAuthServer {
  private readonly codes = new Map<string, AuthCode>();
  private readonly access = new Map<string, AccessToken>();
  private readonly refresh = new Map<string, RefreshToken>();

  constructor(readonly options: OAuthOptions) {}

  checkClient(authorization: string | undefined): boolean {
    if (!authorization?.startsWith('Basic ')) return false;
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return (
      colon > 0 &&
      decodeURIComponent(decoded.slice(0, colon)) === this.options.clientId &&
      decodeURIComponent(decoded.slice(colon + 1)) === this.options.clientSecret
    );
  }

  /** Issues a single-use authorization code for a realm (what Connect on the consent page does). */
  issueCode(realmId: string, redirectUri: string, clientId: string): string {
    const code = `AB11${randomBytes(24).toString('hex')}`;
    this.codes.set(code, { realmId, redirectUri, clientId, expiresAt: this.options.now() + CODE_TTL_MS, used: false });
    return code;
  }

  /** Handles POST /oauth2/v1/tokens/bearer after client authentication. */
  token(params: URLSearchParams, hardExpiry: boolean): TokenReply {
    const grantType = params.get('grant_type');
    const now = this.options.now();
    if (grantType === 'authorization_code') {
      const code = this.codes.get(params.get('code') ?? '');
      if (!code || code.used || code.expiresAt < now)
        return invalidGrant('authorization code is invalid, expired or already used');
      if ((params.get('redirect_uri') ?? '') !== code.redirectUri)
        return invalidGrant('redirect_uri does not match the authorization request');
      code.used = true;
      const grant: Grant = { realmId: code.realmId, createdAt: now, revoked: false, latestRefresh: '' };
      return { status: 200, body: this.issue(grant, true, hardExpiry) };
    }
    if (grantType === 'refresh_token') {
      const presented = params.get('refresh_token') ?? '';
      const token = this.refresh.get(presented);
      if (!token || token.grant.revoked || token.expiresAt < now)
        return invalidGrant('refresh token is invalid or revoked');
      if (token.supersededAt !== undefined && now > token.supersededAt + this.options.refreshGraceMs)
        return invalidGrant('refresh token was rotated and its grace period has ended');
      if (token.grant.createdAt + this.options.refreshHardTtlMs < now)
        return invalidGrant('refresh token passed its hard expiry');
      // A superseded token inside its grace period gets a new access token and the current refresh
      // token rather than a new rotation (UNCONFIRMED: Intuit documents only that it still works).
      const rotate = token.supersededAt === undefined;
      return { status: 200, body: this.issue(token.grant, rotate, hardExpiry) };
    }
    return {
      status: 400,
      body: {
        error: 'unsupported_grant_type',
        error_description: `grant_type ${grantType ?? '(missing)'} is not supported`,
      },
    };
  }

  private issue(grant: Grant, rotate: boolean, hardExpiry: boolean): Record<string, unknown> {
    const now = this.options.now();
    const accessToken = `eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..${randomBytes(32).toString('base64url')}`;
    this.access.set(accessToken, { grant, expiresAt: now + this.options.accessTokenTtlMs });
    if (rotate) {
      const previous = this.refresh.get(grant.latestRefresh);
      if (previous) previous.supersededAt = now;
      const refreshToken = `RT1-${randomBytes(20).toString('hex')}`;
      this.refresh.set(refreshToken, {
        grant,
        expiresAt: now + this.options.refreshTokenTtlMs,
        supersededAt: undefined,
      });
      grant.latestRefresh = refreshToken;
    }
    const body: Record<string, unknown> = {
      token_type: 'bearer',
      access_token: accessToken,
      expires_in: Math.round(this.options.accessTokenTtlMs / 1000),
      refresh_token: grant.latestRefresh,
      x_refresh_token_expires_in: Math.round(this.options.refreshTokenTtlMs / 1000),
    };
    if (hardExpiry)
      body['x_refresh_token_hard_expires_in'] = Math.max(
        0,
        Math.round((grant.createdAt + this.options.refreshHardTtlMs - now) / 1000),
      );
    return body;
  }

  /** Revokes the connection an access or refresh token belongs to. False when the token is unknown. */
  revoke(token: string): boolean {
    const grant = this.access.get(token)?.grant ?? this.refresh.get(token)?.grant;
    if (!grant) return false;
    grant.revoked = true;
    return true;
  }

  /** Checks a bearer token for a realm; throws the 401 (3200) or 403 (3201) fault. */
  authenticate(authorization: string | undefined, realmId: string): void {
    if (!authorization?.startsWith('Bearer '))
      throw faults.authentication('Authorization header missing or not a Bearer token');
    const token = this.access.get(authorization.slice(7).trim());
    if (!token) throw faults.authentication('Token invalid or unknown');
    if (token.grant.revoked) throw faults.authentication('Token revoked');
    if (token.expiresAt <= this.options.now()) throw faults.authentication('Token expired');
    if (token.grant.realmId !== realmId) throw faults.authorization(`The token was not issued for company ${realmId}`);
  }

  /** Expires every access token (of one realm, or all): the next API call gets 401 3200. */
  expireAccessTokens(realmId?: string): number {
    let n = 0;
    const now = this.options.now();
    for (const token of this.access.values()) {
      if (realmId === undefined || token.grant.realmId === realmId) {
        token.expiresAt = Math.min(token.expiresAt, now);
        n++;
      }
    }
    return n;
  }
}

function invalidGrant(description: string): TokenReply {
  return { status: 400, body: { error: 'invalid_grant', error_description: description } };
}
