import { sql, type Kysely } from 'kysely';

/**
 * OAuth `state` values handed out for a connection, until the callback consumes them (issue 12,
 * point 3). Kept in PostgreSQL rather than in a process, so that every `qbsync serve` behind a load
 * balancer sees the same states and one DELETE … RETURNING consumes a state once, whichever process
 * answers the callback. Only a hash of the state and of the browser session is stored.
 *
 * Frozen in time: plain SQL and Kysely<any>, no application imports.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE oauth_states (
      state_hash text PRIMARY KEY,
      tenant_id text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      session_hash text,
      extra text NOT NULL DEFAULT '',
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX oauth_states_expiry ON oauth_states (expires_at)`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE oauth_states`.execute(db);
}
