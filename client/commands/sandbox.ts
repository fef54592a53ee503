import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from '../cli-errors.js';

interface SandboxOptions {
  port: number;
  host: string;
  seed: number;
  companies: number;
  customers: number;
  transactions: number;
  autoConsent?: boolean;
  load?: string;
  json?: boolean;
  webhookUrl?: string;
  webhookFormat: 'legacy' | 'cloudevents';
  verifierToken?: string;
  clientId?: string;
  clientSecret?: string;
  rateLimits: boolean;
  accessTokenTtl: number;
  refreshGrace: number;
  timeZone?: string;
  redirectUri?: string[];
}

function integer(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
}

/** Adds `qbsync sandbox`: runs the QuickBooks Online simulator in the foreground. */
export function registerSandboxCommand(program: Command): void {
  program
    .command('sandbox')
    .description('run the QuickBooks Online simulator (OAuth, query, CDC, webhooks, admin API under /__sim/)')
    .option('--port <n>', 'TCP port (0 picks a free one)', integer('--port', 0, 65535), 8911)
    .option('--host <address>', 'interface to listen on', '127.0.0.1')
    .option('--seed <n>', 'seed of the deterministic data generator', integer('--seed', 0, 4294967295), 1)
    .option('--companies <n>', 'number of generated companies (realms)', integer('--companies', 1, 100), 1)
    .option('--customers <n>', 'customers per company', integer('--customers', 0, 2_000_000), 200)
    .option('--transactions <n>', 'transactions per company', integer('--transactions', 0, 5_000_000), 1000)
    .option('--auto-consent', 'skip the consent page: /connect/oauth2 redirects at once')
    .option('--load <dir>', 'load the first company from recorded QBO JSON responses in DIR')
    .option('--json', 'print baseUrl, clientId, clientSecret and realmIds as one JSON line')
    .option('--webhook-url <url>', 'send signed webhooks for every change to this URL')
    .addOption(
      new Option('--webhook-format <format>', 'webhook payload format')
        .choices(['legacy', 'cloudevents'])
        .default('cloudevents'),
    )
    .option('--verifier-token <token>', 'webhook verifier token (default: random, printed)')
    .option('--client-id <id>', 'OAuth client id to accept (default: derived from the seed)')
    .option('--client-secret <secret>', 'OAuth client secret to accept (default: derived from the seed)')
    .option('--no-rate-limits', 'turn off the 500 requests/minute and 10 concurrent limits')
    .option('--access-token-ttl <seconds>', 'access token lifetime', integer('--access-token-ttl', 1, 31_536_000), 3600)
    .option(
      '--refresh-grace <seconds>',
      'how long a rotated refresh token still works',
      integer('--refresh-grace', 0, 31_536_000),
      86_400,
    )
    .option('--time-zone <zone>', 'IANA time zone of the companies (default America/Toronto)')
    .option(
      '--redirect-uri <uri>',
      "OAuth redirect URI registered for the app, as on Intuit's developer portal (repeatable; default: any loopback URI)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .action(async (options: SandboxOptions) => {
      if (options.webhookUrl && !/^https?:\/\//.test(options.webhookUrl))
        throw new UsageError('--webhook-url must be an http(s) URL');
      if (options.timeZone) {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: options.timeZone });
        } catch {
          throw new UsageError(`--time-zone ${options.timeZone} is not an IANA time zone (e.g. America/Toronto)`);
        }
      }
      const { startSimulator, LoadError } = await import('../../sandbox/index.js');
      const log = (line: string) => process.stdout.write(`${line}\n`);
      const started = Date.now();
      let running;
      try {
        running = await startSimulator({
          port: options.port,
          host: options.host,
          seed: options.seed,
          companies: options.companies,
          customers: options.customers,
          transactions: options.transactions,
          autoConsent: options.autoConsent ?? false,
          rateLimits: { enabled: options.rateLimits },
          accessTokenTtlSeconds: options.accessTokenTtl,
          refreshGraceSeconds: options.refreshGrace,
          webhooks: { format: options.webhookFormat, ...(options.webhookUrl ? { url: options.webhookUrl } : {}) },
          ...(options.load ? { loadDir: options.load } : {}),
          ...(options.verifierToken ? { verifierToken: options.verifierToken } : {}),
          ...(options.clientId ? { clientId: options.clientId } : {}),
          ...(options.clientSecret ? { clientSecret: options.clientSecret } : {}),
          ...(options.timeZone ? { timeZone: options.timeZone } : {}),
          ...(options.redirectUri ? { redirectUris: options.redirectUri } : {}),
        });
      } catch (err) {
        if (err instanceof LoadError) throw new UsageError(err.message);
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
          throw new UsageError(`port ${options.port} is in use; pick another with --port (0 picks a free one)`);
        throw err;
      }
      if (options.json) log(JSON.stringify(running.summary()));
      else {
        log(`QuickBooks Online simulator ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        log(`  Base URL       ${running.baseUrl}  (API /v3/company/{realmId}/…, admin ${running.baseUrl}/__sim/)`);
        log(`  Authorize      ${running.oauthUrls.authorizeEndpoint}${options.autoConsent ? ' (auto-consent)' : ''}`);
        log(`  Token          ${running.oauthUrls.tokenEndpoint}`);
        log(`  Client id      ${running.clientId}`);
        log(`  Client secret  ${running.clientSecret}`);
        log(`  Verifier token ${running.verifierToken}`);
        for (const realmId of running.realmIds) log(`  Realm id       ${realmId}`);
        log('Press Ctrl-C to stop.');
      }
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await running.stop();
    });
}
