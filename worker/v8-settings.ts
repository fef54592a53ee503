import v8 from 'node:v8';

/**
 * V8 settings of a `qbsync worker` process (issue 16, worker memory). With its default heap
 * growing factor V8 let a backfilling worker's heap reach four times what it kept alive (about
 * 250 MiB for 50 MiB live) before collecting, and kept the grown heap; growing it by 30 % instead
 * held the heap near 100 MiB at no measurable cost in speed (README, "Worker memory"). The
 * smaller semi-space reaches the workflow thread, which the SDK starts later; the main isolate's
 * young generation is fixed before any code runs. No cap on the old space: a worker that runs out
 * of heap dies, and many tenants backfilling at once need more than one does.
 */
export const workerV8Flags = ['--heap-growing-percent=30', '--max-semi-space-size=4'] as const;

/** Called by bin/qbsync.js before `qbsync worker` starts anything. */
export function tuneV8ForWorker(setFlags: (flag: string) => void = v8.setFlagsFromString): void {
  for (const flag of workerV8Flags) setFlags(flag);
}
