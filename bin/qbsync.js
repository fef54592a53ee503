#!/usr/bin/env node
// The qbsync CLI. The sources are TypeScript, run through tsx's loader, so `npx qbsync` works right
// after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

// Kysely and Zod are some 350 small modules that nearly every command loads. Loaded before tsx's
// loader is registered they load at Node's own speed, where its hooks cost about 1.5 ms a module
// (`qbsync status` 1.2-1.6 s against 1.8; --help 0.1 s slower).
await Promise.all([import('kysely'), import('zod')]);
register();
// The worker's heap settings, set before the process allocates much (worker/v8-settings.ts).
if (process.argv[2] === 'worker') (await import('../worker/v8-settings.ts')).tuneV8ForWorker();
const { main } = await import('../client/cli.ts');
process.exitCode = await main(process.argv.slice(2));
