import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { FailureType, nonRetryableFailureTypes } from '../../common/failure-types.js';
import { QboError } from '../qbo/qbo-errors.js';
import { classifyFailures, isDatabaseUnavailable, toActivityFailure } from './classify.js';

const pgError = (code: string, message = 'terminating connection due to administrator command') =>
  Object.assign(new Error(message), { code, severity: 'FATAL' });

describe('classification of activity failures', () => {
  it.each([
    ['admin shutdown', pgError('57P01')],
    ['crash shutdown', pgError('57P02')],
    ['cannot connect now', pgError('57P03', 'the database system is starting up')],
    ['connection exception', pgError('08006', 'connection failure')],
    ['refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['terminated', new Error('Connection terminated unexpectedly')],
    ['lost between queries', new Error('Client has encountered a connection error and is not queryable')],
    ['refused on every address', new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })])],
    ['a cause', new Error('query failed', { cause: pgError('57P01') })],
  ])('a lost PostgreSQL connection (%s) is DatabaseUnavailable, retryable', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
    const failure = toActivityFailure(error) as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: FailureType.DatabaseUnavailable, nonRetryable: false });
    expect(nonRetryableFailureTypes).not.toContain(FailureType.DatabaseUnavailable);
  });

  it('keeps QBO types, passes ApplicationFailures through and leaves other errors (bugs) alone', () => {
    expect(toActivityFailure(new QboError(FailureType.QboValidation, 'bad'))).toMatchObject({
      type: FailureType.QboValidation,
      nonRetryable: true,
    });
    const failure = ApplicationFailure.create({ type: FailureType.TenantNotConnected, nonRetryable: true });
    expect(toActivityFailure(failure)).toBe(failure);
    const violation = pgError('23505', 'duplicate key value violates unique constraint');
    expect(toActivityFailure(violation)).toBe(violation);
    const bug = new TypeError('x is undefined');
    expect(toActivityFailure(bug)).toBe(bug);
  });

  it('wraps every activity of a set', async () => {
    const activities = classifyFailures({
      ok: async (input: { n: number }) => input.n + 1,
      down: async (_input: { n: number }): Promise<number> => {
        throw pgError('57P01');
      },
    });
    expect(await activities.ok({ n: 1 })).toBe(2);
    await expect(activities.down({ n: 1 })).rejects.toMatchObject({ type: FailureType.DatabaseUnavailable });
  });
});
