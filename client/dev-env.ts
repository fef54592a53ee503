import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * `.data/dev.env`: how to reach the stack `qbsync dev` runs (its database, Temporal, task queue, the
 * simulated QuickBooks and its OAuth app, the token key), so that `qbsync status demo`, `verify`,
 * `watch` or `pause` work from a second terminal with nothing to copy. It holds a token key and an
 * OAuth secret, so only its owner may read it (0600). Written when dev is up, removed when it stops;
 * a file left by a dev that was killed names a process that no longer runs, and is ignored.
 */
export const devEnvFileName = 'dev.env';

const pidLine = /^# qbsync dev pid (\d+)$/m;

export function devEnvPath(dataDir: string): string {
  return path.resolve(dataDir, devEnvFileName);
}

export function formatDevEnv(variables: Readonly<Record<string, string>>, pid: number): string {
  const lines = [
    `# qbsync dev pid ${pid}`,
    '# Written by `qbsync dev` for the commands run beside it; removed when it stops. Variables set in',
    '# the environment win over these.',
    ...Object.entries(variables).map(([name, value]) => `${name}=${value}`),
  ];
  return `${lines.join('\n')}\n`;
}

export interface DevEnvFile {
  readonly pid: number | undefined;
  readonly variables: Readonly<Record<string, string>>;
}

export function parseDevEnv(text: string): DevEnvFile {
  const variables: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) variables[match[1]!] = match[2]!;
  }
  const pid = pidLine.exec(text)?.[1];
  return { pid: pid === undefined ? undefined : Number(pid), variables };
}

/** The environment with the file's variables added where the environment has none (or an empty one). */
export function withDevEnv(
  env: Readonly<Record<string, string | undefined>>,
  file: DevEnvFile,
): Record<string, string | undefined> {
  const merged: Record<string, string | undefined> = { ...env };
  for (const [name, value] of Object.entries(file.variables)) {
    if (merged[name] === undefined || merged[name] === '') merged[name] = value;
  }
  return merged;
}

export function writeDevEnv(dataDir: string, variables: Readonly<Record<string, string>>, pid: number): string {
  const file = devEnvPath(dataDir);
  writeFileSync(file, formatDevEnv(variables, pid), { mode: 0o600 });
  // writeFileSync's mode applies only to a new file: an older one keeps its mode otherwise.
  chmodSync(file, 0o600);
  return file;
}

export function removeDevEnv(dataDir: string): void {
  rmSync(devEnvPath(dataDir), { force: true });
}

/**
 * The dev.env of a `qbsync dev` that still runs, from QBSYNC_DATA_DIR (or .data) as the environment
 * says; undefined when there is none or its dev has stopped.
 */
export function readLiveDevEnv(env: Readonly<Record<string, string | undefined>>): DevEnvFile | undefined {
  const file = devEnvPath(env['QBSYNC_DATA_DIR'] || '.data');
  if (!existsSync(file)) return undefined;
  const parsed = parseDevEnv(readFileSync(file, 'utf8'));
  return parsed.pid !== undefined && processRuns(parsed.pid) ? parsed : undefined;
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
