import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Executor } from '../recordset.js';
import type { Database, SyncPassesTable } from '../schema.js';

export type SyncPassRow = Selectable<SyncPassesTable>;
export type SyncPassStatus = SyncPassRow['status'];

export interface PassOpening {
  readonly tenantId: string;
  readonly realmId: string;
  readonly kind: 'backfill' | 'incremental';
  readonly workflowId: string | null;
  readonly runId: string | null;
  readonly startedAt: Date;
}

export interface PassEnding {
  readonly status: Exclude<SyncPassStatus, 'running'>;
  readonly finishedAt: Date;
  /** The pass's counts, stored as JSON. */
  readonly counts: unknown;
  readonly error?: string | undefined;
}

function openingValues(pass: PassOpening): Insertable<SyncPassesTable> {
  return {
    tenant_id: pass.tenantId,
    realm_id: pass.realmId,
    kind: pass.kind,
    workflow_id: pass.workflowId,
    run_id: pass.runId,
    started_at: pass.startedAt,
  };
}

function endingValues(end: PassEnding) {
  return {
    status: end.status,
    finished_at: end.finishedAt,
    counts: JSON.stringify(end.counts),
    error: end.error ?? null,
  };
}

/** Records a pass under way in the audit log; returns its id. */
export async function beginPass(db: Executor, pass: PassOpening): Promise<number> {
  const row = await db.insertInto('sync_passes').values(openingValues(pass)).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

/** Closes a pass; returns its tenant. */
export async function finishPass(db: Executor, passId: number, end: PassEnding): Promise<string> {
  const row = await db
    .updateTable('sync_passes')
    .set(endingValues(end))
    .where('id', '=', passId)
    .returning('tenant_id')
    .executeTakeFirstOrThrow();
  return row.tenant_id;
}

/** Records a pass that ran whole inside one transaction: it is never seen running. */
export async function insertFinishedPass(db: Executor, pass: PassOpening, end: PassEnding): Promise<number> {
  const row = await db
    .insertInto('sync_passes')
    .values({ ...openingValues(pass), ...endingValues(end) })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The tenant's latest pass of a kind that succeeded, if any (a backfill's figures, say). */
export async function latestSucceededPass(
  db: Executor,
  tenantId: string,
  kind: SyncPassRow['kind'],
): Promise<SyncPassRow | undefined> {
  return db
    .selectFrom('sync_passes')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('kind', '=', kind)
    .where('status', '=', 'succeeded')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * When the tenant's first backfill pass started, or undefined before it has one. Reads sync_passes:
 * `qbsync watch` measures its rate from there.
 */
export async function backfillStartedAt(db: Kysely<Database>, tenantId: string): Promise<Date | undefined> {
  const row = await db
    .selectFrom('sync_passes')
    .select((eb) => eb.fn.min('started_at').as('started'))
    .where('tenant_id', '=', tenantId)
    .where('kind', '=', 'backfill')
    .executeTakeFirst();
  const started = row?.started as Date | string | null | undefined;
  return started ? new Date(started) : undefined;
}
