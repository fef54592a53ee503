import net from 'node:net';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { findTemporal, startDevServer, type RunningDevServer } from '../worker/temporal-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
  }
}

let server: RunningDevServer | undefined;

/**
 * One real Temporal dev server (in memory, headless) for the whole integration run. The binary
 * comes from `qbsync setup`, which `npm test` runs first; without it the run fails loudly.
 */
export async function setup(project: TestProject): Promise<void> {
  const found = findTemporal({
    cliPath: process.env['TEMPORAL_CLI_PATH'],
    pathVariable: process.env['PATH'],
    dataDir: '.data',
  });
  if (!found) {
    throw new Error(
      'integration tests need the Temporal CLI and none was found. Run "npm run setup" (it installs it with go install), or set TEMPORAL_CLI_PATH.',
    );
  }
  const port = await freePort();
  server = await startDevServer({
    binary: found.path,
    port,
    uiPort: undefined,
    dbFile: undefined,
    namespace: 'default',
  });
  project.provide('temporalAddress', server.address);
  project.provide('temporalNamespace', 'default');
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
