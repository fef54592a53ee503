/**
 * `npm run bench -- <name> [args]`: runs bench/<name>.ts with the arguments that follow, in this
 * process (the benchmarks read process.argv themselves). The npm script gives this process a 12 GiB
 * heap: at 1,000,000 records it holds the simulated company and verify's copy of it, past Node's
 * default of 4 GiB; the worker, whose memory the benchmarks measure, runs in its own process.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const known = readdirSync(benchDir)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts' && !file.endsWith('.test.ts'))
  .map((file) => file.slice(0, -'.ts'.length))
  .sort();
const [name, ...args] = process.argv.slice(2);

if (name === undefined || !known.includes(name)) {
  process.stderr.write(
    `bench: ${name === undefined ? 'give a benchmark name' : `no benchmark "${name}"`}; known: ${known.join(', ')}\n`,
  );
  process.exitCode = 2;
} else {
  const script = path.join(benchDir, `${name}.ts`);
  process.argv = [process.argv[0]!, script, ...args];
  await import(pathToFileURL(script).href);
}
