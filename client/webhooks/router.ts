import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { findTenantByRealm } from '../../db/repositories/tenants.js';
import {
  lockUnroutedEvents,
  markWebhookEventsRouted,
  realmsWithUnroutedEvents,
} from '../../db/repositories/webhook-events.js';
import type { Database, QboConnectionsTable } from '../../db/schema.js';
import { repairSignal, syncNowSignal, tenantWorkflowId } from '../../workflows/definitions.js';

/**
 * Tells tenants' workflows about the webhook events the receiver stored, after the receiver has
 * answered Intuit. Bursts are coalesced per realm: a realm's workflow is signalled once its events
 * have been quiet for `debounceMs` (or, under a steady stream, once the oldest has waited
 * `maxWaitMs`), with at most one signal in flight and one more queued behind it. The workflow
 * itself folds signals that arrive during a pass into one next pass, so a burst of a thousand
 * events costs one or two passes. Customer merges are also sent as repair requests.
 *
 * What to route is read from webhook_events (rows not yet routed), so events accepted just before
 * a crash are routed when the receiver starts again (routeUnrouted). A signal that fails for a
 * reason other than a missing workflow is retried a few times; after that, the events wait for
 * the tenant's periodic pass, as any missed webhook does.
 */
export interface RoutingTimings {
  /** Quiet time after a realm's last event before its workflow is told (default 200 ms). */
  readonly debounceMs?: number;
  /** Longest an event waits under a steady stream (default 1 s). */
  readonly maxWaitMs?: number;
  /** First wait after a failed signal, doubling (default 2 s). */
  readonly retryDelayMs?: number;
  /** Tries before the events are left to the periodic pass (default 5). */
  readonly maxAttempts?: number;
  /** How long one try may take: the client otherwise retries an unreachable server for long (default 5 s). */
  readonly signalTimeoutMs?: number;
}

export interface WebhookRouterOptions extends RoutingTimings {
  readonly db: Kysely<Database>;
  readonly temporal: Client;
  /** Realms are unique per QuickBooks environment. */
  readonly environment: QboConnectionsTable['environment'];
  readonly log: (line: string) => void;
}

export interface WebhookRouter {
  /** New events for the realm are stored: its workflow is to be told. */
  notify(realmId: string): void;
  /** Routes what a previous receiver accepted and did not route. */
  routeUnrouted(): Promise<void>;
  /** Resolves once no realm has events waiting or a signal in flight. */
  idle(): Promise<void>;
  /** Cancels waiting timers and waits for signals in flight. */
  stop(): Promise<void>;
}

interface RealmState {
  timer: NodeJS.Timeout | undefined;
  /** When the oldest event not yet covered by a signal arrived. */
  waitingSince: number | undefined;
  inFlight: Promise<void> | undefined;
  queuedBehind: boolean;
  failures: number;
}

export function createWebhookRouter(options: WebhookRouterOptions): WebhookRouter {
  const debounceMs = options.debounceMs ?? 200;
  const maxWaitMs = options.maxWaitMs ?? 1_000;
  const retryDelayMs = options.retryDelayMs ?? 2_000;
  const maxAttempts = options.maxAttempts ?? 5;
  const signalTimeoutMs = options.signalTimeoutMs ?? 5_000;
  const realms = new Map<string, RealmState>();
  let idleWaiters: Array<() => void> = [];
  let stopped = false;

  const stateOf = (realmId: string): RealmState => {
    let state = realms.get(realmId);
    if (!state) {
      state = { timer: undefined, waitingSince: undefined, inFlight: undefined, queuedBehind: false, failures: 0 };
      realms.set(realmId, state);
    }
    return state;
  };

  const settle = (realmId: string, state: RealmState) => {
    if (state.timer || state.inFlight || state.queuedBehind) return;
    realms.delete(realmId);
    if (realms.size === 0) for (const resolve of idleWaiters.splice(0)) resolve();
  };

  const schedule = (realmId: string, state: RealmState, delayMs?: number) => {
    if (stopped) return;
    const now = Date.now();
    state.waitingSince ??= now;
    clearTimeout(state.timer);
    const delay = delayMs ?? Math.max(0, Math.min(debounceMs, state.waitingSince + maxWaitMs - now));
    state.timer = setTimeout(() => fire(realmId, state), delay);
  };

  const fire = (realmId: string, state: RealmState) => {
    state.timer = undefined;
    state.waitingSince = undefined;
    state.inFlight = route(realmId).then(
      () => {
        state.failures = 0;
      },
      (error: unknown) => {
        state.failures += 1;
        const reason = error instanceof Error ? error.message : String(error);
        if (state.failures < maxAttempts) {
          options.log(`webhooks: telling realm ${realmId}'s workflow failed (${reason}); trying again`);
          state.queuedBehind = true;
        } else {
          options.log(
            `webhooks: telling realm ${realmId}'s workflow failed ${state.failures} times (${reason}); its periodic pass will catch the changes`,
          );
          state.failures = 0;
        }
      },
    );
    void state.inFlight.then(() => {
      state.inFlight = undefined;
      if (state.queuedBehind) {
        state.queuedBehind = false;
        schedule(realmId, state, state.failures > 0 ? retryDelayMs * 2 ** (state.failures - 1) : undefined);
      }
      settle(realmId, state);
    });
  };

  // One transaction per routing: the rows stay locked while the workflow is told, and are marked
  // routed only if it was (or has no workflow to tell).
  async function route(realmId: string): Promise<void> {
    await options.db.transaction().execute(async (trx) => {
      const pending = await lockUnroutedEvents(trx, realmId);
      if (!pending) return;
      const count = pending.ids.length;
      const tenantId = await findTenantByRealm(trx, realmId, options.environment);
      if (tenantId === undefined) {
        options.log(
          `webhooks: no tenant is connected to QuickBooks company ${realmId} (${options.environment}); ${count} events dropped`,
        );
      } else {
        const handle = options.temporal.workflow.getHandle(tenantWorkflowId(tenantId));
        try {
          await options.temporal.withDeadline(Date.now() + signalTimeoutMs, async () => {
            for (const merge of pending.merges) {
              await handle.signal(repairSignal, { requestedBy: 'webhook', ...merge });
            }
            await handle.signal(syncNowSignal, { reason: `webhook: ${count} events` });
          });
        } catch (error) {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
          options.log(
            `webhooks: tenant ${tenantId} has no running sync workflow; ${count} events left for when it runs again`,
          );
        }
      }
      await markWebhookEventsRouted(trx, pending.ids);
    });
  }

  return {
    notify(realmId) {
      const state = stateOf(realmId);
      if (state.inFlight) state.queuedBehind = true;
      else schedule(realmId, state);
    },
    async routeUnrouted() {
      for (const realmId of await realmsWithUnroutedEvents(options.db)) this.notify(realmId);
    },
    idle() {
      if (realms.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async stop() {
      stopped = true;
      for (const state of realms.values()) clearTimeout(state.timer);
      await Promise.all([...realms.values()].map((state) => state.inFlight));
      realms.clear();
      for (const resolve of idleWaiters.splice(0)) resolve();
      idleWaiters = [];
    },
  };
}
