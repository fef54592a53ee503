import { sql, type Kysely } from 'kysely';

/**
 * QuickBooks webhook events as the receiver accepted them (issue 15). The unique event id is the
 * dedupe: Intuit retries a delivery with the same CloudEvents ids, and a legacy event (which has no
 * id) is known by what it says. The receiver answers Intuit once its rows are in; routing to the
 * tenant's workflow happens afterwards and stamps routed_at, so rows left unrouted by a crash are
 * routed when the receiver starts again. A delivery's body hash recognises a replayed body.
 *
 * Frozen in time: plain SQL and Kysely<any>, no application imports.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE webhook_events (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      event_id text NOT NULL UNIQUE CHECK (btrim(event_id) <> ''),
      realm_id text NOT NULL CHECK (btrim(realm_id) <> ''),
      format text NOT NULL CHECK (format IN ('legacy', 'cloudevents')),
      entity text NOT NULL,
      operation text NOT NULL,
      entity_id text NOT NULL,
      deleted_id text,
      body_sha256 text NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      routed_at timestamptz
    )`.execute(db);
  await sql`CREATE INDEX webhook_events_unrouted ON webhook_events (realm_id, id) WHERE routed_at IS NULL`.execute(db);
  await sql`CREATE INDEX webhook_events_body ON webhook_events (body_sha256)`.execute(db);
  await sql`CREATE INDEX webhook_events_received ON webhook_events (received_at)`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE webhook_events`.execute(db);
}
