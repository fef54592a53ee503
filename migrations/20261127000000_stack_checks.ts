import { sql, type Kysely } from 'kysely';

// Frozen in time: migrations use Kysely<any>, never the current Database interface.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('stack_checks')
    .addColumn('id', 'bigserial', (col) => col.primaryKey())
    .addColumn('workflow_id', 'text', (col) => col.notNull())
    .addColumn('message', 'text', (col) => col.notNull())
    .addColumn('checked_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('stack_checks').execute();
}
