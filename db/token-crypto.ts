import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Tenant OAuth tokens at rest: AES-256-GCM with a 32-byte key from configuration
 * (QBSYNC_TOKEN_KEY). Stored form: `v1:<iv>:<tag>:<ciphertext>`, each part base64url, with a fresh
 * 12-byte IV per value. The optional context (the tenant id, say) is bound as associated data, so a
 * token copied onto another tenant's row fails to decrypt.
 */
export class TokenKeyError extends Error {
  override readonly name = 'TokenKeyError';
}

export class TokenDecryptError extends Error {
  override readonly name = 'TokenDecryptError';
}

const keyBytes = 32;
const ivBytes = 12;

/** A key written as 64 hex digits or as base64 (standard or url-safe) of exactly 32 bytes. */
export function parseTokenKey(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    const decoded = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (decoded.length === keyBytes) return decoded;
    throw new TokenKeyError(`must be 32 bytes; this base64 decodes to ${decoded.length} bytes`);
  }
  throw new TokenKeyError('must be 32 bytes written as 64 hex digits or as base64 (openssl rand -base64 32)');
}

export function encryptToken(key: Uint8Array, plaintext: string, context = ''): string {
  checkKey(key);
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join(':');
}

export function decryptToken(key: Uint8Array, stored: string, context = ''): string {
  checkKey(key);
  const parts = stored.split(':');
  if (parts.length !== 4 || parts[0] !== 'v1')
    throw new TokenDecryptError('not an encrypted token (expected v1:iv:tag:ciphertext)');
  const [, iv = '', tag = '', ciphertext = ''] = parts;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    // Never echo the stored value or the key: the message is safe to log.
    throw new TokenDecryptError(
      'token does not decrypt with this key and context (wrong QBSYNC_TOKEN_KEY, or tampered)',
    );
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== keyBytes) throw new TokenKeyError(`must be 32 bytes, got ${key.length}`);
}
