import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runStackCheck, startDevStack, type DevStack } from '../client/stack.js';
import { portAnswers } from '../db/postgres.js';
import { loadConfig } from '../worker/config.js';
import { freePort } from './global-setup.js';

describe('qbsync dev stack', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'qbsync-embedded-'));
  let stack: DevStack | undefined;

  afterAll(async () => {
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts an embedded PostgreSQL when nothing answers at the local address, migrates it and runs the stack check', async () => {
    const port = await freePort();
    expect(await portAnswers('127.0.0.1', port)).toBe(false);
    const config = loadConfig({
      QBSYNC_POSTGRES_PORT: String(port),
      QBSYNC_DATA_DIR: dataDir,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: `embedded-${port}`,
    });
    const lines: string[] = [];
    stack = await startDevStack(config, (line) => lines.push(line));
    expect(stack.database.target.source).toBe('embedded');
    expect(stack.startedTemporal).toBe(false);
    expect(lines.join('\n')).toMatch(/starting an embedded one/);

    const check = await runStackCheck(stack, config, new Date());
    const row = await stack.database.db
      .selectFrom('stack_checks')
      .select(['workflow_id'])
      .where('id', '=', check.rowId)
      .executeTakeFirstOrThrow();
    expect(row.workflow_id).toBe(check.workflowId);

    await stack.stop();
    stack = undefined;
    expect(await portAnswers('127.0.0.1', port)).toBe(false);
  }, 240_000);
});
