import { MultiBar, type SingleBar } from 'cli-progress';
import type { TenantStatus } from '../common/sync-types.js';
import {
  backfillProgress,
  formatPercent,
  padEntity,
  renderBackfillProgress,
  type WatchBaseline,
} from './tenant-status.js';

/**
 * The backfill's progress as `qbsync dev` and `qbsync watch` show it. On a terminal, cli-progress
 * redraws a bar per entity and the summary in place; elsewhere (a pipe, a log file) a block of plain
 * lines is printed only when a bar has moved, the phase changed or the pause did.
 */
export interface ProgressView {
  show(status: TenantStatus, nowMs: number): void;
  /** Leaves the last drawing on screen; lines written after it start below. */
  stop(): void;
}

export interface ProgressViewOptions {
  readonly baseline: WatchBaseline;
  readonly tty: boolean;
  /** Where the bars are drawn on a terminal. */
  readonly stream: NodeJS.WritableStream;
  /** How plain lines are printed. */
  readonly log: (line: string) => void;
  readonly barWidth?: number;
}

export function createProgressView(options: ProgressViewOptions): ProgressView {
  return options.tty ? terminalView(options) : plainView(options);
}

function plainView(options: ProgressViewOptions): ProgressView {
  let lastBars = '';
  return {
    show(status, nowMs) {
      // The ETAs and the rate change with every sample; what the records did is what counts.
      const bars = JSON.stringify([
        backfillProgress(status, options.baseline, nowMs).rows.map((row) => [row.fraction, row.counts]),
        status.phase,
        status.paused,
      ]);
      if (bars === lastBars) return;
      lastBars = bars;
      options.log(`${renderBackfillProgress(status, options.baseline, nowMs, options.barWidth).join('\n')}\n`);
    },
    stop() {},
  };
}

function terminalView(options: ProgressViewOptions): ProgressView {
  const multibar = new MultiBar({
    stream: options.stream as NodeJS.WriteStream,
    barsize: options.barWidth ?? 30,
    barCompleteChar: '#',
    barIncompleteChar: '.',
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    gracefulExit: false,
    autopadding: false,
    // {eta} and {percentage} are cli-progress's own: ours come from the status, hence other names.
    format: '{name}[{bar}] {percent}%  {counts}  {until}',
  });
  const scale = 1000;
  let bars: Map<string, SingleBar> | undefined;
  let summary: SingleBar | undefined;
  let stopped = false;
  return {
    show(status, nowMs) {
      if (stopped) return;
      const progress = backfillProgress(status, options.baseline, nowMs);
      if (!bars) {
        bars = new Map(
          progress.rows.map((row) => [
            row.entity,
            multibar.create(scale, 0, { name: padEntity(row.entity), percent: '  0', counts: '', until: '' }),
          ]),
        );
        summary = multibar.create(scale, 0, { text: '' }, { format: '{text}' });
      }
      for (const row of progress.rows) {
        bars.get(row.entity)?.update(Math.round(row.fraction * scale), {
          name: padEntity(row.entity),
          percent: formatPercent(row.fraction),
          counts: row.counts,
          until: row.eta,
        });
      }
      summary?.update(0, { text: progress.summary });
      multibar.update();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      multibar.stop();
    },
  };
}
