/**
 * QBO's per-realm limits: 500 requests in any 60-second window and 10 requests in flight at once.
 * Over either limit a request gets 429 ThrottleExceeded (3001). The clock is injected.
 */
export interface RateLimitOptions {
  readonly perMinute: number;
  readonly concurrent: number;
  readonly now: () => number;
}

export class RateLimiter {
  private readonly windows = new Map<string, number[]>();
  private readonly inFlight = new Map<string, number>();
  private readonly refusals = new Map<string, number>();

  constructor(private options: RateLimitOptions) {}

  configure(changes: Partial<Omit<RateLimitOptions, 'now'>>): void {
    this.options = { ...this.options, ...changes };
  }

  get limits(): { perMinute: number; concurrent: number } {
    return { perMinute: this.options.perMinute, concurrent: this.options.concurrent };
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
   * Refused requests do not count against the window.
   */
  acquire(realmId: string): (() => void) | undefined {
    const now = this.options.now();
    let window = this.windows.get(realmId);
    if (!window) {
      window = [];
      this.windows.set(realmId, window);
    }
    let drop = 0;
    while (drop < window.length && (window[drop] as number) <= now - 60_000) drop++;
    if (drop > 0) window.splice(0, drop);
    const flying = this.inFlight.get(realmId) ?? 0;
    if (window.length >= this.options.perMinute || flying >= this.options.concurrent) {
      this.refusals.set(realmId, (this.refusals.get(realmId) ?? 0) + 1);
      return undefined;
    }
    window.push(now);
    this.inFlight.set(realmId, flying + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight.set(realmId, (this.inFlight.get(realmId) ?? 1) - 1);
    };
  }
}
