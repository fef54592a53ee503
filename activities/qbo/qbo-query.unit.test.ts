import { describe, expect, it } from 'vitest';
import { buildQuery, qboDateTime, quoteValue } from './qbo-query.js';

describe('QBO query building', () => {
  it("escapes apostrophes and backslashes: Amy's Bird Sanctuary", () => {
    expect(quoteValue("Amy's Bird Sanctuary")).toBe("'Amy\\'s Bird Sanctuary'");
    expect(quoteValue('C:\\temp')).toBe("'C:\\\\temp'");
    expect(quoteValue("L'Érablière d'en haut")).toBe("'L\\'Érablière d\\'en haut'");
  });

  it('builds a windowed, ordered, paged query', () => {
    expect(
      buildQuery({
        entity: 'Customer',
        where: [
          { field: 'Active', op: 'IN', value: [true, false] },
          { field: 'MetaData.LastUpdatedTime', op: '>=', value: '2024-03-01T00:00:00+00:00' },
          { field: 'MetaData.LastUpdatedTime', op: '<', value: '2024-03-09T00:00:00+00:00' },
        ],
        orderBy: { field: 'MetaData.LastUpdatedTime', direction: 'ASC' },
        startPosition: 1,
        maxResults: 1000,
      }),
    ).toBe(
      "SELECT * FROM Customer WHERE Active IN (true, false) AND MetaData.LastUpdatedTime >= '2024-03-01T00:00:00+00:00' AND MetaData.LastUpdatedTime < '2024-03-09T00:00:00+00:00' ORDERBY MetaData.LastUpdatedTime ASC STARTPOSITION 1 MAXRESULTS 1000",
    );
  });

  it('builds count(*) without paging clauses', () => {
    expect(
      buildQuery({ entity: 'Invoice', where: [{ field: 'TxnDate', op: '>=', value: '2024-01-01' }] }, 'count(*)'),
    ).toBe("SELECT count(*) FROM Invoice WHERE TxnDate >= '2024-01-01'");
  });

  it('refuses what would let a value escape into the statement', () => {
    expect(() => buildQuery({ entity: 'Customer; DROP', where: [] })).toThrow(RangeError);
    expect(() => buildQuery({ entity: 'Customer', where: [{ field: "Id' OR '1", op: '=', value: '1' }] })).toThrow(
      RangeError,
    );
    expect(() => buildQuery({ entity: 'Customer', maxResults: 1001 })).toThrow(/maxResults must be 1..1000/);
    expect(() => buildQuery({ entity: 'Customer', where: [{ field: 'Id', op: 'IN', value: [] }] })).toThrow(
      /at least one/,
    );
  });

  it('formats date-times to the second with an explicit offset', () => {
    expect(qboDateTime(new Date('2024-03-01T12:34:56.789Z'))).toBe('2024-03-01T12:34:56+00:00');
  });
});
