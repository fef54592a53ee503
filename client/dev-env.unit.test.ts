import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatDevEnv, parseDevEnv, readLiveDevEnv, removeDevEnv, withDevEnv, writeDevEnv } from './dev-env.js';

describe('.data/dev.env', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qbsync-dev-env-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const variables = {
    DATABASE_URL: 'postgres://postgres:pw@127.0.0.1:5432/qbsync',
    TEMPORAL_TASK_QUEUE: 'qbsync',
    QBO_API_BASE_URL: 'http://127.0.0.1:8911',
  };

  it('reads back what it wrote, with the pid of the dev that wrote it', () => {
    expect(parseDevEnv(formatDevEnv(variables, 4242))).toEqual({ pid: 4242, variables });
  });

  it('adds only the variables the environment lacks: the real environment wins', () => {
    const merged = withDevEnv({ TEMPORAL_TASK_QUEUE: 'mine', DATABASE_URL: '', PATH: '/bin' }, { pid: 1, variables });
    expect(merged).toEqual({
      TEMPORAL_TASK_QUEUE: 'mine',
      DATABASE_URL: variables.DATABASE_URL,
      QBO_API_BASE_URL: variables.QBO_API_BASE_URL,
      PATH: '/bin',
    });
  });

  it('is written for its owner only, read while its dev runs, ignored once it has stopped, and removed', () => {
    const dir = tempDir();
    const file = writeDevEnv(dir, variables, process.pid);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain('DATABASE_URL=postgres://');
    expect(readLiveDevEnv({ QBSYNC_DATA_DIR: dir })?.variables).toEqual(variables);

    // A pid that cannot be running: the dev that wrote the file was killed without removing it.
    writeDevEnv(dir, variables, 2 ** 22 + 1);
    expect(readLiveDevEnv({ QBSYNC_DATA_DIR: dir })).toBeUndefined();

    removeDevEnv(dir);
    expect(readLiveDevEnv({ QBSYNC_DATA_DIR: dir })).toBeUndefined();
  });
});
