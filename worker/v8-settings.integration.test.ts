import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../test/cli.js';

/**
 * V8 documents flags set at run time as possibly doing nothing: this checks that the worker's do
 * something, in a process of their own (they are process-wide), against one without them. The
 * process keeps 200,000 objects alive while it allocates garbage, then starts a thread (as the SDK
 * starts its workflow thread) that allocates garbage too.
 */
const churn = `
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
if (process.argv[1] === 'tuned') (await import(${JSON.stringify(path.join(repoRoot, 'worker', 'v8-settings.ts'))})).tuneV8ForWorker();
const live = [];
for (let i = 0; i < 2e5; i++) live.push({ i, text: 'x' + i });
let largestHeap = 0;
for (let round = 0; round < 20; round++) {
  const garbage = [];
  for (let i = 0; i < 1e5; i++) garbage.push({ a: i, b: [i], c: 'y' + i });
  largestHeap = Math.max(largestHeap, v8.getHeapStatistics().total_heap_size);
}
const thread = new Worker(
  "import v8 from 'node:v8'; import { parentPort } from 'node:worker_threads';" +
    "let kept = []; for (let i = 0; i < 2e6; i++) { kept.push({ i }); if (kept.length > 1e5) kept = []; }" +
    "parentPort.postMessage(v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size);",
  { eval: true },
);
thread.once('message', (threadNewSpace) => {
  console.log(JSON.stringify({ mainHeapMb: largestHeap / 1048576, threadNewSpaceMb: threadNewSpace / 1048576, live: live.length }));
  process.exit(0);
});
`;

function measure(mode: 'tuned' | 'default'): { mainHeapMb: number; threadNewSpaceMb: number } {
  const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', churn, mode], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  return JSON.parse(output.trim().split('\n').at(-1)!) as { mainHeapMb: number; threadNewSpaceMb: number };
}

describe("a qbsync worker's V8 settings", () => {
  it('keep the main heap near what is alive and the workflow thread’s young generation small', () => {
    const standard = measure('default');
    const tuned = measure('tuned');
    expect(tuned.mainHeapMb).toBeLessThan(standard.mainHeapMb * 0.7);
    expect(tuned.threadNewSpaceMb).toBeLessThanOrEqual(8);
    expect(standard.threadNewSpaceMb).toBeGreaterThan(8);
  }, 60_000);
});
