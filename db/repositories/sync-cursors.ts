import type { Selectable } from 'kysely';
import type { Executor } from '../recordset.js';
import type { SyncCursorsTable } from '../schema.js';
import type { PassTally } from '../../activities/sync/pass-tally.js';

export type SyncCursorRow = Selectable<SyncCursorsTable>;

/** Where an entity's reading stands; stored as JSON in sync_cursors.cursor. */
export interface CursorState {
  /** LastUpdatedTime position: every record before it (and before the pass's end) is written. */
  readonly from: string;
  /** Ids of records in the second `from` already written: the next page reads that second again and skips them. */
  readonly seen?: readonly string[];
  /** More than a page of records share one second: paged by Id within it, verified by count. */
  readonly burst?: { readonly second: string; readonly offset: number; readonly expected: number };
  /** What the pass running has written of the entity so far (activities/sync/pass-tally.ts). */
  readonly tally?: PassTally;
}

export interface CursorKey {
  readonly tenantId: string;
  readonly realmId: string;
}

export function cursorFromRow(row: Pick<SyncCursorRow, 'cursor'>): CursorState {
  return JSON.parse(row.cursor) as CursorState;
}

/** The stored cursor of each entity of the tenant's company that has one. */
export async function readCursors(
  db: Executor,
  key: CursorKey,
  entities: readonly string[],
): Promise<Map<string, CursorState>> {
  if (entities.length === 0) return new Map();
  const rows = await db
    .selectFrom('sync_cursors')
    .select(['entity_type', 'cursor'])
    .where('tenant_id', '=', key.tenantId)
    .where('realm_id', '=', key.realmId)
    .where('entity_type', 'in', entities)
    .execute();
  return new Map(rows.map((row) => [row.entity_type, cursorFromRow(row)]));
}

export async function readCursor(db: Executor, key: CursorKey, entity: string): Promise<CursorState | undefined> {
  return (await readCursors(db, key, [entity])).get(entity);
}

/** Saves an entity's cursor; callers do it in the transaction that wrote the records it follows. */
export async function saveCursor(db: Executor, key: CursorKey, entity: string, state: CursorState): Promise<void> {
  const cursor = JSON.stringify(state);
  await db
    .insertInto('sync_cursors')
    .values({ tenant_id: key.tenantId, realm_id: key.realmId, entity_type: entity, cursor, cursor_at: state.from })
    .onConflict((conflict) =>
      conflict.columns(['tenant_id', 'realm_id', 'entity_type']).doUpdateSet({ cursor, cursor_at: state.from }),
    )
    .execute();
}
