import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, requireTokenKey } from '../worker/config.js';
import { decryptToken, encryptToken, parseTokenKey, TokenDecryptError, TokenKeyError } from './token-crypto.js';

const key = randomBytes(32);

describe('token encryption (AES-256-GCM)', () => {
  it('round-trips a token, with a fresh IV each time, never showing it in clear', () => {
    const token = 'AB11-refresh-token-é';
    const first = encryptToken(key, token, 'acme');
    const second = encryptToken(key, token, 'acme');
    expect(first).toMatch(/^v1:[\w-]+:[\w-]+:[\w-]+$/);
    expect(first).not.toBe(second);
    expect(first).not.toContain('refresh');
    expect(decryptToken(key, first, 'acme')).toBe(token);
  });

  it('refuses a wrong key, a wrong context (another tenant), a tampered value or a clear token', () => {
    const stored = encryptToken(key, 'secret', 'acme');
    expect(() => decryptToken(randomBytes(32), stored, 'acme')).toThrow(TokenDecryptError);
    expect(() => decryptToken(key, stored, 'other-tenant')).toThrow(TokenDecryptError);
    const parts = stored.split(':');
    const flipped = [parts[0], parts[1], parts[2], Buffer.from('tampered!').toString('base64url')].join(':');
    expect(() => decryptToken(key, flipped, 'acme')).toThrow(TokenDecryptError);
    expect(() => decryptToken(key, 'secret', 'acme')).toThrow(/not an encrypted token/);
    try {
      decryptToken(randomBytes(32), stored, 'acme');
    } catch (error) {
      expect(String(error)).not.toContain(stored);
    }
  });

  it('parses a key from 64 hex digits or base64, and refuses other lengths', () => {
    expect(parseTokenKey(key.toString('hex'))).toEqual(key);
    expect(parseTokenKey(key.toString('base64'))).toEqual(key);
    expect(parseTokenKey(key.toString('base64url'))).toEqual(key);
    expect(() => parseTokenKey(randomBytes(16).toString('base64'))).toThrow(TokenKeyError);
    expect(() => parseTokenKey('not a key!')).toThrow(TokenKeyError);
    expect(() => encryptToken(randomBytes(16), 'x')).toThrow(TokenKeyError);
  });
});

describe('QBSYNC_TOKEN_KEY configuration', () => {
  it('is optional, and decoded when present', () => {
    expect(loadConfig({}).tokenKey).toBeUndefined();
    expect(loadConfig({ QBSYNC_TOKEN_KEY: key.toString('base64') }).tokenKey).toEqual(key);
    expect(() => requireTokenKey(loadConfig({}))).toThrow(/QBSYNC_TOKEN_KEY is not set/);
  });

  it('a bad key is a clear configuration error that does not print the key', () => {
    const bad = randomBytes(20).toString('hex');
    expect(() => loadConfig({ QBSYNC_TOKEN_KEY: bad })).toThrow(ConfigError);
    try {
      loadConfig({ QBSYNC_TOKEN_KEY: bad });
    } catch (error) {
      expect(String(error)).toMatch(/QBSYNC_TOKEN_KEY.*32 bytes/);
      expect(String(error)).not.toContain(bad);
    }
  });
});
