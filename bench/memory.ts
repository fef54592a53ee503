/**
 * memory: the worker process's peak RSS (VmHWM) during a backfill of --records records (a fifth
 * customers, the rest transactions), with verify at the end. The simulator and the benchmark run
 * in this process; the worker in its own.
 *
 *   npm run bench -- memory [--records N]    (default 1,000,000)
 */
import { parseArgs } from 'node:util';
import { companyOf, isBenchmark, measureBackfill } from './backfill.js';
import { figuresLine } from './support.js';

if (isBenchmark(import.meta.url)) {
  const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' } } });
  const figures = await measureBackfill({ ...companyOf(Number(values.records)), rawBaselines: false }, (line) =>
    console.log(line),
  );
  console.log(
    figuresLine({
      records: figures.records,
      seconds: figures.seconds.toFixed(0),
      records_per_s: figures.recordsPerS.toFixed(0),
      peak_rss_mb: figures.peakRssMb.toFixed(0),
      max_events_per_run: figures.maxEventsPerRun,
      missing: figures.missing,
      extra: figures.extra,
      different: figures.different,
    }),
  );
}
