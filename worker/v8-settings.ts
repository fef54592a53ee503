import v8 from 'node:v8';

/**
 * V8 settings of a `qbsync worker` process (issue 16, worker memory). With its default heap
 * growing factor V8 let a backfilling worker's heap reach four times what it kept alive (about
 * 250 MiB for 50 MiB live) before collecting, and kept the grown heap. Growing it by 60 % holds a
 * 1M backfill's worker under 300 MiB; by 30 %, as it was until session 25, the old generation was
 * marked so often that V8's marking threads took a third of the worker's CPU once the sync ran at
 * 4,000 records/s (README, "Worker memory"; 100 % went past 300 MiB at 1M). The smaller
 * semi-space reaches the workflow thread, which the SDK starts later; the main isolate's young
 * generation is fixed before any code runs. No cap on the old space: a worker that runs out of
 * heap dies, and many tenants backfilling at once need more than one does.
 */
export const workerV8Flags = ['--heap-growing-percent=60', '--max-semi-space-size=4'] as const;

/**
 * Node flags for the command line that starts `qbsync worker` (the Dockerfile's ENTRYPOINT, and the
 * benchmarks' workers). The main isolate's young generation is sized when the process starts, so
 * unlike workerV8Flags this cannot be set from code. V8's default lets it grow to two 16 MiB
 * semi-spaces; two of 8 MiB held a 1M backfill's worker at 265 MiB against 311, for 8 % more of
 * the worker's CPU (more scavenges) and 2,807 records/s against 2,911 (bench/RESULTS.md). A 4 MiB
 * semi-space saved about 20 MiB more but cost 11 % of the speed.
 */
export const workerNodeFlags = ['--max-semi-space-size=8'] as const;

/**
 * glibc's malloc gives threads that allocate at once arenas of their own, up to eight per core, and
 * each arena keeps its freed memory. The SDK's Rust core allocates from a pool of threads, so a
 * backfilling worker's RSS carried 20–30 MiB of arenas (100k records: 311–331 MiB with two arenas
 * against 334–355 with glibc's default, at the same speed; bench/RESULTS.md). glibc reads the
 * setting once, when the process starts, so it cannot be set from here: the worker image sets it
 * (Dockerfile), and so do the benchmarks that start workers, as production would.
 */
export const workerMallocArenaMax = '2';

/** Called by bin/qbsync.js before `qbsync worker` starts anything. */
export function tuneV8ForWorker(setFlags: (flag: string) => void = v8.setFlagsFromString): void {
  for (const flag of workerV8Flags) setFlags(flag);
}
