/**
 * throttled: a backfill against a simulator that enforces QBO's limits (500 requests a minute and
 * 10 at once per company) and answers every request --latency-ms later, as QBO's own servers take
 * a few hundred milliseconds a page. The figure is wall_over_min: the backfill's wall time over
 * the least time 500 requests a minute allow for the requests it made (1.0 would use the whole
 * budget all the time). cpu_floor_over_min sets the least wall time the run's CPU allows on this
 * machine's cores (bench/support.ts cpuFloorSeconds) against the same least: above 1, the cores,
 * not the request budget, bound the run.
 *
 *   npm run bench -- throttled [--records N] [--latency-ms MS]
 */
import { parseArgs } from 'node:util';
import { companyOf, isBenchmark, measureBackfill } from './backfill.js';
import { cpuFloorSeconds, figuresLine } from './support.js';

if (isBenchmark(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '30000' },
      'latency-ms': { type: 'string', default: '300' },
    },
  });
  const latencyMs = Number(values['latency-ms']);
  const figures = await measureBackfill(
    { ...companyOf(Number(values.records)), latencyMs, rawBaselines: false },
    (line) => console.log(line),
  );
  const minimumSeconds = (figures.requests / 500) * 60;
  console.log(
    figuresLine({
      records: figures.records,
      latency_ms: latencyMs,
      requests: figures.requests,
      wall_s: figures.seconds.toFixed(1),
      min_s: minimumSeconds.toFixed(1),
      wall_over_min: (figures.seconds / minimumSeconds).toFixed(2),
      cpu_floor_s: cpuFloorSeconds(figures.cpu).toFixed(1),
      cpu_floor_over_min: (cpuFloorSeconds(figures.cpu) / minimumSeconds).toFixed(2),
      records_per_s: figures.recordsPerS.toFixed(0),
      throttled_429: figures.throttled429,
      missing: figures.missing,
      extra: figures.extra,
      different: figures.different,
    }),
  );
}
