import type { ColumnType, Generated } from 'kysely';

/**
 * The tables qbsync reads and writes, as Kysely sees them. Migrations are the source of truth;
 * this interface mirrors their latest state.
 */
export interface Database {
  stack_checks: StackChecksTable;
}

/** Written by the stack check workflow that `qbsync dev` runs to show the stack works end to end. */
export interface StackChecksTable {
  id: Generated<number>;
  workflow_id: string;
  message: string;
  checked_at: ColumnType<Date, Date | string | undefined, never>;
}
