/**
 * Injected faults: seeded rates per realm (or for all) and forced faults for the next requests,
 * drawn once per API request. Only what is decided here may be labelled a simulated fault.
 */
import { AdminError } from './admin-error.js';
import { faults, type QboFault } from './faults.js';
import type { Prng } from './prng.js';

export interface FaultRates {
  /** Share of API requests answered 429 ThrottleExceeded. */
  readonly rate429?: number;
  /** Share answered 500 or 503 SystemFault. */
  readonly rate5xx?: number;
  /** Share delayed by slowMs before being served. */
  readonly rateSlow?: number;
  readonly slowMs?: number;
  /** Share whose connection is dropped without a response. */
  readonly rateDrop?: number;
}

/** A fault forced on the next matching API request(s). */
export interface ForcedFault {
  readonly kind: '429' | '5xx' | 'slow' | 'drop';
  readonly status?: number;
  readonly xml?: boolean;
  readonly slowMs?: number;
  readonly realmId?: string;
}

export type FaultDecision =
  | { readonly kind: 'none' }
  | { readonly kind: 'fault'; readonly fault: QboFault; readonly xml: boolean }
  | { readonly kind: 'slow'; readonly ms: number }
  | { readonly kind: 'drop' };

export class FaultInjector {
  private rates = new Map<string, FaultRates>();
  private forced: ForcedFault[] = [];

  constructor(
    private readonly rng: Prng,
    /** Share of throttling (429) bodies sent as XML rather than JSON. */
    public throttleXmlRate: number,
  ) {}

  set(realmId: string | undefined, rates: FaultRates): void {
    for (const [key, value] of Object.entries(rates)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (key.startsWith('rate') && value > 1))
        throw new AdminError(
          400,
          `fault ${key} must be a number${key.startsWith('rate') ? ' between 0 and 1' : ' of milliseconds >= 0'}`,
        );
    }
    this.rates.set(realmId ?? '*', { ...rates });
  }

  force(list: readonly ForcedFault[]): void {
    this.forced.push(...list);
  }

  clear(): void {
    this.rates.clear();
    this.forced = [];
  }

  get state(): { rates: Record<string, FaultRates>; forced: ForcedFault[] } {
    return { rates: Object.fromEntries(this.rates), forced: [...this.forced] };
  }

  /** Decides whether an API request for a realm meets an injected fault. */
  draw(realmId: string): FaultDecision {
    const index = this.forced.findIndex((f) => f.realmId === undefined || f.realmId === realmId);
    if (index >= 0) {
      const forced = this.forced.splice(index, 1)[0] as ForcedFault;
      return this.decision(forced.kind, forced.status, forced.xml, forced.slowMs);
    }
    const rates = this.rates.get(realmId) ?? this.rates.get('*');
    if (!rates) return { kind: 'none' };
    const r = this.rng.next();
    let edge = 0;
    for (const [kind, rate] of [
      ['429', rates.rate429],
      ['5xx', rates.rate5xx],
      ['drop', rates.rateDrop],
      ['slow', rates.rateSlow],
    ] as const) {
      edge += rate ?? 0;
      if (r < edge) return this.decision(kind, undefined, undefined, rates.slowMs);
    }
    return { kind: 'none' };
  }

  /** Whether a throttling reply goes out as XML (Intuit sends some 429 bodies as XML). */
  drawThrottleXml(): boolean {
    return this.rng.chance(this.throttleXmlRate);
  }

  private decision(kind: ForcedFault['kind'], status?: number, xml?: boolean, slowMs?: number): FaultDecision {
    switch (kind) {
      case '429':
        return { kind: 'fault', fault: faults.throttle(), xml: xml ?? this.rng.chance(this.throttleXmlRate) };
      case '5xx':
        return { kind: 'fault', fault: faults.server(status ?? this.rng.pick([500, 503])), xml: xml ?? false };
      case 'slow':
        return { kind: 'slow', ms: slowMs ?? 5000 };
      case 'drop':
        return { kind: 'drop' };
    }
  }
}
