import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../test/cli.js';
import { workerNodeFlags } from './v8-settings.js';

/**
 * V8 documents flags set at run time as possibly doing nothing. This checks, in processes of their
 * own (the flags are process-wide), that the worker's reach a thread started after them, as the
 * SDK starts its workflow thread: its young generation stays at two 4 MiB semi-spaces where V8's
 * default grows to 32 MiB. How much the heap growing factor saves is not a yes or no on a loaded
 * machine (V8's default factor itself moves with the load); `npm run bench -- backfill` measures it.
 */
const threadYoungGeneration = `
import { Worker } from 'node:worker_threads';
if (process.argv[1] === 'tuned') (await import(${JSON.stringify(path.join(repoRoot, 'worker', 'v8-settings.ts'))})).tuneV8ForWorker();
const thread = new Worker(
  "import v8 from 'node:v8'; import { parentPort } from 'node:worker_threads';" +
    "let kept = []; for (let i = 0; i < 2e6; i++) { kept.push({ i }); if (kept.length > 1e5) kept = []; }" +
    "parentPort.postMessage(v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size);",
  { eval: true },
);
thread.once('message', (bytes) => console.log(bytes / 1048576));
`;

function threadYoungGenerationMb(mode: 'tuned' | 'default'): number {
  const output = execFileSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', threadYoungGeneration, mode],
    { cwd: repoRoot, encoding: 'utf8' },
  );
  return Number(output.trim().split('\n').at(-1));
}

describe("a qbsync worker's V8 settings", () => {
  it('reach the workflow thread, started after them: its young generation stays small', () => {
    expect(threadYoungGenerationMb('tuned')).toBeLessThanOrEqual(8);
    expect(threadYoungGenerationMb('default')).toBeGreaterThan(8);
  }, 60_000);

  it("take the main isolate's young generation to two 8 MiB semi-spaces from the command line", () => {
    const mainYoungGenerationMb = (flags: readonly string[]) =>
      Number(execFileSync(process.execPath, [...flags, '-e', mainYoungGeneration], { encoding: 'utf8' }).trim());
    expect(mainYoungGenerationMb(workerNodeFlags)).toBeLessThanOrEqual(16);
    expect(mainYoungGenerationMb([])).toBeGreaterThan(16);
  }, 60_000);
});

const mainYoungGeneration = `
const v8 = require('node:v8');
let kept = [];
for (let i = 0; i < 4e6; i++) { kept.push({ i }); if (kept.length > 2e5) kept = []; }
console.log(v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size / 1048576);
`;
