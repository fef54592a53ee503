// Loaded with `node --import`: writes the URL of every ES module the process loads, a line each,
// to the file named by MODULE_TRACE_FILE (test/cli.integration.test.ts checks what a command loads).
import { register } from 'node:module';

register(new URL('./module-trace-hooks.mjs', import.meta.url), { data: { file: process.env.MODULE_TRACE_FILE } });
