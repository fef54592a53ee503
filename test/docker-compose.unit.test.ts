import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { searchAttributeTypes } from '../common/search-attributes.js';
import { knownVariables, loadConfig } from '../worker/config.js';
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

describe('docker-compose.yml', () => {
  it('defines PostgreSQL, a Temporal server with its UI, and the worker', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'temporal', 'worker']));
    expect(compose.services['temporal']?.command).toEqual(expect.arrayContaining(['start-dev', '--ui-port']));
    expect(compose.services['worker']?.command).toEqual(['worker']);
  });

  it('sets only variables the configuration knows, with values it accepts', () => {
    expect(qbsyncServices.length).toBeGreaterThan(0);
    for (const [name, service] of qbsyncServices) {
      const environment = service.environment ?? {};
      for (const variable of Object.keys(environment)) {
        expect(knownVariables, `${name} sets ${variable}`).toContain(variable);
      }
      expect(() => loadConfig(environment)).not.toThrow();
    }
  });

  it('points the worker at the compose PostgreSQL and Temporal services', () => {
    const worker = loadConfig(compose.services['worker']?.environment ?? {});
    expect(new URL(worker.databaseUrl ?? '').hostname).toBe('postgres');
    expect(worker.temporal.address).toBe('temporal:7233');
    expect(compose.services['worker']?.depends_on?.['migrate']?.condition).toBe('service_completed_successfully');
  });

  it("registers qbsync's search attributes with the Temporal server", () => {
    const command = compose.services['temporal']?.command ?? [];
    for (const [name, type] of Object.entries(searchAttributeTypes)) expect(command).toContain(`${name}=${type}`);
  });
});
