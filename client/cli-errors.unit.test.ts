import { describe, expect, it } from 'vitest';
import { undefinedTable } from './cli-errors.js';

describe('a database nobody migrated', () => {
  function pgError(code: string, message: string): Error {
    return Object.assign(new Error(message), { code });
  }

  it('is recognised by SQLSTATE 42P01, naming the table, also as the cause of another error', () => {
    expect(undefinedTable(pgError('42P01', 'relation "tenants" does not exist'))).toBe('tenants');
    const wrapped = new Error('the query failed', { cause: pgError('42P01', 'relation "sync_passes" does not exist') });
    expect(undefinedTable(wrapped)).toBe('sync_passes');
  });

  it('leaves every other error alone', () => {
    expect(undefinedTable(pgError('23505', 'duplicate key value violates unique constraint'))).toBeUndefined();
    expect(undefinedTable(new Error('relation "tenants" does not exist'))).toBeUndefined();
    expect(undefinedTable('42P01')).toBeUndefined();
  });
});
