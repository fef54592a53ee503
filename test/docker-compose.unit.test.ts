import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { searchAttributeTypes } from '../common/search-attributes.js';
import { knownVariables, loadConfig, requireWorkerQboAccess } from '../worker/config.js';
import { repoRoot } from './cli.js';

interface ComposeService {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, ComposeService>;
};
const qbsyncServices = Object.entries(compose.services).filter(([, service]) => service.build !== undefined);

/** What the operator's shell would give the `${NAME:?why}` settings compose insists on. */
const operatorShell: Record<string, string> = {
  QBSYNC_TOKEN_KEY: Buffer.alloc(32, 7).toString('base64'),
  QBO_CLIENT_ID: 'client-id',
  QBO_CLIENT_SECRET: 'client-secret',
};

/** The environment as compose hands it over: `${NAME:-default}` and `${NAME:?why}` interpolated. */
function interpolated(environment: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => [
      name,
      value.replace(/\$\{(\w+):([-?])([^}]*)\}/g, (_, variable: string, kind: string, rest: string) => {
        if (kind === '-') return operatorShell[variable] ?? rest;
        const given = operatorShell[variable];
        if (given === undefined) throw new Error(`compose requires ${variable} and the test gives none`);
        return given;
      }),
    ]),
  );
}

describe('docker-compose.yml', () => {
  it('defines PostgreSQL, a Temporal server with its UI, and the worker', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'temporal', 'worker']));
    expect(compose.services['temporal']?.command).toEqual(expect.arrayContaining(['start-dev', '--ui-port']));
    expect(compose.services['worker']?.command).toEqual(['worker']);
  });

  it('sets only variables the configuration knows, with values it accepts', () => {
    expect(qbsyncServices.length).toBeGreaterThan(0);
    for (const [name, service] of qbsyncServices) {
      const environment = interpolated(service.environment);
      for (const variable of Object.keys(environment)) {
        expect(knownVariables, `${name} sets ${variable}`).toContain(variable);
      }
      expect(() => loadConfig(environment)).not.toThrow();
    }
  });

  it('points the worker at the compose PostgreSQL and Temporal services', () => {
    const worker = loadConfig(interpolated(compose.services['worker']?.environment));
    expect(() => requireWorkerQboAccess(worker)).not.toThrow();
    expect(new URL(worker.databaseUrl ?? '').hostname).toBe('postgres');
    expect(worker.temporal.address).toBe('temporal:7233');
    expect(compose.services['worker']?.depends_on?.['migrate']?.condition).toBe('service_completed_successfully');
  });

  it("registers qbsync's search attributes with the Temporal server", () => {
    const command = compose.services['temporal']?.command ?? [];
    for (const [name, type] of Object.entries(searchAttributeTypes)) expect(command).toContain(`${name}=${type}`);
  });
});
