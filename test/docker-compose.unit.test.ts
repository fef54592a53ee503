import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { searchAttributeTypes } from '../common/search-attributes.js';
import { knownVariables, loadConfig, requireWorkerQboAccess } from '../worker/config.js';
import { workerMallocArenaMax, workerNodeFlags } from '../worker/v8-settings.js';
import { repoRoot } from './cli.js';

interface ComposeService {
  image?: string;
  build?: string;
  profiles?: string[];
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  ports?: string[];
  expose?: string[];
  networks?: Record<string, { aliases?: string[] }>;
}

const compose = parse(readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, ComposeService>;
};
const qbsyncServices = Object.entries(compose.services).filter(([, service]) => service.build !== undefined);

/** The services `docker compose --profile NAME up` starts: those of the profile and those of none. */
function servicesOf(profile: string): string[] {
  return Object.entries(compose.services)
    .filter(([, service]) => service.profiles === undefined || service.profiles.includes(profile))
    .map(([name]) => name);
}

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

  it('keeps the dev profile: the dev server, the migration and the worker, and nothing of production', () => {
    expect(servicesOf('dev').sort()).toEqual(['migrate', 'postgres', 'temporal', 'worker']);
  });

  it('production: Temporal on PostgreSQL from its own images, schema by its SQL tool, the Web UI, and a scalable worker', () => {
    expect(servicesOf('production').sort()).toEqual(
      [
        'migrate',
        'postgres',
        'temporal-namespace',
        'temporal-schema',
        'temporal-server',
        'temporal-ui',
        'worker',
      ].sort(),
    );
    const server = compose.services['temporal-server']!;
    expect(server.image).toMatch(/^temporalio\/server:1\.29\.1$/);
    expect(server.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
    // The worker's TEMPORAL_ADDRESS (temporal:7233) reaches it in this profile too.
    expect(server.networks?.['default']?.aliases).toContain('temporal');
    expect(server.depends_on?.['temporal-schema']?.condition).toBe('service_completed_successfully');

    const schema = compose.services['temporal-schema']!;
    expect(schema.image).toMatch(/^temporalio\/admin-tools:1\.29\.1$/);
    const setup = (schema.command ?? []).join('\n');
    for (const step of ['create-database', 'setup-schema', 'update-schema --schema-name postgresql/v12/$$dir'])
      expect(setup).toContain(step);
    expect(schema.environment).toMatchObject({ SQL_PLUGIN: 'postgres12', SQL_HOST: 'postgres' });

    const namespace = (compose.services['temporal-namespace']?.command ?? []).join('\n');
    expect(namespace).toContain('temporal operator namespace create --namespace default');
    for (const [name, type] of Object.entries(searchAttributeTypes)) expect(namespace).toContain(`${name}=${type}`);

    expect(compose.services['temporal-ui']?.image).toMatch(/^temporalio\/ui:/);
    expect(compose.services['temporal-ui']?.ports).toContain('8080:8080');

    // --scale worker=N: no fixed host port to fight over, and each replica waits for whichever server runs.
    const worker = compose.services['worker']!;
    expect(worker.ports).toBeUndefined();
    expect(worker.depends_on?.['temporal']).toMatchObject({ condition: 'service_healthy', required: false });
    expect(worker.depends_on?.['temporal-namespace']).toMatchObject({ required: false });
  });

  it('has the worker serve Prometheus metrics on the port it exposes, with its cache settings the config knows', () => {
    const worker = compose.services['worker']!;
    const config = loadConfig(interpolated(worker.environment));
    expect(config.worker.metricsPort).toBe(9464);
    expect(worker.expose).toContain('9464');
    expect(config.worker.maxCachedWorkflows).toBeGreaterThan(0);
    expect(config.worker.reuseV8Context).toBe(true);
  });
});

describe('the worker image (Dockerfile)', () => {
  it('issue 16, worker memory: starts the worker with the malloc arenas the benchmarks measured', () => {
    const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const arenas = /^ENV MALLOC_ARENA_MAX=(\S+)$/m.exec(dockerfile)?.[1];
    expect(arenas).toBe(workerMallocArenaMax);
    expect(dockerfile).toMatch(/^CMD \["worker"\]$/m);
  });

  it("issue 16, worker memory: starts node with the flags the benchmarks' workers run with", () => {
    const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(entrypoint).toBeDefined();
    expect(JSON.parse(entrypoint ?? '[]')).toEqual(['node', ...workerNodeFlags, 'bin/qbsync.js']);
  });
});
