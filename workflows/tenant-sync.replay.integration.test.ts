import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowsPath } from '../worker/main.js';

/**
 * Replays histories recorded from real runs (test/record-histories.ts) against today's workflow
 * code: a change that would make a running tenant's workflow non-deterministic fails here, before
 * it reaches a worker. Needs no server.
 */
const folder = path.join(import.meta.dirname, 'histories');

describe('tenant sync workflow replay (R23)', () => {
  it('R23: recorded histories (backfill, incremental, failure, pause, continue-as-new) replay without non-determinism', async () => {
    const files = (await readdir(folder)).filter((file) => file.endsWith('.json')).sort();
    expect(files.length).toBeGreaterThanOrEqual(4);
    const histories = await Promise.all(
      files.map(async (file) => ({
        workflowId: file.replace(/\.json$/, ''),
        history: historyFromJSON(JSON.parse(await readFile(path.join(folder, file), 'utf8'))),
      })),
    );
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowsPath, replayName: 'tenant-sync-replay' },
      histories,
    )) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
