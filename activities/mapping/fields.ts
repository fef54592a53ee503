import { MappingError } from './errors.js';

/**
 * A typed reader over one untrusted JSON object of a QBO payload. Every accessor either returns a
 * value of the promised type or throws a MappingError naming the field's full path; nothing else
 * can escape, which is what lets the mappers promise "typed error naming the field, never a half
 * record".
 */
export class Fields {
  private constructor(
    readonly qboEntity: string,
    private qboIdValue: string | null,
    private readonly value: Readonly<Record<string, unknown>>,
    private readonly prefix: string,
  ) {}

  /** The record itself; a payload that is not a JSON object fails on the entity's name. */
  static of(qboEntity: string, value: unknown): Fields {
    if (!isPlainObject(value)) {
      throw new MappingError(qboEntity, null, qboEntity, `must be a JSON object, got ${describeType(value)}`);
    }
    return new Fields(qboEntity, null, value, '');
  }

  get qboId(): string | null {
    return this.qboIdValue;
  }

  /** Records the entity's id so that later errors carry it. */
  identify(id: string): void {
    this.qboIdValue = id;
  }

  path(key: string): string {
    return this.prefix === '' ? key : `${this.prefix}.${key}`;
  }

  fail(key: string, problem: string): never {
    throw new MappingError(this.qboEntity, this.qboIdValue, this.path(key), problem);
  }

  has(key: string): boolean {
    const found = this.value[key];
    return found !== undefined && found !== null;
  }

  raw(key: string): unknown {
    return this.value[key];
  }

  /** A string, trimmed; absent, null or blank gives null. */
  optionalString(key: string, maxLength: number): string | null {
    const found = this.value[key];
    if (found === undefined || found === null) return null;
    if (typeof found !== 'string') this.fail(key, `must be a string, got ${describeType(found)}`);
    const unstorable = unstorableText(found);
    if (unstorable !== null) this.fail(key, unstorable);
    const trimmed = found.trim();
    if (trimmed.length > maxLength) this.fail(key, `is longer than ${maxLength} characters (${trimmed.length})`);
    return trimmed === '' ? null : trimmed;
  }

  requiredString(key: string, maxLength: number): string {
    const found = this.optionalString(key, maxLength);
    if (found === null) this.fail(key, this.value[key] === undefined ? 'is missing' : 'must not be empty or null');
    return found;
  }

  /** A finite JSON number within ±limit; absent or null gives null. */
  optionalNumber(key: string, limit = 1e12): number | null {
    const found = this.value[key];
    if (found === undefined || found === null) return null;
    if (typeof found !== 'number' || !Number.isFinite(found)) {
      this.fail(key, `must be a number, got ${describeType(found)}`);
    }
    if (Math.abs(found) > limit) this.fail(key, `is out of range (${found})`);
    return found;
  }

  requiredNumber(key: string, limit = 1e12): number {
    const found = this.optionalNumber(key, limit);
    if (found === null) this.fail(key, this.value[key] === undefined ? 'is missing' : 'must not be null');
    return found;
  }

  optionalBoolean(key: string): boolean | null {
    const found = this.value[key];
    if (found === undefined || found === null) return null;
    if (typeof found !== 'boolean') this.fail(key, `must be true or false, got ${describeType(found)}`);
    return found;
  }

  optionalObject(key: string): Fields | null {
    const found = this.value[key];
    if (found === undefined || found === null) return null;
    if (!isPlainObject(found)) this.fail(key, `must be an object, got ${describeType(found)}`);
    return new Fields(this.qboEntity, this.qboIdValue, found, this.path(key));
  }

  requiredObject(key: string): Fields {
    const found = this.optionalObject(key);
    if (found === null) this.fail(key, this.value[key] === undefined ? 'is missing' : 'must not be null');
    return found;
  }

  /** An array of objects, each wrapped; absent or null gives null. */
  optionalObjects(key: string, maxItems = 10_000): Fields[] | null {
    const found = this.value[key];
    if (found === undefined || found === null) return null;
    if (!Array.isArray(found)) this.fail(key, `must be an array, got ${describeType(found)}`);
    if (found.length > maxItems) this.fail(key, `has more than ${maxItems} elements (${found.length})`);
    const wrapped: Fields[] = [];
    // An index loop, not map(): map() skips the holes of a sparse array.
    for (let index = 0; index < found.length; index++) {
      const element: unknown = found[index];
      const elementPath = `${key}[${index}]`;
      if (!isPlainObject(element)) this.fail(elementPath, `must be an object, got ${describeType(element)}`);
      wrapped.push(new Fields(this.qboEntity, this.qboIdValue, element, this.path(elementPath)));
    }
    return wrapped;
  }

  requiredObjects(key: string, maxItems = 10_000): Fields[] {
    const found = this.optionalObjects(key, maxItems);
    if (found === null) this.fail(key, this.value[key] === undefined ? 'is missing' : 'must not be null');
    return found;
  }

  /** A calendar date `YYYY-MM-DD` (QBO may append a time zone offset, which is dropped). */
  optionalDate(key: string): string | null {
    const found = this.optionalString(key, 40);
    if (found === null) return null;
    const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T+-Z].*)?$/.exec(found);
    if (!match) this.fail(key, `must be a date like 2026-04-30, got ${JSON.stringify(found.slice(0, 40))}`);
    const [, year, month, day] = match as unknown as [string, string, string, string];
    const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
    if (
      date.getUTCFullYear() !== Number(year) ||
      date.getUTCMonth() !== Number(month) - 1 ||
      date.getUTCDate() !== Number(day) ||
      Number(year) < 1900 ||
      Number(year) > 2999
    ) {
      this.fail(key, `is not a valid date (${found.slice(0, 40)})`);
    }
    return `${year}-${month}-${day}`;
  }

  requiredDate(key: string): string {
    const found = this.optionalDate(key);
    if (found === null) this.fail(key, this.value[key] === undefined ? 'is missing' : 'must not be empty or null');
    return found;
  }
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why PostgreSQL cannot store a text as QBO sent it, or null: a text column refuses a NUL byte
 * (the whole write would fail, naming no field), and a lone UTF-16 surrogate is not a character at
 * all (the driver would store U+FFFD in its place, silently changing the value).
 */
export function unstorableText(text: string): string | null {
  const nul = text.indexOf('\u0000');
  if (nul >= 0) return `contains a NUL byte at character ${nul}, which PostgreSQL cannot store`;
  const surrogate = loneSurrogate.exec(text);
  if (surrogate) return `contains a lone UTF-16 surrogate at character ${surrogate.index}, which is not valid text`;
  return null;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `a string (${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)})`;
  if (typeof value === 'number') return Number.isFinite(value) ? `a number (${value})` : 'a non-finite number';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
