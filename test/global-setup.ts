import net from 'node:net';
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { findTemporal, startDevServer, type RunningDevServer } from '../worker/temporal-server.js';
import { ensureWorkflowBundle } from '../worker/workflow-bundle.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
  }
}

let server: RunningDevServer | undefined;

/**
 * One real Temporal dev server (in memory, headless) for the whole integration run. The binary
 * comes from `qbsync setup`, which `npm test` runs first; without it the run fails loudly. The
 * workflow bundle of today's sources is built meanwhile, so that no test's time goes into it.
 */
export async function setup(project: TestProject): Promise<void> {
  [server] = await Promise.all([startTestTemporal(), ensureWorkflowBundle()]);
  project.provide('temporalAddress', server.address);
  project.provide('temporalNamespace', 'default');
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

/**
 * A port nothing listens on, reserved for the next minute. Closing a bare listener is not enough:
 * until the test's server binds the port, the kernel may hand it to any other bind(0) (the Temporal
 * dev server picks ports for its own services that way) or to an outgoing connection as its local
 * port, and the server then fails to bind. A connection that the listening side closes first leaves
 * the port in TIME_WAIT, which the kernel skips when it picks ports, while a server that sets
 * SO_REUSEADDR (Node, Go and Temporal all do) can still bind it. The Temporal CLI reserves its own
 * ports the same way.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.once('connection', (accepted) => {
      const port = (probe.address() as net.AddressInfo).port;
      accepted.destroy();
      probe.close(() => resolve(port));
    });
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      const client = net.connect(port, '127.0.0.1');
      client.once('error', reject);
      // The client closes only after the listening side has closed, so TIME_WAIT lands on the port.
      client.once('end', () => client.destroy());
    });
  });
}

/** The Temporal CLI that `npm run setup` installed, for tests, benchmarks and scripts; throws when there is none. */
export function temporalCliPath(): string {
  const found = findTemporal({
    cliPath: process.env['TEMPORAL_CLI_PATH'],
    pathVariable: process.env['PATH'],
    dataDir: '.data',
  });
  if (!found) {
    throw new Error(
      'the Temporal CLI was not found. Run "npm run setup" (it installs it with go install), or set TEMPORAL_CLI_PATH.',
    );
  }
  return found.path;
}

/** A headless in-memory Temporal dev server on a free port, for a benchmark or a test run. */
export async function startTestTemporal(dbFile?: string, port?: number): Promise<RunningDevServer> {
  return startDevServer({
    binary: temporalCliPath(),
    port: port ?? (await freePort()),
    uiPort: undefined,
    dbFile,
    namespace: 'default',
    log: (line) => console.warn(line),
  });
}
