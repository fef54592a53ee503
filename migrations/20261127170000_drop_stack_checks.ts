import { sql, type Kysely } from 'kysely';

/** The stack check workflow that showed the first stack working is gone: the demo tenant's sync shows it now. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('stack_checks').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('stack_checks')
    .addColumn('id', 'bigserial', (col) => col.primaryKey())
    .addColumn('workflow_id', 'text', (col) => col.notNull())
    .addColumn('message', 'text', (col) => col.notNull())
    .addColumn('checked_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
}
