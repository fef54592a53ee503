import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runtimeImports, workflowBundleKey, workflowsPath } from './workflow-bundle.js';

describe('the modules a workflow source loads at run time', () => {
  it('are its value imports, re-exports, side-effect and dynamic imports, over several lines too', () => {
    const source = [
      "import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';",
      'import {',
      '  first,',
      '  second,',
      "} from './several-lines.js';",
      "import * as all from './namespace.js';",
      "import fallback, { named } from './default-and-named.js';",
      "import './side-effect.js';",
      "export { tenantSyncWorkflow } from './tenant-sync.js';",
      "export * from './everything.js';",
      "const later = await import('./dynamic.js');",
    ].join('\n');
    expect(runtimeImports(source)).toEqual([
      '@temporalio/workflow',
      './several-lines.js',
      './namespace.js',
      './default-and-named.js',
      './side-effect.js',
      './tenant-sync.js',
      './everything.js',
      './dynamic.js',
    ]);
  });

  it('leave out type-only imports and re-exports, which the bundler drops', () => {
    const source = [
      "import type { SyncActivities } from '../activities/sync/sync.activities.js';",
      'import type {',
      '  RepairKind,',
      "} from '../common/repair-types.js';",
      "export type { Mode } from './modes.js';",
      'export const typeName = 1;',
    ].join('\n');
    expect(runtimeImports(source)).toEqual([]);
  });
});

describe('the workflow bundle key', () => {
  const folders: string[] = [];
  afterEach(() => {
    for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
  });

  /** workflows/index.ts → workflows/flow.ts → common/helper.ts (value), common/types.ts (type only). */
  function sources(): { entry: string; write: (file: string, text: string) => void } {
    const root = mkdtempSync(path.join(os.tmpdir(), 'qbsync-bundle-key-'));
    folders.push(root);
    const write = (file: string, text: string) => {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), text);
    };
    write('workflows/index.ts', "export { flow } from './flow.js';\n");
    write(
      'workflows/flow.ts',
      "import { helper } from '../common/helper.js';\nimport type { Shape } from '../common/types.js';\n" +
        'export async function flow(shape: Shape): Promise<number> { return helper(shape.size); }\n',
    );
    write('common/helper.ts', 'export const helper = (n: number) => n + 1;\n');
    write('common/types.ts', 'export interface Shape { size: number }\n');
    write('common/unused.ts', 'export const unused = 1;\n');
    return { entry: path.join(root, 'workflows', 'index.ts'), write };
  }

  it('is the same for the same sources', async () => {
    const { entry } = sources();
    expect(await workflowBundleKey(entry)).toBe(await workflowBundleKey(entry));
  });

  it('changes when the entry, a file it imports, or a file that one imports changes', async () => {
    const { entry, write } = sources();
    const keys = [await workflowBundleKey(entry)];
    write('workflows/index.ts', "export { flow } from './flow.js';\nexport const extra = 1;\n");
    keys.push(await workflowBundleKey(entry));
    write('workflows/flow.ts', "import { helper } from '../common/helper.js';\nexport const flow = helper;\n");
    keys.push(await workflowBundleKey(entry));
    write('common/helper.ts', 'export const helper = (n: number) => n + 2;\n');
    keys.push(await workflowBundleKey(entry));
    expect(new Set(keys).size).toBe(4);
  });

  it('does not change for files the bundle does not load: type-only imports and unimported files', async () => {
    const { entry, write } = sources();
    const before = await workflowBundleKey(entry);
    write('common/types.ts', 'export interface Shape { size: number; label: string }\n');
    write('common/unused.ts', 'export const unused = 2;\n');
    expect(await workflowBundleKey(entry)).toBe(before);
  });

  it('changes with the installed version of a package the sources import (the SDK among them)', async () => {
    const { entry, write } = sources();
    write('workflows/flow.ts', "import { sleep } from '@temporalio/workflow';\nexport const flow = sleep;\n");
    write('node_modules/@temporalio/workflow/package.json', '{ "version": "1.24.0" }');
    const before = await workflowBundleKey(entry);
    write('node_modules/@temporalio/workflow/package.json', '{ "version": "1.24.1" }');
    expect(await workflowBundleKey(entry)).not.toBe(before);
  });

  it('follows imports the bundler would fail on, so that fixing them is a new key', async () => {
    const { entry, write } = sources();
    write('workflows/flow.ts', "import { gone } from './gone.js';\nexport const flow = gone;\n");
    const broken = await workflowBundleKey(entry);
    write('workflows/gone.ts', 'export const gone = 1;\n');
    expect(await workflowBundleKey(entry)).not.toBe(broken);
  });

  it('covers the real workflows: a 24-digit hex key, stable between two looks', async () => {
    const key = await workflowBundleKey(workflowsPath);
    expect(key).toMatch(/^[0-9a-f]{24}$/);
    expect(await workflowBundleKey(workflowsPath)).toBe(key);
  });
});
