import pg from 'pg';

/** PostgreSQL's type OID of DATE. */
const dateOid = 1082;

/**
 * DATE columns (start dates, document dates) are calendar dates, not instants. By default `pg`
 * turns them into a JS Date at local midnight, which a process east of UTC then prints as the day
 * before (2000-01-01 became 1999-12-31 in Auckland). Kept as PostgreSQL's own 'YYYY-MM-DD' text,
 * they mean the same day in every time zone. Called where pools are created (db/connection.ts).
 */
export function readDatesAsCalendarDays(): void {
  pg.types.setTypeParser(dateOid, (value: string) => value);
}
