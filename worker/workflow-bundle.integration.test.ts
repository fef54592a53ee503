import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../test/cli.js';
import { bundlePath, ensureWorkflowBundle, workflowBundleKey } from './workflow-bundle.js';

// Under the repository, so that the bundler finds @temporalio/workflow in its node_modules.
const root = path.join(repoRoot, '.data', `bundle-test-${randomUUID()}`);
const entry = path.join(root, 'workflows', 'index.ts');
const folder = path.join(root, 'bundles');
const write = (file: string, text: string) => {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), text);
};
const helperReturning = (marker: string) => `export const marker = (): string => '${marker}';\n`;

describe('the workflow bundle of a worker', () => {
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is built by a child process when missing, reused while the sources stay, rebuilt when they change', async () => {
    write(
      'workflows/index.ts',
      "import { sleep } from '@temporalio/workflow';\nimport { marker } from './helper.js';\n" +
        'export async function markedWorkflow(): Promise<string> { await sleep(1); return marker(); }\n',
    );
    write('workflows/helper.ts', helperReturning('first-sources'));

    const first = await ensureWorkflowBundle({ entry, folder });
    expect(first).toBe(bundlePath(folder, await workflowBundleKey(entry)));
    expect(readFileSync(first, 'utf8')).toContain('first-sources');
    const builtAt = statSync(first).mtimeMs;

    expect(await ensureWorkflowBundle({ entry, folder })).toBe(first);
    expect(statSync(first).mtimeMs).toBe(builtAt);

    // The stale bundle stays on disk (a worker may still be starting with it) but is not the one handed out.
    write('workflows/helper.ts', helperReturning('second-sources'));
    const second = await ensureWorkflowBundle({ entry, folder });
    expect(second).not.toBe(first);
    expect(readFileSync(second, 'utf8')).toContain('second-sources');
    expect(readFileSync(second, 'utf8')).not.toContain('first-sources');
    expect(existsSync(first)).toBe(true);
  });

  it('reports a bundle that fails to build, with the bundler’s message', async () => {
    write('workflows/index.ts', "export { missing } from './not-there.js';\n");
    await expect(ensureWorkflowBundle({ entry, folder })).rejects.toThrow(/build-workflows failed[\s\S]*not-there/);
  });
});
