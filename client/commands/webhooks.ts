import type { Command } from 'commander';
import { loadConfig, requireWebhookVerifierToken } from '../../worker/config.js';
import { portArg } from './args.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

/** `qbsync webhooks`: the QuickBooks webhook receiver, on its own port (see the README's Webhooks section). */
export function registerWebhooksCommand(program: Command): void {
  program
    .command('webhooks')
    .description(
      "receive QuickBooks webhooks (both of Intuit's formats, signed with QBO_WEBHOOK_VERIFIER_TOKEN) and ask each tenant's workflow for a pass",
    )
    .option('--port <n>', 'TCP port (default QBSYNC_WEBHOOKS_PORT, 8090)', portArg)
    .option('--host <address>', 'interface to listen on (behind a TLS reverse proxy, usually loopback)', '127.0.0.1')
    .action(async (options: { port?: number; host: string }) => {
      const config = loadConfig(process.env);
      const verifierToken = requireWebhookVerifierToken(config);
      const { connectClient, openDatabase } = await import('../connections.js');
      const { assertMigrated } = await import('../../worker/main.js');
      const { startWebhookReceiver } = await import('../webhooks/receiver.js');
      const database = await openDatabase(config, log);
      let temporal;
      let receiver;
      try {
        await assertMigrated(database.db);
        temporal = await connectClient(config);
        receiver = await startWebhookReceiver({
          db: database.db,
          temporal,
          verifierToken,
          environment: config.qbo.environment,
          host: options.host,
          port: options.port ?? config.webhooks.port,
          log: (line) => process.stderr.write(`${line}\n`),
        });
      } catch (error) {
        await temporal?.connection.close();
        await database.close();
        throw error;
      }
      log(`Webhook receiver: ${receiver.url} (QuickBooks ${config.qbo.environment} companies)`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await receiver.close();
      await temporal.connection.close();
      await database.close();
    });
}
