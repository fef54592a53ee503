import { describe, expect, it } from 'vitest';
import { DamagedRecord, type QboClient, type QueryPage } from '../qbo/qbo-client.js';
import type { TenantSettings } from './crm-writer.js';
import { continuePage, planPage, type PagingStep } from './paging-planner.js';
import { askQbo, pageEntryKey, splitPage, type PageEntry } from './qbo-requests.js';

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
