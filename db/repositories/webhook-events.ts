import { sql, type Kysely } from 'kysely';
import { recordset, type Executor } from '../recordset.js';
import type { Database, WebhookEventsTable } from '../schema.js';

/**
 * The webhook_events table: QuickBooks webhook events accepted by the receiver, deduplicated by
 * event id, until routed to their tenant's workflow and, after the retention time, purged.
 */
export interface NewWebhookEvent {
  readonly eventId: string;
  readonly realmId: string;
  readonly entity: string;
  readonly operation: string;
  readonly entityId: string;
  readonly deletedId: string | null;
}

export interface WebhookDelivery {
  readonly format: WebhookEventsTable['format'];
  readonly bodySha256: string;
  readonly events: readonly NewWebhookEvent[];
}

/**
 * Stores a delivery's events, skipping those already stored. 'replayed' when nothing in it is new:
 * the same body seen before, or every event id seen before; then nothing is written.
 */
export async function recordWebhookDelivery(
  db: Executor,
  delivery: WebhookDelivery,
): Promise<{ readonly outcome: 'replayed' } | { readonly outcome: 'accepted'; readonly newEvents: number }> {
  const seenBody = await db
    .selectFrom('webhook_events')
    .select('id')
    .where('body_sha256', '=', delivery.bodySha256)
    .limit(1)
    .executeTakeFirst();
  if (seenBody) return { outcome: 'replayed' };
  // One JSON parameter however many events: a 1 MB body of tiny events would pass 65,535 parameters.
  const rows = delivery.events.map((event) => ({
    event_id: event.eventId,
    realm_id: event.realmId,
    entity: event.entity,
    operation: event.operation,
    entity_id: event.entityId,
    deleted_id: event.deletedId,
  }));
  const { rows: inserted } = await sql<{ id: number }>`
    INSERT INTO webhook_events (event_id, realm_id, format, entity, operation, entity_id, deleted_id, body_sha256)
    SELECT r.event_id, r.realm_id, ${delivery.format}, r.entity, r.operation, r.entity_id, r.deleted_id, ${delivery.bodySha256}
    FROM ${recordset(rows, { event_id: 'text', realm_id: 'text', entity: 'text', operation: 'text', entity_id: 'text', deleted_id: 'text' })}
    ON CONFLICT (event_id) DO NOTHING
    RETURNING id`.execute(db);
  return inserted.length === 0 ? { outcome: 'replayed' } : { outcome: 'accepted', newEvents: inserted.length };
}

/** A customer merge reported by a webhook: the survivor and, when Intuit said, the id merged away. */
export interface ReportedMerge {
  readonly survivorQboId: string;
  readonly mergedQboId: string | null;
}

export interface UnroutedEvents {
  /** The last event these figures cover: markWebhookEventsRouted up to it. */
  readonly upToId: number;
  readonly count: number;
  readonly merges: readonly ReportedMerge[];
}

/** What a realm's workflow has not been told yet; undefined when nothing. */
export async function findUnroutedEvents(db: Executor, realmId: string): Promise<UnroutedEvents | undefined> {
  const totals = await db
    .selectFrom('webhook_events')
    .select((eb) => [eb.fn.max('id').as('up_to_id'), eb.fn.countAll<number>().as('count')])
    .where('realm_id', '=', realmId)
    .where('routed_at', 'is', null)
    .executeTakeFirst();
  if (!totals?.up_to_id) return undefined;
  const merges = await db
    .selectFrom('webhook_events')
    .select(['entity_id', 'deleted_id'])
    .where('realm_id', '=', realmId)
    .where('routed_at', 'is', null)
    .where('id', '<=', totals.up_to_id)
    .where('entity', '=', 'customer')
    .where('operation', '=', 'Merge')
    .orderBy('id')
    .execute();
  return {
    upToId: Number(totals.up_to_id),
    count: Number(totals.count),
    merges: merges.map((row) => ({ survivorQboId: row.entity_id, mergedQboId: row.deleted_id })),
  };
}

export async function markWebhookEventsRouted(db: Executor, realmId: string, upToId: number): Promise<void> {
  await db
    .updateTable('webhook_events')
    .set({ routed_at: new Date() })
    .where('realm_id', '=', realmId)
    .where('routed_at', 'is', null)
    .where('id', '<=', upToId)
    .execute();
}

/** Realms with events not yet routed (left by a receiver that stopped between accepting and routing). */
export async function realmsWithUnroutedEvents(db: Kysely<Database>): Promise<string[]> {
  const rows = await db
    .selectFrom('webhook_events')
    .select('realm_id')
    .distinct()
    .where('routed_at', 'is', null)
    .execute();
  return rows.map((row) => row.realm_id);
}

/** Forgets events received before `before`; the number removed. */
export async function purgeWebhookEvents(db: Executor, before: Date): Promise<number> {
  const result = await db.deleteFrom('webhook_events').where('received_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
