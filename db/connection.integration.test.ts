import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FailureType } from '../common/failure-types.js';
import { testServerUrl } from '../test/database.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');

async function child(): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'test/connection-loss-child.ts'), testServerUrl],
      { cwd: root, timeout: 60_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('a connection lost while a transaction holds it', () => {
  it('fails the transaction with a retryable DatabaseUnavailable, and the process lives on', async () => {
    const { code, stdout, stderr } = await child();
    expect(stderr).not.toMatch(/Unhandled 'error' event/);
    expect(code, stderr).toBe(0);
    const results = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(results).toEqual([
      {
        name: 'between queries',
        outcome: 'failed',
        message: expect.any(String) as string,
        type: FailureType.DatabaseUnavailable,
        nonRetryable: false,
      },
      {
        name: 'during a query',
        outcome: 'failed',
        message: expect.any(String) as string,
        type: FailureType.DatabaseUnavailable,
        nonRetryable: false,
      },
      { name: 'afterwards', outcome: 'committed' },
    ]);
  });
});
