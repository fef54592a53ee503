import { describe, expect, it } from 'vitest';
import { sampleRecords } from '../mapping/samples.js';
import { mapSalesDocument } from '../mapping/sales-document.js';
import type { QboRecord } from '../qbo/qbo-client.js';
import { mapDocuments } from './crm-writer.js';

// The syncing activity maps a page of sales documents as soon as it is read (issue 16, worker
// memory); what it then writes must be what the writer would have mapped itself.

const invoices: QboRecord[] = sampleRecords('invoice-query-with-discount.source-nango.json', 'Invoice').map((raw) => ({
  ...raw,
  Id: String(raw['Id']),
}));

describe('R9: a page of sales documents mapped before its write', () => {
  it('maps every recorded invoice as the document mapping does, in the order read', () => {
    const mapped = mapDocuments('Invoice', invoices, 'fr');
    expect(mapped.entity).toBe('Invoice');
    expect(mapped.failures).toEqual([]);
    expect(mapped.deleted).toEqual([]);
    expect(mapped.documents).toEqual(
      invoices.map((invoice) => mapSalesDocument('Invoice', invoice, { language: 'fr' })),
    );
  });

  it('keeps the newest version of a record read twice, and sets deletion stubs apart', () => {
    const [first, second] = invoices;
    if (!first || !second) throw new Error('the recorded invoices are fewer than two');
    const meta = first['MetaData'] as Record<string, unknown>;
    const older = { ...first, SyncToken: '0', MetaData: { ...meta, LastUpdatedTime: '2001-01-01T00:00:00-08:00' } };
    const stub = { Id: second.Id, status: 'Deleted', MetaData: { LastUpdatedTime: '2099-01-01T00:00:00-08:00' } };
    const mapped = mapDocuments('Invoice', [older, first, second, stub], 'en');
    expect(mapped.deleted).toEqual([second.Id]);
    expect(mapped.documents).toEqual([mapSalesDocument('Invoice', first, { language: 'en' })]);
  });

  it('files a record that does not map as a MappingError and maps the rest', () => {
    const [first, second] = invoices;
    if (!first || !second) throw new Error('the recorded invoices are fewer than two');
    const broken = { ...first, TxnDate: 'the 31st of Nevember' };
    const mapped = mapDocuments('Invoice', [broken, second], 'fr');
    expect(mapped.failures).toEqual([expect.objectContaining({ qboId: first.Id, errorType: 'MappingError' })]);
    expect(mapped.documents.map((document) => document.qboId)).toEqual([second.Id]);
  });
});
