import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from './schema.js';

export type Executor = Kysely<Database> | Transaction<Database>;

type TableWithId = 'accounts' | 'contacts' | 'opportunities' | 'products' | 'revenue_categories';

/** The SQL type of each column a set-based statement carries, by column name. */
export type RecordsetColumns<T extends keyof Database> = Partial<Record<keyof Database[T] & string, string>>;

/**
 * Rows handed to PostgreSQL as one JSON parameter and expanded there as `r`. A statement over a
 * whole page stays one statement with one parameter, where a VALUES list would grow a parameter
 * per cell and hit PostgreSQL's 65,535 on a large page of document lines.
 */
export function recordset(
  rows: readonly object[],
  columns: Readonly<Partial<Record<string, string>>>,
): RawBuilder<unknown> {
  const definition = Object.entries(columns)
    .map(([name, type]) => `${name} ${type}`)
    .join(', ');
  return sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(${sql.raw(definition)})`;
}

/** Inserts rows of one tenant; the rows carry every column named in `columns`. */
export async function insertRows<T extends keyof Database>(
  db: Executor,
  table: T,
  tenantId: string,
  columns: RecordsetColumns<T>,
  rows: readonly object[],
): Promise<void> {
  if (rows.length === 0) return;
  const names = Object.keys(columns);
  await sql`
    INSERT INTO ${sql.table(table)} (tenant_id, ${sql.join(names.map((name) => sql.id(name)))})
    SELECT ${tenantId}, ${sql.join(names.map((name) => sql.ref(`r.${name}`)))}
    FROM ${recordset(rows, columns)}`.execute(db);
}

/**
 * Draws ids for rows about to be inserted, so a set-based insert never relies on the order in which
 * RETURNING hands rows back to pair them with the records they came from.
 */
async function allocateIds(db: Executor, table: TableWithId, count: number): Promise<number[]> {
  if (count === 0) return [];
  const rows = await sql<{ id: number }>`
    SELECT nextval(pg_get_serial_sequence(${table}, 'id'))::int8 AS id FROM generate_series(1, ${count})`.execute(db);
  return rows.rows.map((row) => Number(row.id));
}

export interface Placed<R> {
  readonly record: R;
  readonly id: number;
}

/**
 * Writes one row per record: records without a row yet (`id` null) are inserted with fresh ids, the
 * others updated, one statement each. `insertOnly` columns are set on new rows and never changed.
 */
export async function writeRows<T extends TableWithId, R>(
  db: Executor,
  table: T,
  tenantId: string,
  records: ReadonlyArray<{ readonly record: R; readonly id: number | null }>,
  columns: RecordsetColumns<T>,
  fields: (record: R) => object,
  insertOnly: RecordsetColumns<T> = {},
): Promise<{ inserted: Placed<R>[]; updated: Placed<R>[] }> {
  const fresh = records.filter((entry) => entry.id === null);
  const ids = await allocateIds(db, table, fresh.length);
  const inserted = fresh.map((entry, index) => ({ record: entry.record, id: ids[index]! }));
  const updated = records.flatMap((entry) => (entry.id === null ? [] : [{ record: entry.record, id: entry.id }]));
  const rows = (placed: readonly Placed<R>[]) => placed.map(({ record, id }) => ({ ...fields(record), id }));
  await insertRows(db, table, tenantId, { id: 'int8', ...insertOnly, ...columns }, rows(inserted));
  if (updated.length > 0) {
    const names = Object.keys(columns);
    await sql`
      UPDATE ${sql.table(table)} AS t
      SET ${sql.join(names.map((name) => sql`${sql.id(name)} = ${sql.ref(`r.${name}`)}`))}
      FROM ${recordset(rows(updated), { id: 'int8', ...columns })}
      WHERE t.id = r.id AND t.tenant_id = ${tenantId}`.execute(db);
  }
  return { inserted, updated };
}
