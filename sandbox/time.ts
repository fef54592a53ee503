/**
 * Company-local timestamps as QBO writes them: entity times like `2026-04-07T12:56:01-07:00`
 * (seconds, local offset), the response `time` with milliseconds. The offset follows the
 * company's IANA time zone, DST included.
 */

const offsetCache = new Map<string, Map<number, number>>();
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws a RangeError when the time zone is not a valid IANA name. */
export function checkTimeZone(timeZone: string): void {
  formatter(timeZone);
}

const dayCache = new Map<string, Map<number, number | null>>();

/**
 * The zone's UTC offset in minutes at an instant (e.g. -240 for EDT). Cached per UTC day when the
 * offset is the same at both ends of the day (no transition), otherwise per hour.
 */
export function offsetMinutes(ms: number, timeZone: string): number {
  let days = dayCache.get(timeZone);
  if (!days) {
    days = new Map();
    dayCache.set(timeZone, days);
  }
  const day = Math.floor(ms / 86_400_000);
  let whole = days.get(day);
  if (whole === undefined) {
    const first = hourOffset(day * 24, timeZone);
    const last = hourOffset(day * 24 + 23, timeZone);
    whole = first === last ? first : null;
    if (days.size > 100_000) days.clear();
    days.set(day, whole);
  }
  if (whole !== null) return whole;
  return hourOffset(Math.floor(ms / 3_600_000), timeZone);
}

function hourOffset(hour: number, timeZone: string): number {
  let zone = offsetCache.get(timeZone);
  if (!zone) {
    zone = new Map();
    offsetCache.set(timeZone, zone);
  }
  const cached = zone.get(hour);
  if (cached !== undefined) return cached;
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(hour * 3_600_000))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  const wall = Date.UTC(
    parts['year'] ?? 1970,
    (parts['month'] ?? 1) - 1,
    parts['day'] ?? 1,
    parts['hour'] ?? 0,
    parts['minute'] ?? 0,
    parts['second'] ?? 0,
  );
  const offset = Math.round((wall - hour * 3_600_000) / 60_000);
  if (zone.size > 200_000) zone.clear();
  zone.set(hour, offset);
  return offset;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function offsetText(minutes: number, colon: boolean): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}${colon ? ':' : ''}${pad(abs % 60)}`;
}

/** `2026-04-07T12:56:01-07:00` (or with `.149` milliseconds when asked). */
export function formatLocal(ms: number, timeZone: string, withMillis = false): string {
  const offset = offsetMinutes(ms, timeZone);
  const d = new Date(ms + offset * 60_000);
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())}`;
  return `${base}${withMillis ? `.${pad(d.getUTCMilliseconds(), 3)}` : ''}${offsetText(offset, true)}`;
}

/** The company-local calendar date `YYYY-MM-DD` of an instant. */
export function localDate(ms: number, timeZone: string): string {
  return formatLocal(ms, timeZone).slice(0, 10);
}

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses the date-time literals QBO accepts: `2015-03-01`, local `2015-03-01T10:20:30`, UTC `…Z`
 * and `…-07:00` or `…-0700`. Values without an offset are read in the company's time zone
 * (UNCONFIRMED in Intuit's docs; the most plausible reading). Returns undefined when malformed.
 */
export function parseQboDateTime(text: string, timeZone: string): number | undefined {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  const millis = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  const wall = Date.UTC(Number(y), month - 1, day, hour, minute, second, millis);
  if (Number.isNaN(wall)) return undefined;
  if (zone === 'Z') return wall;
  if (zone) {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
    return wall - offset * 60_000;
  }
  const guess = wall - offsetMinutes(wall, timeZone) * 60_000;
  return wall - offsetMinutes(guess, timeZone) * 60_000;
}
