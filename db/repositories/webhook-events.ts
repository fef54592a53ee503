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
  /** The rows, locked until the caller's transaction ends: markWebhookEventsRouted them once routed. */
  readonly ids: readonly number[];
  readonly merges: readonly ReportedMerge[];
}

/**
 * What a realm's workflow has not been told yet, locked for the caller's transaction (so that two
 * receivers do not route the same rows, and rows come back unrouted if routing fails or the process
 * dies); undefined when nothing. Only committed rows are seen: a delivery still being stored is
 * routed by the notification that follows it.
 */
export async function lockUnroutedEvents(trx: Executor, realmId: string): Promise<UnroutedEvents | undefined> {
  const rows = await trx
    .selectFrom('webhook_events')
    .select(['id', 'entity', 'operation', 'entity_id', 'deleted_id'])
    .where('realm_id', '=', realmId)
    .where('routed_at', 'is', null)
    .orderBy('id')
    .forUpdate()
    .skipLocked()
    .execute();
  if (rows.length === 0) return undefined;
  return {
    ids: rows.map((row) => Number(row.id)),
    merges: rows
      .filter((row) => row.entity === 'customer' && row.operation === 'Merge')
      .map((row) => ({ survivorQboId: row.entity_id, mergedQboId: row.deleted_id })),
  };
}

export async function markWebhookEventsRouted(trx: Executor, ids: readonly number[]): Promise<void> {
  await trx
    .updateTable('webhook_events')
    .set({ routed_at: new Date() })
    .where('id', '=', sql<number>`any(${[...ids]}::bigint[])`)
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
