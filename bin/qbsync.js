#!/usr/bin/env node
// The qbsync CLI. The sources are TypeScript, run through tsx's loader, so `npx qbsync` works right
// after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
// The worker's heap settings, set before the process allocates much (worker/v8-settings.ts).
if (process.argv[2] === 'worker') (await import('../worker/v8-settings.ts')).tuneV8ForWorker();
const { main } = await import('../client/cli.ts');
process.exitCode = await main(process.argv.slice(2));
