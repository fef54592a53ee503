import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
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
export async function beginPass(db: Kysely<Database> | Transaction<Database>, pass: PassOpening): Promise<number> {
  const row = await db.insertInto('sync_passes').values(openingValues(pass)).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

/** Closes a pass; returns its tenant. */
export async function finishPass(
  db: Kysely<Database> | Transaction<Database>,
  passId: number,
  end: PassEnding,
): Promise<string> {
  const row = await db
    .updateTable('sync_passes')
    .set(endingValues(end))
    .where('id', '=', passId)
    .returning('tenant_id')
    .executeTakeFirstOrThrow();
  return row.tenant_id;
}

/** Records a pass that ran whole inside one transaction: it is never seen running. */
export async function insertFinishedPass(
  db: Kysely<Database> | Transaction<Database>,
  pass: PassOpening,
  end: PassEnding,
): Promise<number> {
  const row = await db
    .insertInto('sync_passes')
    .values({ ...openingValues(pass), ...endingValues(end) })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The tenant's records that the sync could not write and that nobody has resolved yet. */
export async function countOpenSyncErrors(
  db: Kysely<Database> | Transaction<Database>,
  tenantId: string,
): Promise<number> {
  const row = await db
    .selectFrom('sync_errors')
    .select((eb) => eb.fn.countAll<number>().as('open'))
    .where('tenant_id', '=', tenantId)
    .where('resolved_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.open);
}

/** The tenant's latest pass of a kind that succeeded, if any (a backfill's figures, say). */
export async function latestSucceededPass(
  db: Kysely<Database> | Transaction<Database>,
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
