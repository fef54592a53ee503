/**
 * A DATE column's value, checked to be the calendar day 'YYYY-MM-DD' that db/date-types.ts has the
 * driver return. A JS Date here means a pool was made without that parser: such a value is local
 * midnight and names the wrong day east of UTC, so it is refused rather than converted.
 */
export function isoDate(value: string): string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    throw new TypeError(
      `expected a calendar date as YYYY-MM-DD, got ${(value as unknown) instanceof Date ? 'a Date (is the pool from createDb?)' : JSON.stringify(value)}`,
    );
  }
  return value;
}
