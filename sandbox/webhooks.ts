/**
 * Webhook delivery as Intuit does it: change events gathered into one POST (legacy
 * `eventNotifications` or a CloudEvents array), signed with `intuit-signature` =
 * base64(HMAC-SHA256(verifier token, raw body)), delivered in order, retried on failure with
 * Intuit's schedule (0 s, 10 s, 20 s, 30 s, 5 min, 20 min, 2 h, 4 h, 6 h, then every 6 h), and
 * later deliveries wait until the earlier one is acknowledged.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { ChangeEvent } from './store.js';

export type WebhookFormat = 'legacy' | 'cloudevents';

export interface WebhookOptions {
  /** Where to POST; undefined: events are recorded in the log but not sent. */
  readonly url: string | undefined;
  readonly verifierToken: string;
  readonly format: WebhookFormat;
  /** Delays before each retry; the last one repeats. */
  readonly retryDelaysMs: readonly number[];
  /** Give up after this many attempts (Intuit keeps going; keep this finite in tests). */
  readonly maxAttempts: number;
  /** Events within this window go out in one delivery (Intuit aggregates for minutes in production). */
  readonly aggregationMs: number;
  readonly timeoutMs: number;
  /** Events per delivery (Intuit: about 100 for CloudEvents). */
  readonly maxEventsPerDelivery: number;
}

export const INTUIT_RETRY_DELAYS_MS = [10_000, 20_000, 30_000, 300_000, 1_200_000, 7_200_000, 14_400_000, 21_600_000];

export interface DeliveryAttempt {
  readonly at: string;
  readonly status?: number;
  readonly error?: string;
}

export interface Delivery {
  readonly id: number;
  readonly format: WebhookFormat;
  readonly url: string | undefined;
  readonly body: string;
  readonly signature: string;
  readonly events: readonly ChangeEvent[];
  readonly attempts: DeliveryAttempt[];
  state: 'pending' | 'delivered' | 'failed' | 'not-sent';
}

/** Signs a raw body the way Intuit does. */
export function signWebhook(rawBody: string | Buffer, verifierToken: string): string {
  return createHmac('sha256', verifierToken).update(rawBody).digest('base64');
}

const CLOUDEVENT_VERBS: Record<ChangeEvent['operation'], string> = {
  Create: 'created',
  Update: 'updated',
  Delete: 'deleted',
  Merge: 'merged',
};

/** The legacy payload for some events (one `eventNotifications` element per realm). */
export function legacyPayload(events: readonly ChangeEvent[]): unknown {
  const byRealm = new Map<string, ChangeEvent[]>();
  for (const e of events) byRealm.set(e.realmId, [...(byRealm.get(e.realmId) ?? []), e]);
  return {
    eventNotifications: [...byRealm].map(([realmId, list]) => ({
      realmId,
      dataChangeEvent: {
        entities: list.map((e) => ({
          name: e.entity,
          id: e.id,
          operation: e.operation,
          lastUpdated: new Date(e.at).toISOString(),
          ...(e.deletedId ? { deletedId: e.deletedId } : {}),
        })),
      },
    })),
  };
}

/**
 * The CloudEvents payload. Created and deleted events carry `data: {}`, merges `data.deletedid`,
 * updates no `data` and no `datacontenttype` (as in Intuit's samples; other combinations UNCONFIRMED).
 */
export function cloudEventsPayload(events: readonly ChangeEvent[], source: string): unknown[] {
  return events.map((e) => {
    const event: Record<string, unknown> = {
      specversion: '1.0',
      id: randomUUID(),
      source,
      type: `qbo.${e.entity.toLowerCase()}.${CLOUDEVENT_VERBS[e.operation]}.v1`,
    };
    const data = e.operation === 'Merge' ? { deletedid: e.deletedId } : e.operation === 'Update' ? undefined : {};
    if (data) event['datacontenttype'] = 'application/json';
    event['time'] = new Date(e.at).toISOString();
    event['intuitentityid'] = e.id;
    event['intuitaccountid'] = e.realmId;
    if (data) event['data'] = data;
    return event;
  });
}

/** Queues, signs, sends and retries webhook deliveries. */
export class WebhookSender {
  readonly deliveries: Delivery[] = [];
  private buffer: ChangeEvent[] = [];
  private bufferTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private sending = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private readonly source: string;

  constructor(
    private options: WebhookOptions,
    appId: string,
  ) {
    this.source = `intuit.${createHash('sha256').update(appId).digest('base64')}`;
  }

  get config(): WebhookOptions {
    return this.options;
  }

  configure(changes: Partial<WebhookOptions>): void {
    this.options = { ...this.options, ...changes };
  }

  enqueue(event: ChangeEvent): void {
    if (this.stopped) return;
    this.buffer.push(event);
    if (!this.bufferTimer) this.bufferTimer = setTimeout(() => this.cut(), this.options.aggregationMs);
  }

  /** Resolves once nothing is buffered, pending or being sent (retries scheduled count as pending). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.bufferTimer);
    clearTimeout(this.retryTimer);
    for (const waiter of this.idleWaiters.splice(0)) waiter();
  }

  private isIdle(): boolean {
    return this.buffer.length === 0 && !this.sending && !this.deliveries.some((d) => d.state === 'pending');
  }

  private cut(): void {
    this.bufferTimer = undefined;
    const events = this.buffer;
    this.buffer = [];
    for (let i = 0; i < events.length; i += this.options.maxEventsPerDelivery) {
      const chunk = events.slice(i, i + this.options.maxEventsPerDelivery);
      const payload = this.options.format === 'legacy' ? legacyPayload(chunk) : cloudEventsPayload(chunk, this.source);
      const body = JSON.stringify(payload);
      this.deliveries.push({
        id: this.deliveries.length + 1,
        format: this.options.format,
        url: this.options.url,
        body,
        signature: signWebhook(body, this.options.verifierToken),
        events: chunk,
        attempts: [],
        state: this.options.url ? 'pending' : 'not-sent',
      });
    }
    void this.pump();
  }

  /** Sends the oldest pending delivery; later ones wait until it is acknowledged or given up. */
  private async pump(): Promise<void> {
    if (this.sending || this.stopped || this.retryTimer) return this.notifyIdle();
    const next = this.deliveries.find((d) => d.state === 'pending');
    if (!next || !next.url) return this.notifyIdle();
    this.sending = true;
    let ok = false;
    try {
      const response = await fetch(next.url, {
        method: 'POST',
        headers: {
          'content-type': next.format === 'legacy' ? 'application/json' : 'application/cloudevents+json',
          'intuit-signature': next.signature,
          'intuit-t-id': randomUUID(),
        },
        body: next.body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      next.attempts.push({ at: new Date().toISOString(), status: response.status });
      ok = response.status >= 200 && response.status < 300;
    } catch (err) {
      next.attempts.push({ at: new Date().toISOString(), error: (err as Error).message });
    }
    this.sending = false;
    if (this.stopped) return this.notifyIdle();
    if (ok) next.state = 'delivered';
    else if (next.attempts.length >= this.options.maxAttempts) next.state = 'failed';
    else {
      const delays = this.options.retryDelaysMs;
      const delay = delays[Math.min(next.attempts.length - 1, delays.length - 1)] ?? 0;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.pump();
      }, delay);
      return undefined;
    }
    return this.pump();
  }

  private notifyIdle(): void {
    if (this.isIdle()) for (const waiter of this.idleWaiters.splice(0)) waiter();
  }
}
