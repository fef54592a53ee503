import { describe, expect, it } from 'vitest';
import { FailureType } from '../../common/failure-types.js';
import { DamagedRecord, type QboClient, type QueryPage } from '../qbo/qbo-client.js';
import { QboError } from '../qbo/qbo-errors.js';
import type { TenantSettings } from './crm-writer.js';
import { continuePage, planPage, type PagingStep } from './paging-planner.js';
import { askQbo, countsFrom, pageEntryKey, recordsById, splitPage, type PageEntry } from './qbo-requests.js';

const settings: TenantSettings = {
  tenantId: 't',
  realmId: 'r',
  quickbooksListId: 1,
  startDate: '2024-01-01',
  syncLanguage: 'fr',
  defaultLanguage: 'fr',
};

/** A client whose every page is full, one element of it damaged. */
function clientWithDamagedPages(pageSize: number, total: number): QboClient {
  const query = async (): Promise<QueryPage> => ({
    records: Array.from({ length: pageSize - 1 }, (_, i) => ({ Id: String(i + 1) })),
    damaged: [new DamagedRecord('Customer', 3, null, 'Id', 'is missing')],
    startPosition: undefined,
    totalCount: undefined,
    time: undefined,
  });
  return { query, count: async () => total } as unknown as QboClient;
}

describe('a page with a damaged record', () => {
  it('still counts as a full page, so a burst goes on paging past it', async () => {
    const pageSize = 4;
    const client = clientWithDamagedPages(pageSize, 10);
    const second = Date.parse('2026-03-01T10:00:00Z');
    let step: PagingStep<PageEntry> = planPage(
      {
        from: new Date(second).toISOString(),
        burst: { second: new Date(second).toISOString(), offset: 0, expected: 10 },
      },
      second + 60_000,
      { pageSize },
    );
    while (step.kind === 'request')
      step = continuePage(step.pending, await askQbo(client, settings, 'Customer', step.request), pageEntryKey);
    if (step.kind !== 'commit') throw new Error(`expected a commit, got ${step.kind}`);
    expect(step.records).toHaveLength(pageSize);
    expect(step.next.burst).toMatchObject({ offset: pageSize, expected: 10 });

    const { records, damaged } = splitPage(step.records);
    expect(records).toHaveLength(pageSize - 1);
    expect(damaged).toEqual([
      {
        qboId: '#4@2026-03-01T10:00:00',
        errorType: 'MappingError',
        field: 'Id',
        message:
          'is missing (QBO returned this Customer damaged: element 4 of the Customer query of LastUpdatedTime 2026-03-01T10:00:00..2026-03-01T10:00:01 by Id)',
      },
    ]);
  });
});

describe('issue 16: reads by id', () => {
  it('ask up to 1,000 ids a request: a page holds as many records, and the ids go in the POST body', async () => {
    const asked: number[] = [];
    const query = async (q: { where: Array<{ field: string; value: unknown }> }): Promise<QueryPage> => {
      const ids = q.where.find((condition) => condition.field === 'Id')?.value as string[];
      asked.push(ids.length);
      return {
        records: ids.map((Id) => ({ Id })),
        damaged: [],
        startPosition: 1,
        totalCount: undefined,
        time: undefined,
      };
    };
    const client = { query } as unknown as QboClient;
    const ids = Array.from({ length: 2_001 }, (_, i) => String(i + 1));
    const found = await recordsById(client, 'Customer', ids);
    expect(asked).toEqual([1_000, 1_000, 1]);
    expect(found.map((record) => record.Id)).toEqual(ids);
  });
});

describe('issue 16: counts in one batch', () => {
  it('answer each entity in its place; a count QBO refused fails them as its own fault', async () => {
    const refusal = new QboError(FailureType.QboValidation, 'count Invoice (batch): refused');
    const answers = [{ total: 7 }, { error: refusal }];
    const client = { countBatch: async () => ({ answers, time: '2026-03-01T10:00:00-05:00' }) } as unknown as QboClient;
    const from = Date.parse('2026-01-01T00:00:00Z');
    await expect(countsFrom(client, settings, [{ entity: 'Customer', from }])).resolves.toEqual({
      totals: new Map([['Customer', 7]]),
      time: '2026-03-01T10:00:00-05:00',
    });
    await expect(
      countsFrom(client, settings, [
        { entity: 'Customer', from },
        { entity: 'Invoice', from },
      ]),
    ).rejects.toBe(refusal);
  });
});
