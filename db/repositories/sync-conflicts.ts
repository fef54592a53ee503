import { sql, type Selectable } from 'kysely';
import type { Executor } from '../recordset.js';
import type { ConflictKind, ConflictSide, SyncConflictsTable } from '../schema.js';
import type { RealmKey } from './qbo-links.js';

export type SyncConflict = Selectable<SyncConflictsTable>;

export interface ConflictRecord {
  readonly accountId: number;
  readonly qboId: string | null;
  readonly kind: ConflictKind;
  readonly field?: string;
  readonly base?: unknown;
  readonly crm?: unknown;
  readonly qbo?: unknown;
  readonly applied?: ConflictSide;
  readonly qboCode?: string;
  readonly message: string;
}

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

/**
 * Records conflicts; an account's open conflict of the same kind (and field) is seen again, with
 * the latest values, rather than opened twice.
 */
export async function recordConflicts(
  db: Executor,
  realm: RealmKey,
  conflicts: readonly ConflictRecord[],
  now: Date,
): Promise<void> {
  for (const conflict of conflicts) {
    await db
      .insertInto('sync_conflicts')
      .values({
        tenant_id: realm.tenantId,
        realm_id: realm.realmId,
        account_id: conflict.accountId,
        qbo_id: conflict.qboId,
        kind: conflict.kind,
        field: conflict.field ?? null,
        base_value: json(conflict.base),
        crm_value: json(conflict.crm),
        qbo_value: json(conflict.qbo),
        applied: conflict.applied ?? null,
        qbo_code: conflict.qboCode ?? null,
        message: conflict.message.replaceAll('\u0000', '').slice(0, 2000),
        created_at: now,
        last_seen_at: now,
      })
      .onConflict((oc) =>
        oc
          .expression(sql`tenant_id, account_id, kind, coalesce(field, '')`)
          .where('resolution', 'is', null)
          .doUpdateSet((eb) => ({
            qbo_id: eb.ref('excluded.qbo_id'),
            base_value: eb.ref('excluded.base_value'),
            crm_value: eb.ref('excluded.crm_value'),
            qbo_value: eb.ref('excluded.qbo_value'),
            applied: eb.ref('excluded.applied'),
            qbo_code: eb.ref('excluded.qbo_code'),
            message: eb.ref('excluded.message'),
            occurrences: sql`sync_conflicts.occurrences + 1`,
            last_seen_at: eb.ref('excluded.last_seen_at'),
          })),
      )
      .execute();
  }
}

export interface OpenConflict extends SyncConflict {
  readonly company_name: string;
}

/** A tenant's conflicts nobody has resolved, oldest first, with the account's name. */
export async function listOpenConflicts(db: Executor, tenantId: string): Promise<OpenConflict[]> {
  return db
    .selectFrom('sync_conflicts')
    .innerJoin('accounts', 'accounts.id', 'sync_conflicts.account_id')
    .selectAll('sync_conflicts')
    .select('accounts.company_name')
    .where('sync_conflicts.tenant_id', '=', tenantId)
    .where('sync_conflicts.resolution', 'is', null)
    .orderBy('sync_conflicts.id')
    .execute();
}

export async function findConflict(db: Executor, id: number): Promise<SyncConflict | undefined> {
  return db.selectFrom('sync_conflicts').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Records support's choice; the next pass applies it. False when the conflict was resolved already. */
export async function resolveConflict(
  db: Executor,
  id: number,
  take: ConflictSide,
  resolvedBy: string,
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable('sync_conflicts')
    .set({ resolution: take, resolved_at: now, resolved_by: resolvedBy.slice(0, 200) })
    .where('id', '=', id)
    .where('resolution', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Resolutions the sync has not applied yet, oldest first. */
export async function resolutionsToApply(db: Executor, tenantId: string): Promise<SyncConflict[]> {
  return db
    .selectFrom('sync_conflicts')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('resolution', 'is not', null)
    .where('resolution_applied_at', 'is', null)
    .orderBy('id')
    .execute();
}

export async function countResolutionsToApply(db: Executor, tenantId: string): Promise<number> {
  const row = await db
    .selectFrom('sync_conflicts')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('tenant_id', '=', tenantId)
    .where('resolution', 'is not', null)
    .where('resolution_applied_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function markResolutionApplied(db: Executor, id: number, now: Date): Promise<void> {
  await db.updateTable('sync_conflicts').set({ resolution_applied_at: now }).where('id', '=', id).execute();
}

/** How many conflicts of each kind a tenant has open (for status and verify). */
export async function countOpenConflicts(db: Executor, tenantId: string): Promise<number> {
  const row = await db
    .selectFrom('sync_conflicts')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('tenant_id', '=', tenantId)
    .where('resolution', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/**
 * Closes an account's open refusals (duplicate name, validation) once a push of it went through:
 * the user's correction settled them.
 */
export async function closeSettledRefusals(
  db: Executor,
  tenantId: string,
  accountId: number,
  now: Date,
): Promise<void> {
  await db
    .updateTable('sync_conflicts')
    .set({
      resolution: 'crm',
      resolved_at: now,
      resolved_by: 'qbsync: a later push went through',
      resolution_applied_at: now,
    })
    .where('tenant_id', '=', tenantId)
    .where('account_id', '=', accountId)
    .where('kind', 'in', ['duplicate_name', 'validation'])
    .where('resolution', 'is', null)
    .execute();
}
