import { sql, type Kysely, type Selectable } from 'kysely';
import { recordset, type Executor } from '../recordset.js';
import type { Database, SyncErrorsTable } from '../schema.js';
import type { RealmKey } from './qbo-links.js';

export type SyncError = Selectable<SyncErrorsTable>;

/** Why a record did not land: it failed to map, to write, or refers to a record QBO does not give. */
export type SyncErrorType = 'MappingError' | 'WriteError' | 'MissingReference';

export interface RecordFailure {
  readonly qboId: string;
  readonly errorType: SyncErrorType;
  /** The field at fault, as a path into the QBO payload; null when no one field is. */
  readonly field: string | null;
  readonly message: string;
}

/** PostgreSQL text holds no NUL byte, and a failure's message may quote the value that had one. */
const storable = (text: string, length = Number.POSITIVE_INFINITY) => text.replaceAll('\u0000', '').slice(0, length);

/**
 * Records failures of one entity's records: a record's open error of the same type is seen again
 * (one more occurrence, the latest message) rather than opened twice.
 */
export async function recordSyncErrors(
  db: Executor,
  realm: RealmKey,
  entity: string,
  failures: readonly RecordFailure[],
  now: Date,
): Promise<void> {
  const byRecord = new Map(failures.map((failure) => [`${failure.errorType}:${failure.qboId}`, failure]));
  if (byRecord.size === 0) return;
  const rows = [...byRecord.values()].map((failure) => ({
    qbo_id: storable(failure.qboId),
    error_type: failure.errorType,
    field: failure.field === null ? null : storable(failure.field, 500),
    message: storable(failure.message, 2000),
  }));
  await sql`
    INSERT INTO sync_errors (tenant_id, realm_id, entity_type, qbo_id, error_type, field, message, first_seen_at, last_seen_at)
    SELECT ${realm.tenantId}, ${realm.realmId}, ${entity}, r.qbo_id, r.error_type, r.field, r.message, ${now}, ${now}
    FROM ${recordset(rows, { qbo_id: 'text', error_type: 'text', field: 'text', message: 'text' })}
    ON CONFLICT (tenant_id, realm_id, entity_type, qbo_id, error_type) WHERE resolved_at IS NULL
    DO UPDATE SET occurrences = sync_errors.occurrences + 1, last_seen_at = EXCLUDED.last_seen_at,
                  field = EXCLUDED.field, message = EXCLUDED.message`.execute(db);
}

/** Closes the open errors of records that have now gone through. */
export async function resolveSyncErrors(
  db: Executor,
  realm: RealmKey,
  entity: string,
  qboIds: readonly string[],
  now: Date,
): Promise<void> {
  if (qboIds.length === 0) return;
  await db
    .updateTable('sync_errors')
    .set({ resolved_at: now })
    .where('tenant_id', '=', realm.tenantId)
    .where('realm_id', '=', realm.realmId)
    .where('entity_type', '=', entity)
    .where(sql<boolean>`qbo_id = ANY(${[...qboIds]}::text[])`)
    .where('resolved_at', 'is', null)
    .execute();
}

/** The records with an open entry in the error table, as `Entity:qboId` keys. */
export async function openErrorKeys(db: Kysely<Database>, tenantId: string): Promise<Set<string>> {
  const rows = await db
    .selectFrom('sync_errors')
    .select(['entity_type', 'qbo_id'])
    .where('tenant_id', '=', tenantId)
    .where('resolved_at', 'is', null)
    .execute();
  return new Set(rows.map((row) => `${row.entity_type}:${row.qbo_id}`));
}

/** The tenant's records that the sync could not write and that nobody has resolved yet. */
export async function countOpenSyncErrors(db: Executor, tenantId: string): Promise<number> {
  const row = await db
    .selectFrom('sync_errors')
    .select((eb) => eb.fn.countAll<number>().as('open'))
    .where('tenant_id', '=', tenantId)
    .where('resolved_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.open);
}

/** A tenant's unresolved sync errors, newest first (at most `limit`). */
export async function listOpenSyncErrors(db: Executor, tenantId: string, limit = 200): Promise<SyncError[]> {
  return db
    .selectFrom('sync_errors')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('resolved_at', 'is', null)
    .orderBy('last_seen_at', 'desc')
    .limit(limit)
    .execute();
}
