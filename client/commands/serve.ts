import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../../worker/config.js';
import { portArg } from './args.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

/** `qbsync serve`: the onboarding page and the OAuth callback. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the onboarding page (connect, settings, preview, start, status) and the OAuth callback')
    .option('--port <n>', 'TCP port (default QBSYNC_SERVE_PORT, 8080)', portArg)
    .option(
      '--host <address>',
      'interface to listen on; other than loopback, QBSYNC_SERVE_AUTH must be set (see the README)',
      '127.0.0.1',
    )
    .action(async (options: { port?: number; host: string }) => {
      const config = loadConfig(process.env);
      const { openOnboarding, redirectUriOf } = await import('../onboarding/deps.js');
      const { requireAuthBeyondLoopback, startOnboardingServer } = await import('../onboarding/server.js');
      requireAuthBeyondLoopback(options.host, config.serveAuth);
      const opened = await openOnboarding(config, log);
      let server;
      try {
        server = await startOnboardingServer(opened.deps, {
          port: options.port ?? config.servePort,
          host: options.host,
          auth: config.serveAuth,
          log: (line) => process.stderr.write(`${line}\n`),
        });
      } catch (error) {
        await opened.close();
        if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new InvalidArgumentError(
            `port ${options.port ?? config.servePort} is in use; pick another with --port`,
          );
        }
        throw error;
      }
      log(`Onboarding page: ${server.url}/ (OAuth callback ${redirectUriOf(config)})`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
      await opened.close();
    });
}
