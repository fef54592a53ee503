/**
 * Renders name-list records into each company's JSON cache in the background, only while no API
 * request has come for a moment, so a backfill's first page is joined from cache without slowing
 * a run of requests.
 */
import type { Company, Row } from './store.js';

export class CacheWarmer {
  private warming: NodeJS.Immediate | NodeJS.Timeout | undefined;
  /** performance.now() of the last API request; the warm-up waits for a quiet moment after it. */
  private lastRequestAt = -Infinity;
  private readonly warmingDone = new Set<() => void>();
  private stopped = false;

  /**
   * Renders name-list records (Customer, then Item) of every company into the JSON cache, a few
   * milliseconds at a time, only while no API request has come for `quietMs`, so it never slows a
   * run of requests. Resolves when done, or at once when stopped.
   */
  warm(companies: Iterable<Company>, chunkMs = 4, quietMs = 25): Promise<void> {
    const queue: { company: Company; rows: readonly Row[] }[] = [];
    for (const company of companies)
      for (const entity of ['Customer', 'Item'] as const) queue.push({ company, rows: company.tables[entity].byId });
    let index = 0;
    return new Promise((done) => {
      const resolve = () => {
        this.warmingDone.delete(resolve);
        done();
      };
      this.warmingDone.add(resolve);
      if (this.stopped) return resolve();
      const step = () => {
        this.warming = undefined;
        if (this.stopped) return resolve();
        const quietFor = performance.now() - this.lastRequestAt;
        if (quietFor < quietMs) {
          this.warming = setTimeout(step, quietMs - quietFor + 1);
          return undefined;
        }
        const until = performance.now() + chunkMs;
        while (!this.stopped && queue.length > 0) {
          const { company, rows } = queue[0] as (typeof queue)[number];
          if (index >= rows.length || company.renderCacheSize * 2 > company.renderCacheLimit) {
            queue.shift();
            index = 0;
            continue;
          }
          company.renderBytes(rows[index++] as Row);
          if ((index & 63) === 0 && performance.now() > until) break;
        }
        if (this.stopped || queue.length === 0) resolve();
        else this.warming = setImmediate(step);
      };
      this.warming = setImmediate(step);
    });
  }

  /** An API request came: the warm-up waits for a quiet moment after it. */
  noteRequest(): void {
    this.lastRequestAt = performance.now();
  }

  stop(): void {
    this.stopped = true;
    if (this.warming) {
      clearImmediate(this.warming as NodeJS.Immediate);
      clearTimeout(this.warming as NodeJS.Timeout);
    }
    this.warming = undefined;
    for (const resolve of [...this.warmingDone]) resolve();
  }
}
