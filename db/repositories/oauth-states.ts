import type { Selectable } from 'kysely';
import type { Executor } from '../recordset.js';
import type { OAuthStatesTable } from '../schema.js';

/**
 * The oauth_states table: OAuth `state` values handed out and not yet used. Consuming one is a single
 * DELETE … RETURNING, so of two callbacks carrying the same state, in any processes, one gets it.
 */
export type OAuthStateRow = Selectable<OAuthStatesTable>;

export async function insertOAuthState(
  db: Executor,
  state: { stateHash: string; tenantId: string; sessionHash: string | null; extra: string; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto('oauth_states')
    .values({
      state_hash: state.stateHash,
      tenant_id: state.tenantId,
      session_hash: state.sessionHash,
      extra: state.extra,
      expires_at: state.expiresAt,
    })
    .execute();
}

/** Removes the state and returns it; undefined when it was never issued or is already used. */
export async function takeOAuthState(db: Executor, stateHash: string): Promise<OAuthStateRow | undefined> {
  return db.deleteFrom('oauth_states').where('state_hash', '=', stateHash).returningAll().executeTakeFirst();
}

/** Forgets states that expired before `before` (nobody came back from Intuit with them). */
export async function deleteExpiredOAuthStates(db: Executor, before: Date): Promise<void> {
  await db.deleteFrom('oauth_states').where('expires_at', '<', before).execute();
}
