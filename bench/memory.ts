/**
 * memory: the worker process's peak RSS (VmHWM) during a backfill of --records records (a fifth
 * customers, the rest transactions), with verify at the end. The simulator and the benchmark run
 * in this process; the worker in its own.
 *
 *   npm run bench -- memory [--records N] [--pages-per-activity N]
 *
 * --records defaults to 1,000,000; --pages-per-activity sets the worker's QBSYNC_PAGES_PER_ACTIVITY
 * (1 turns off reading the next page while one is written), to measure what the read-ahead costs.
 */
import { parseArgs } from 'node:util';
import { companyOf, isBenchmark, measureBackfill } from './backfill.js';
import { figuresLine } from './support.js';

if (isBenchmark(import.meta.url)) {
  const { values } = parseArgs({
    options: { records: { type: 'string', default: '1000000' }, 'pages-per-activity': { type: 'string' } },
  });
  const pagesPerActivity = values['pages-per-activity'];
  const figures = await measureBackfill(
    {
      ...companyOf(Number(values.records)),
      rawBaselines: false,
      ...(pagesPerActivity ? { workerEnv: { QBSYNC_PAGES_PER_ACTIVITY: pagesPerActivity } } : {}),
    },
    (line) => console.log(line),
  );
  console.log(
    figuresLine({
      records: figures.records,
      seconds: figures.seconds.toFixed(0),
      records_per_s: figures.recordsPerS.toFixed(0),
      peak_rss_mb: figures.peakRssMb.toFixed(0),
      ...(pagesPerActivity ? { pages_per_activity: pagesPerActivity } : {}),
      max_events_per_run: figures.maxEventsPerRun,
      missing: figures.missing,
      extra: figures.extra,
      different: figures.different,
    }),
  );
}
