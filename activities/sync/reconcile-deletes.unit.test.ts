import { describe, expect, it } from 'vitest';
import { dayNumber, dayText, findDeletedDocuments, type DocumentSource } from './reconcile-deletes.js';

/** QBO's documents as [id, TxnDate]: count(*) and pages of ids by TxnDate range. */
function source(documents: ReadonlyArray<readonly [string, string]>, pageSize: number) {
  const inRange = (from: number, to: number) =>
    documents
      .filter(([, date]) => dayNumber(date) >= from && dayNumber(date) < to)
      .map(([id]) => id)
      .sort();
  const calls = { count: 0, ids: 0 };
  const answers: DocumentSource = {
    count: async (from, to) => {
      calls.count += 1;
      return inRange(from, to).length;
    },
    ids: async (from, to, startPosition) => {
      calls.ids += 1;
      return inRange(from, to).slice(startPosition - 1, startPosition - 1 + pageSize);
    },
  };
  return { answers, calls };
}

const days = (count: number) => Array.from({ length: count }, (_, day) => dayText(dayNumber('2025-01-01') + day));

describe('reconciliation of deleted documents', () => {
  it('finds the documents QBO no longer has, reading only the ranges whose counts differ', async () => {
    const dates = days(365);
    const crm = dates.flatMap((date, day) => [0, 1, 2].map((n) => ({ qboId: `${day * 3 + n}`, txnDate: date })));
    const deleted = new Set(['7', '500', '501', '1000']);
    const qbo = crm.filter((document) => !deleted.has(document.qboId)).map((d) => [d.qboId, d.txnDate] as const);
    const { answers, calls } = source(qbo, 10);
    const result = await findDeletedDocuments(crm, answers, 10);
    expect(result.gone.sort()).toEqual([...deleted].sort());
    expect(result.requests).toBe(calls.count + calls.ids);
    // Narrowed by halves: a few dozen requests, not the 110 pages of reading everything.
    expect(calls.ids).toBeLessThanOrEqual(deleted.size);
    expect(result.requests).toBeLessThan(60);
  });

  it('makes one count when nothing is gone, and none when the CRM holds nothing', async () => {
    const crm = days(30).map((date, day) => ({ qboId: `${day}`, txnDate: date }));
    const { answers } = source(
      crm.map((d) => [d.qboId, d.txnDate] as const),
      10,
    );
    expect(await findDeletedDocuments(crm, answers, 10)).toEqual({ gone: [], requests: 1 });
    expect(await findDeletedDocuments([], answers, 10)).toEqual({ gone: [], requests: 0 });
  });

  it('pages through a single day holding more than a page', async () => {
    const crm = Array.from({ length: 25 }, (_, n) => ({ qboId: `${100 + n}`, txnDate: '2025-03-03' }));
    const qbo = crm.filter((d) => d.qboId !== '112').map((d) => [d.qboId, d.txnDate] as const);
    const { answers, calls } = source(qbo, 10);
    expect((await findDeletedDocuments(crm, answers, 10)).gone).toEqual(['112']);
    expect(calls.ids).toBe(3);
  });
});
