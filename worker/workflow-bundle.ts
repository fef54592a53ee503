import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

/**
 * The workflow bundle, built ahead of time (issue 16, worker memory). Webpack run inside a worker
 * left about 120 MiB of RSS behind that V8 never gave back, so a worker only reads a bundle that a
 * short-lived `qbsync build-workflows` process wrote. The bundle's file name carries a hash of
 * everything it is built from, so a worker can never run workflow code older than its sources: a
 * changed source is a new name, built before the worker starts.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const workflowsPath = path.join(repoRoot, 'workflows', 'index.ts');

/**
 * Beside the sources they are built from, not in QBSYNC_DATA_DIR: tests and `qbsync dev` use data
 * folders of their own, and each would otherwise build the same bundle again.
 */
export const defaultBundleFolder = path.join(repoRoot, '.data', 'workflow-bundles');

/** Bundles of earlier sources kept besides the current one, for workers still starting with them. */
const keptOlderBundles = 3;

/** Packages that turn the sources into the bundle; a new version of any may change its code. */
const bundlerPackages = ['@temporalio/worker', 'webpack', 'swc-loader', '@swc/core'];

/**
 * What the bundler is asked to do. Part of the key: a bundle built with other options is another
 * bundle. The SDK's webpack output is silenced; its warnings and errors still reach stderr.
 */
const bundleOptions = { ignoreModules: [] as string[] };

/** import/export statements with a module specifier; `import type` and `export type` are left out (swc drops them). */
const staticImport = /(?:^|[;\n}])\s*(?:import|export)\s+(type\s+)?(?:[\w$*{}\s,]+?\s+from\s+)?['"]([^'"\n]+)['"]/g;
const dynamicImport = /\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g;

/** The module specifiers a source file loads at run time. */
export function runtimeImports(source: string): string[] {
  const specifiers: string[] = [];
  for (const match of source.matchAll(staticImport)) if (!match[1]) specifiers.push(match[2]!);
  for (const match of source.matchAll(dynamicImport)) specifiers.push(match[1]!);
  return specifiers;
}

/** A relative specifier as TypeScript resolves it under NodeNext: `./x.js` is `./x.ts` on disk. */
function resolveRelative(fromFile: string, specifier: string): string | undefined {
  const target = path.resolve(path.dirname(fromFile), specifier);
  const candidates = [
    target.replace(/\.js$/, '.ts'),
    target.replace(/\.js$/, '.tsx'),
    target,
    `${target}.ts`,
    path.join(target, 'index.ts'),
  ];
  return candidates.find((candidate) => statSync(candidate, { throwIfNoEntry: false })?.isFile());
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** The installed version of a package as Node would find it from `fromFolder`, or "missing". */
function installedVersion(name: string, fromFolder: string): { version: string; folder: string | undefined } {
  for (let folder = fromFolder; ; folder = path.dirname(folder)) {
    const manifest = path.join(folder, 'node_modules', name, 'package.json');
    if (existsSync(manifest)) {
      const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string };
      return { version: version ?? 'unversioned', folder: path.dirname(manifest) };
    }
    if (path.dirname(folder) === folder) return { version: 'missing', folder: undefined };
  }
}

/**
 * The key of the bundle built from `entry`: a hash of every source file it loads at run time,
 * followed from `entry` through relative imports, of the version of each package those files
 * import, of the bundler's own packages, and of the bundler's options.
 */
export async function workflowBundleKey(entry: string = workflowsPath): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(bundleOptions));
  const seen = new Set<string>();
  const packages = new Map<string, string>();
  const pending = [path.resolve(entry)];
  const files: Array<{ file: string; source: string }> = [];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = await readFile(file, 'utf8');
    files.push({ file, source });
    for (const specifier of runtimeImports(source)) {
      if (specifier.startsWith('.')) {
        // An import that resolves to nothing fails the build; its name still goes into the key.
        const resolved = resolveRelative(file, specifier);
        if (resolved) pending.push(resolved);
        else packages.set(`unresolved:${path.resolve(path.dirname(file), specifier)}`, 'missing');
      } else if (!specifier.startsWith('node:')) {
        const name = packageName(specifier);
        packages.set(name, installedVersion(name, path.dirname(file)).version);
      }
    }
  }
  const worker = installedVersion('@temporalio/worker', repoRoot);
  for (const name of bundlerPackages) {
    const from = name === '@temporalio/worker' || !worker.folder ? repoRoot : worker.folder;
    packages.set(`bundler:${name}`, installedVersion(name, from).version);
  }
  const entryFolder = path.dirname(path.resolve(entry));
  for (const { file, source } of files.sort((a, b) => a.file.localeCompare(b.file))) {
    hash.update(`\0file:${path.relative(entryFolder, file)}\0${source}`);
  }
  for (const [name, version] of [...packages].sort(([a], [b]) => a.localeCompare(b))) {
    hash.update(`\0package:${name}@${version}`);
  }
  return hash.digest('hex').slice(0, 24);
}

export function bundlePath(folder: string, key: string): string {
  return path.join(folder, `workflow-bundle-${key}.js`);
}

export interface WorkflowBundleOptions {
  /** The workflows module (default workflows/index.ts). */
  readonly entry?: string;
  /** Where bundles are written (default .data/workflow-bundles beside the sources). */
  readonly folder?: string;
}

/**
 * Bundles `entry` in this process with the SDK's webpack set-up and writes it under its key. Run
 * by `qbsync build-workflows`, so that webpack's heap dies with that process. A source edited
 * while webpack ran would leave a bundle under a key it does not match: the key is taken again
 * afterwards, and the build repeated when it moved.
 */
export async function buildWorkflowBundle(options: WorkflowBundleOptions = {}): Promise<string> {
  const entry = path.resolve(options.entry ?? workflowsPath);
  const folder = options.folder ?? defaultBundleFolder;
  await mkdir(folder, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const key = await workflowBundleKey(entry);
    const target = bundlePath(folder, key);
    if (existsSync(target)) return target;
    const { code } = await bundleWorkflowCode({ workflowsPath: entry, ...bundleOptions, logger: quietLogger });
    if ((await workflowBundleKey(entry)) !== key) {
      if (attempt < 3) continue;
      throw new Error(`the workflow sources under ${path.dirname(entry)} kept changing while they were bundled`);
    }
    // Written aside and renamed, so that a worker never reads half a bundle and parallel builds of
    // the same key agree.
    const partial = `${target}.${randomUUID()}.partial`;
    await writeFile(partial, code);
    await rename(partial, target);
    await pruneOlderBundles(folder, target);
    return target;
  }
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => process.stderr.write(`workflow bundle: ${message}\n`),
  error: (message: string) => process.stderr.write(`workflow bundle: ${message}\n`),
};

async function pruneOlderBundles(folder: string, current: string): Promise<void> {
  const entries = await readdir(folder);
  const bundles = await Promise.all(
    entries
      .filter((name) => /^workflow-bundle-[0-9a-f]+\.js$/.test(name))
      .map(async (name) => ({
        file: path.join(folder, name),
        modified: (await stat(path.join(folder, name))).mtimeMs,
      })),
  );
  const older = bundles.filter(({ file }) => file !== current).sort((a, b) => b.modified - a.modified);
  await Promise.all(older.slice(keptOlderBundles).map(({ file }) => rm(file, { force: true })));
}

/**
 * The path of the bundle of today's sources, built first by a `qbsync build-workflows` child
 * process when there is none (about 5 s, more on a loaded machine).
 */
export async function ensureWorkflowBundle(options: WorkflowBundleOptions = {}): Promise<string> {
  const entry = path.resolve(options.entry ?? workflowsPath);
  const folder = options.folder ?? defaultBundleFolder;
  const target = bundlePath(folder, await workflowBundleKey(entry));
  if (existsSync(target)) return target;
  const built = await runBuilder(['--workflows', entry, '--out-dir', folder]);
  if (built !== target) {
    throw new Error(`the workflow sources changed while they were bundled (wanted ${target}, built ${built})`);
  }
  return built;
}

function runBuilder(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'qbsync.js'), 'build-workflows', ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const built = stdout.trim().split('\n').at(-1) ?? '';
      if (code === 0 && built !== '') resolve(built);
      else reject(new Error(`qbsync build-workflows failed (${code ?? signal}): ${stderr.trim() || stdout.trim()}`));
    });
  });
}
