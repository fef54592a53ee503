/**
 * QBO's per-realm limits: 500 requests in any 60-second window, 10 requests in flight at once, and
 * of those requests at most 40 batch requests in any 60-second window (shared/reference/qbo-api.md
 * § 5, [D-batch]). Over any limit a request gets 429 ThrottleExceeded (3001). The clock is injected.
 */
export interface RateLimitOptions {
  readonly perMinute: number;
  readonly concurrent: number;
  /** Batch requests (POST /batch) a minute; each also counts against `perMinute`. */
  readonly batchPerMinute: number;
  readonly now: () => number;
}

/** The limits as the admin API shows and changes them. */
export type RateLimits = Omit<RateLimitOptions, 'now'>;

/** A plain request, or a batch request (which the batch limit counts as well). */
export type RequestClass = 'single' | 'batch';

export class RateLimiter {
  private readonly windows = new Map<string, number[]>();
  private readonly batchWindows = new Map<string, number[]>();
  private readonly inFlight = new Map<string, number>();
  private readonly refusals = new Map<string, number>();

  constructor(private options: RateLimitOptions) {}

  configure(changes: Partial<RateLimits>): void {
    this.options = { ...this.options, ...changes };
  }

  get limits(): RateLimits {
    return {
      perMinute: this.options.perMinute,
      concurrent: this.options.concurrent,
      batchPerMinute: this.options.batchPerMinute,
    };
  }

  /** Requests refused (answered 429 for the limits, not injected faults), of one realm or all. */
  refused(realmId?: string): number {
    if (realmId !== undefined) return this.refusals.get(realmId) ?? 0;
    let total = 0;
    for (const count of this.refusals.values()) total += count;
    return total;
  }

  /**
   * Admits a request or refuses it. An admitted request must call the returned release() when done.
   * Refused requests do not count against any window.
   */
  acquire(realmId: string, requestClass: RequestClass = 'single'): (() => void) | undefined {
    const now = this.options.now();
    const window = recentWindow(this.windows, realmId, now);
    const batches = recentWindow(this.batchWindows, realmId, now);
    const flying = this.inFlight.get(realmId) ?? 0;
    const overBatchLimit = requestClass === 'batch' && batches.length >= this.options.batchPerMinute;
    if (window.length >= this.options.perMinute || flying >= this.options.concurrent || overBatchLimit) {
      this.refusals.set(realmId, (this.refusals.get(realmId) ?? 0) + 1);
      return undefined;
    }
    window.push(now);
    if (requestClass === 'batch') batches.push(now);
    this.inFlight.set(realmId, flying + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight.set(realmId, (this.inFlight.get(realmId) ?? 1) - 1);
    };
  }
}

/** A realm's admissions of the last 60 seconds, older ones dropped. */
function recentWindow(windows: Map<string, number[]>, realmId: string, now: number): number[] {
  let window = windows.get(realmId);
  if (!window) {
    window = [];
    windows.set(realmId, window);
  }
  let drop = 0;
  while (drop < window.length && (window[drop] as number) <= now - 60_000) drop++;
  if (drop > 0) window.splice(0, drop);
  return window;
}
