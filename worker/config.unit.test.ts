import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  knownVariables,
  loadConfig,
  requireQboApp,
  requireWebhookVerifierToken,
  requireWorkerQboAccess,
} from './config.js';

describe('configuration', () => {
  it('uses embedded defaults when nothing is set', () => {
    const config = loadConfig({ PATH: '/usr/bin', HOME: '/root' });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.localPostgresPort).toBe(5432);
    expect(config.temporal).toMatchObject({
      address: '127.0.0.1:7233',
      namespace: 'default',
      taskQueue: 'qbsync',
      uiPort: 8233,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every documented variable', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://app:secret@db.internal:6543/crm',
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'qbsync-prod',
      TEMPORAL_TASK_QUEUE: 'qbsync-eu',
      QBSYNC_POSTGRES_PORT: '5499',
    });
    expect(config.databaseUrl).toBe('postgres://app:secret@db.internal:6543/crm');
    expect(config.temporal.address).toBe('temporal.internal:7233');
    expect(config.temporal.namespace).toBe('qbsync-prod');
    expect(config.temporal.taskQueue).toBe('qbsync-eu');
    expect(config.localPostgresPort).toBe(5499);
  });

  it('names the variable and the problem for a broken DATABASE_URL, hiding its password', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://u:hunter2@h/db' })).toThrow(ConfigError);
    try {
      loadConfig({ DATABASE_URL: 'mysql://u:hunter2@h/db' });
    } catch (error) {
      expect((error as Error).message).toMatch(/^invalid configuration: DATABASE_URL=.* must be a URL like postgres:/);
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('rejects a TEMPORAL_ADDRESS without a port and a non-numeric port', () => {
    expect(() => loadConfig({ TEMPORAL_ADDRESS: 'localhost' })).toThrow(
      /TEMPORAL_ADDRESS="localhost" must be host:port/,
    );
    expect(() => loadConfig({ QBSYNC_POSTGRES_PORT: 'abc' })).toThrow(/QBSYNC_POSTGRES_PORT/);
    expect(() => loadConfig({ QBSYNC_POSTGRES_PORT: '70000' })).toThrow(/QBSYNC_POSTGRES_PORT/);
  });

  it('rejects an unknown variable with one of our prefixes, as a likely typo', () => {
    expect(() => loadConfig({ TEMPORAL_ADRESS: '127.0.0.1:7233' })).toThrow(
      /unknown configuration variable TEMPORAL_ADRESS/,
    );
    expect(() => loadConfig({ QBSYNC_DATADIR: '/tmp' })).toThrow(/QBSYNC_DATADIR/);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', TEMPORAL_NAMESPACE: '' }).temporal.namespace).toBe('default');
  });

  it('lists its variables for the README and docker-compose checks', () => {
    expect(knownVariables).toContain('DATABASE_URL');
    expect(knownVariables).toContain('TEMPORAL_TASK_QUEUE');
  });
});

describe('QuickBooks configuration (issue 6)', () => {
  it('R1: reads the OAuth app and the simulator overrides, defaulting to the sandbox environment', () => {
    const config = loadConfig({
      QBO_CLIENT_ID: 'ABsim1',
      QBO_CLIENT_SECRET: 'shh',
      QBO_API_BASE_URL: 'http://127.0.0.1:8911',
      QBO_OAUTH_BASE_URL: 'http://127.0.0.1:8911',
      QBSYNC_SERVE_PORT: '3001',
    });
    expect(config.qbo).toMatchObject({
      clientId: 'ABsim1',
      clientSecret: 'shh',
      environment: 'sandbox',
      apiBaseUrl: 'http://127.0.0.1:8911',
      oauthBaseUrl: 'http://127.0.0.1:8911',
      redirectUri: undefined,
    });
    expect(config.servePort).toBe(3001);
    expect(requireQboApp(config)).toEqual({ clientId: 'ABsim1', clientSecret: 'shh' });
  });

  it('R1: names missing OAuth credentials and refuses a bad environment or URL', () => {
    expect(() => requireQboApp(loadConfig({ QBO_CLIENT_ID: 'x' }))).toThrow(/^QBO_CLIENT_SECRET not set/);
    expect(() => loadConfig({ QBO_ENVIRONMENT: 'prod' })).toThrow(/QBO_ENVIRONMENT/);
    expect(() => loadConfig({ QBO_REDIRECT_URI: 'ftp://x' })).toThrow(
      /QBO_REDIRECT_URI="ftp:\/\/x" must be an http\(s\) URL/,
    );
  });

  it('a worker needs the OAuth app and the token key, and names the ones missing', () => {
    expect(() => requireWorkerQboAccess(loadConfig({}))).toThrow(
      /^a worker cannot reach QuickBooks without QBO_CLIENT_ID, QBO_CLIENT_SECRET, QBSYNC_TOKEN_KEY: set them/,
    );
    expect(() => requireWorkerQboAccess(loadConfig({ QBO_CLIENT_ID: 'x', QBO_CLIENT_SECRET: 'y' }))).toThrow(
      /without QBSYNC_TOKEN_KEY: set it/,
    );
    const complete = loadConfig({
      QBO_CLIENT_ID: 'x',
      QBO_CLIENT_SECRET: 'y',
      QBSYNC_TOKEN_KEY: Buffer.alloc(32, 7).toString('base64'),
    });
    expect(() => requireWorkerQboAccess(complete)).not.toThrow();
  });

  it('webhooks: the receiver needs the verifier token, on port 8090 unless told, and never shows the token', () => {
    const unset = loadConfig({});
    expect(unset.webhooks.port).toBe(8090);
    expect(() => requireWebhookVerifierToken(unset)).toThrow(/^QBO_WEBHOOK_VERIFIER_TOKEN is not set/);
    const set = loadConfig({ QBO_WEBHOOK_VERIFIER_TOKEN: 'verifier-token', QBSYNC_WEBHOOKS_PORT: '9443' });
    expect(requireWebhookVerifierToken(set)).toBe('verifier-token');
    expect(set.webhooks.port).toBe(9443);
    // A bad neighbour in the same environment reports the token hidden, never in clear.
    expect(() => loadConfig({ QBO_WEBHOOK_VERIFIER_TOKEN: '   ', QBSYNC_WEBHOOKS_PORT: 'x' })).toThrow(
      /QBO_WEBHOOK_VERIFIER_TOKEN="<3 characters, hidden>" must not be empty.*QBSYNC_WEBHOOKS_PORT="x"/,
    );
  });

  it('worker memory, metrics and pages per activity: defaults, explicit settings, and a bad value named', () => {
    expect(loadConfig({}).worker).toEqual({
      maxCachedWorkflows: 50,
      reuseV8Context: true,
      metricsPort: undefined,
      pagesPerActivity: 20,
    });
    expect(
      loadConfig({
        QBSYNC_MAX_CACHED_WORKFLOWS: '0',
        QBSYNC_REUSE_V8_CONTEXT: 'false',
        QBSYNC_METRICS_PORT: '9464',
        QBSYNC_PAGES_PER_ACTIVITY: '1',
      }).worker,
    ).toEqual({ maxCachedWorkflows: 0, reuseV8Context: false, metricsPort: 9464, pagesPerActivity: 1 });
    expect(() => loadConfig({ QBSYNC_PAGES_PER_ACTIVITY: '0' })).toThrow(
      /QBSYNC_PAGES_PER_ACTIVITY="0" must be 1 or more/,
    );
    expect(() => loadConfig({ QBSYNC_MAX_CACHED_WORKFLOWS: '-1' })).toThrow(
      /QBSYNC_MAX_CACHED_WORKFLOWS="-1" must be 0 or more/,
    );
    expect(() => loadConfig({ QBSYNC_REUSE_V8_CONTEXT: 'yes' })).toThrow(
      /QBSYNC_REUSE_V8_CONTEXT="yes" must be true or false/,
    );
    expect(() => loadConfig({ QBSYNC_METRICS_PORT: '70000' })).toThrow(/QBSYNC_METRICS_PORT="70000" must be a port/);
  });
});
