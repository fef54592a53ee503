/**
 * The QBO query language as qbsync needs it: `SELECT * | count(*) FROM Entity [WHERE a op v AND …]
 * [ORDERBY f [ASC|DESC], …] [STARTPOSITION n] [MAXRESULTS n]`, with `ORDER BY`, the `Metadata`
 * spelling, IN lists, LIKE with `%`, and backslash-escaped quotes. Errors are the real faults:
 * 4000 QueryParserError for syntax, 4001 QueryValidationError for meaning.
 */
import { faults } from './faults.js';
import { entityFromName, isObject, NAME_LISTS, type Company, type EntityName, type Row } from './store.js';
import { parseQboDateTime } from './time.js';

export type Operator = '=' | '<' | '>' | '<=' | '>=' | 'IN' | 'LIKE';
export type Literal = { readonly kind: 'string' | 'number' | 'bool' | 'word'; readonly text: string };

export interface Condition {
  readonly field: string;
  readonly op: Operator;
  readonly values: readonly Literal[];
}

export interface ParsedQuery {
  readonly count: boolean;
  readonly entityText: string;
  readonly where: readonly Condition[];
  readonly orderBy: readonly { readonly field: string; readonly desc: boolean }[];
  readonly startPosition: number | undefined;
  readonly maxResults: number | undefined;
}

type Token =
  | { type: 'word'; text: string; col: number }
  | { type: 'string'; text: string; col: number }
  | { type: 'number'; text: string; col: number }
  | { type: 'symbol'; text: string; col: number }
  | { type: 'eof'; text: string; col: number };

const MAX_QUERY_LENGTH = 100_000;

/** Splits a statement into tokens; a backslash escapes the next character inside quotes. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const col = i + 1;
    if (c === "'" || c === '"') {
      let value = '';
      i++;
      let closed = false;
      while (i < text.length) {
        const d = text[i] as string;
        if (d === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else if (d === c) {
          i++;
          closed = true;
          break;
        } else {
          value += d;
          i++;
        }
      }
      if (!closed)
        throw faults.parse(
          `Lexical error at line 1, column ${text.length + 1}.  Encountered: <EOF> after : "${c}${value}"`,
        );
      tokens.push({ type: 'string', text: value, col });
      continue;
    }
    if (c === '<' || c === '>') {
      const two = text.slice(i, i + 2);
      if (two === '<=' || two === '>=') {
        tokens.push({ type: 'symbol', text: two, col });
        i += 2;
      } else {
        tokens.push({ type: 'symbol', text: c, col });
        i++;
      }
      continue;
    }
    if ('=(),*'.includes(c)) {
      tokens.push({ type: 'symbol', text: c, col });
      i++;
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(text.slice(i));
    if (num && (c === '-' || /\d/.test(c))) {
      const after = text[i + num[0].length];
      if (after === undefined || !/[A-Za-z_]/.test(after)) {
        tokens.push({ type: 'number', text: num[0], col });
        i += num[0].length;
        continue;
      }
    }
    const word = /^[A-Za-z0-9_.:-]+/.exec(text.slice(i));
    if (word) {
      tokens.push({ type: 'word', text: word[0], col });
      i += word[0].length;
      continue;
    }
    throw faults.parse(`Lexical error at line 1, column ${col}.  Encountered: "${c}"`);
  }
  tokens.push({ type: 'eof', text: '<EOF>', col: text.length + 1 });
  return tokens;
}

/** Parses a statement; throws a 4000 QboFault on a syntax error. */
export function parseQuery(text: string): ParsedQuery {
  if (text.length > MAX_QUERY_LENGTH) throw faults.parse(`query is longer than ${MAX_QUERY_LENGTH} characters`);
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos] as Token;
  const next = () => tokens[pos++] as Token;
  const unexpected = (t: Token, expecting: string): never => {
    throw faults.parse(
      `Encountered " ${t.type === 'eof' ? '<EOF>' : `"${t.text}"`} " at line 1, column ${t.col}.\nWas expecting: ${expecting}`,
    );
  };
  const isWord = (t: Token, word: string) => t.type === 'word' && t.text.toUpperCase() === word;
  const expectWord = (word: string) => {
    const t = next();
    if (!isWord(t, word)) unexpected(t, `"${word}"`);
  };
  const expectSymbol = (symbol: string) => {
    const t = next();
    if (t.type !== 'symbol' || t.text !== symbol) unexpected(t, `"${symbol}"`);
  };

  expectWord('SELECT');
  let count = false;
  const sel = next();
  if (sel.type === 'symbol' && sel.text === '*') count = false;
  else if (isWord(sel, 'COUNT')) {
    expectSymbol('(');
    expectSymbol('*');
    expectSymbol(')');
    count = true;
  } else unexpected(sel, '"*" or "count(*)"');
  expectWord('FROM');
  const entity = next();
  if (entity.type !== 'word') unexpected(entity, '<entity name>');

  const where: Condition[] = [];
  if (isWord(peek(), 'WHERE')) {
    next();
    for (;;) {
      where.push(parseCondition());
      if (isWord(peek(), 'AND')) {
        next();
        continue;
      }
      if (isWord(peek(), 'OR')) unexpected(peek(), '"AND" (OR is not supported)');
      break;
    }
  }

  const orderBy: { field: string; desc: boolean }[] = [];
  if (isWord(peek(), 'ORDERBY') || isWord(peek(), 'ORDER')) {
    if (isWord(next(), 'ORDER')) expectWord('BY');
    for (;;) {
      const field = next();
      if (field.type !== 'word') unexpected(field, '<property name>');
      let desc = false;
      if (isWord(peek(), 'ASC')) next();
      else if (isWord(peek(), 'DESC')) {
        next();
        desc = true;
      }
      orderBy.push({ field: field.text, desc });
      if (peek().type === 'symbol' && peek().text === ',') {
        next();
        continue;
      }
      break;
    }
  }

  let startPosition: number | undefined;
  let maxResults: number | undefined;
  for (;;) {
    const t = peek();
    if (isWord(t, 'STARTPOSITION') && startPosition === undefined) {
      next();
      startPosition = parseInteger();
    } else if (isWord(t, 'MAXRESULTS') && maxResults === undefined) {
      next();
      maxResults = parseInteger();
    } else break;
  }
  const end = peek();
  if (end.type !== 'eof')
    unexpected(end, count || where.length ? '<EOF>' : '"WHERE", "ORDERBY", "STARTPOSITION", "MAXRESULTS" or <EOF>');
  return { count, entityText: entity.text, where, orderBy, startPosition, maxResults };

  function parseInteger(): number {
    const t = next();
    if (t.type !== 'number' || !/^-?\d+$/.test(t.text)) unexpected(t, '<INTEGER>');
    return Number(t.text);
  }

  function literal(): Literal {
    const t = next();
    if (t.type === 'string') return { kind: 'string', text: t.text };
    if (t.type === 'number') return { kind: 'number', text: t.text };
    if (t.type === 'word') {
      const lower = t.text.toLowerCase();
      if (lower === 'true' || lower === 'false') return { kind: 'bool', text: lower };
      return { kind: 'word', text: t.text };
    }
    return unexpected(t, '<value>');
  }

  function parseCondition(): Condition {
    const field = next();
    if (field.type !== 'word') unexpected(field, '<property name>');
    const opToken = next();
    let op: Operator;
    if (opToken.type === 'symbol' && ['=', '<', '>', '<=', '>='].includes(opToken.text)) op = opToken.text as Operator;
    else if (isWord(opToken, 'IN')) op = 'IN';
    else if (isWord(opToken, 'LIKE')) op = 'LIKE';
    else return unexpected(opToken, '"=", "<", ">", "<=", ">=", "IN" or "LIKE"');
    if (op === 'IN') {
      expectSymbol('(');
      const values = [literal()];
      while (peek().type === 'symbol' && peek().text === ',') {
        next();
        values.push(literal());
      }
      expectSymbol(')');
      return { field: field.text, op, values };
    }
    return { field: field.text, op, values: [literal()] };
  }
}

type FieldKind = 'id' | 'string' | 'bool' | 'time' | 'date' | 'number';
interface FieldDef {
  readonly name: string;
  readonly kind: FieldKind;
  readonly get: (row: Row, company: Company) => string | number | boolean | undefined;
}

const bodyString = (key: string, sub?: string) => (row: Row, company: Company) => {
  const value = company.body(row)[key];
  if (sub) return isObject(value) && typeof value[sub] === 'string' ? value[sub] : undefined;
  return typeof value === 'string' ? value : undefined;
};

const common: FieldDef[] = [
  { name: 'Id', kind: 'id', get: (r) => r.id },
  { name: 'MetaData.CreateTime', kind: 'time', get: (r) => r.created },
  { name: 'MetaData.LastUpdatedTime', kind: 'time', get: (r) => r.updated },
];

const FIELDS: Record<EntityName, FieldDef[]> = {
  Customer: [
    ...common,
    { name: 'Active', kind: 'bool', get: (r) => r.active },
    { name: 'DisplayName', kind: 'string', get: (r) => r.name },
    { name: 'FullyQualifiedName', kind: 'string', get: (r, c) => c.qualifiedName(r) },
    { name: 'GivenName', kind: 'string', get: bodyString('GivenName') },
    { name: 'MiddleName', kind: 'string', get: bodyString('MiddleName') },
    { name: 'FamilyName', kind: 'string', get: bodyString('FamilyName') },
    { name: 'CompanyName', kind: 'string', get: bodyString('CompanyName') },
    { name: 'PrintOnCheckName', kind: 'string', get: bodyString('PrintOnCheckName') },
    { name: 'PrimaryEmailAddr', kind: 'string', get: bodyString('PrimaryEmailAddr', 'Address') },
    {
      name: 'Balance',
      kind: 'number',
      get: (r, c) => {
        const b = c.body(r)['Balance'];
        return typeof b === 'number' ? b : undefined;
      },
    },
  ],
  Item: [
    ...common,
    { name: 'Active', kind: 'bool', get: (r) => r.active },
    { name: 'Name', kind: 'string', get: (r) => r.name },
    { name: 'FullyQualifiedName', kind: 'string', get: (r, c) => c.qualifiedName(r) },
    { name: 'Type', kind: 'string', get: (r) => r.itemType },
    { name: 'Sku', kind: 'string', get: bodyString('Sku') },
  ],
  Estimate: [],
  Invoice: [],
  CreditMemo: [],
  SalesReceipt: [],
};
for (const entity of ['Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt'] as const) {
  FIELDS[entity] = [
    ...common,
    { name: 'DocNumber', kind: 'string', get: (r) => r.docNumber },
    { name: 'TxnDate', kind: 'date', get: (r) => r.txnDate },
    { name: 'CustomerRef', kind: 'id', get: (r) => r.customerId },
  ];
}

function findField(entity: EntityName, name: string): FieldDef {
  const normal = name.toLowerCase();
  const def = FIELDS[entity].find((f) => f.name.toLowerCase() === normal);
  if (!def) throw faults.queryValidation(`Property ${name} not found for Entity ${entity}`);
  return def;
}

type Comparable = string | number | boolean;

function coerce(def: FieldDef, literal: Literal, company: Company): Comparable {
  const bad = () => faults.queryValidation(`value ${literal.text} is not valid for property '${def.name}'`);
  switch (def.kind) {
    case 'bool':
      if (literal.kind !== 'bool' && !/^(true|false)$/i.test(literal.text)) throw bad();
      return literal.text.toLowerCase() === 'true';
    case 'time': {
      const ms = parseQboDateTime(literal.text, company.timeZone);
      if (ms === undefined) throw bad();
      return ms;
    }
    case 'date': {
      const ms = parseQboDateTime(literal.text, 'UTC');
      if (ms === undefined) throw bad();
      return literal.text.trim().slice(0, 10);
    }
    case 'number': {
      const n = Number(literal.text);
      if (!Number.isFinite(n)) throw bad();
      return n;
    }
    case 'id':
      return literal.text;
    case 'string':
      return literal.text.toLowerCase();
  }
}

function compareValues(kind: FieldKind, a: Comparable, b: Comparable): number {
  if (kind === 'id') {
    const x = Number(a);
    const y = Number(b);
    if (Number.isFinite(x) && Number.isFinite(y) && String(a) !== '' && String(b) !== '') return x - y;
    return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

type Predicate = (row: Row) => boolean;

function buildPredicate(entity: EntityName, condition: Condition, company: Company): Predicate {
  const def = findField(entity, condition.field);
  const fast = fastPredicate(def, condition, company);
  if (fast) return fast;
  const read = (row: Row): Comparable | undefined => {
    const raw = def.get(row, company);
    if (raw === undefined) return undefined;
    return def.kind === 'string' && typeof raw === 'string' ? raw.toLowerCase() : raw;
  };
  if (condition.op === 'LIKE') {
    if (def.kind !== 'string')
      throw faults.queryValidation(`LIKE is not supported for property '${def.name}'; it applies to text properties`);
    const pattern = (condition.values[0] as Literal).text.toLowerCase();
    const regex = new RegExp(`^${pattern.split('%').map(escapeRegex).join('.*')}$`, 's');
    return (row) => {
      const v = read(row);
      return typeof v === 'string' && regex.test(v);
    };
  }
  if (condition.op === 'IN') {
    const wanted = condition.values.map((v) => coerce(def, v, company));
    return (row) => {
      const v = read(row);
      return v !== undefined && wanted.some((w) => compareValues(def.kind, v, w) === 0);
    };
  }
  if (def.kind === 'bool' && condition.op !== '=')
    throw faults.queryValidation(`operator ${condition.op} is not supported for property '${def.name}'`);
  const wanted = coerce(def, condition.values[0] as Literal, company);
  const test = {
    '=': (c: number) => c === 0,
    '<': (c: number) => c < 0,
    '>': (c: number) => c > 0,
    '<=': (c: number) => c <= 0,
    '>=': (c: number) => c >= 0,
  }[condition.op];
  return (row) => {
    const v = read(row);
    return v !== undefined && test(compareValues(def.kind, v, wanted));
  };
}

/** Direct comparisons for Active and the two times, the filters a sync uses on every page. */
function fastPredicate(def: FieldDef, condition: Condition, company: Company): Predicate | undefined {
  if (def.name === 'Active' && (condition.op === '=' || condition.op === 'IN')) {
    const wanted = new Set(condition.values.map((v) => coerce(def, v, company)));
    if (wanted.has(true) && wanted.has(false)) return ALWAYS;
    return wanted.has(true) ? isActive : isInactive;
  }
  if (def.kind === 'time' && condition.op !== 'IN' && condition.op !== 'LIKE') {
    const value = coerce(def, condition.values[0] as Literal, company) as number;
    const field = def.name === 'MetaData.CreateTime' ? 'created' : 'updated';
    switch (condition.op) {
      case '=':
        return (row) => row[field] === value;
      case '<':
        return (row) => row[field] < value;
      case '<=':
        return (row) => row[field] <= value;
      case '>':
        return (row) => row[field] > value;
      case '>=':
        return (row) => row[field] >= value;
    }
  }
  return undefined;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface QueryOptions {
  /**
   * Whether `select * from customer` is refused. Intuit answers it (node-quickbooks sends
   * lowercase entity names to production, and its users page customers that way), so the
   * default is false; true is stricter than Intuit.
   */
  readonly caseSensitiveEntities: boolean;
  /**
   * Order when ORDERBY is absent. Intuit: "not by Id" (a real Customer page came back roughly
   * alphabetical). 'name' sorts name lists by DisplayName/Name and transactions by TxnDate then Id;
   * 'id' sorts by Id. UNCONFIRMED exact rule.
   */
  readonly defaultOrder: 'name' | 'id';
  /** Include `totalCount` in `SELECT *` responses. Real responses sometimes have it, sometimes not. */
  readonly includeTotalCount: boolean;
}

export interface QueryResult {
  readonly entity: EntityName;
  readonly count: boolean;
  readonly totalCount: number | undefined;
  readonly rows: readonly Row[];
  readonly startPosition: number;
}

/** Parses and runs a statement against a company. Throws QboFault (400) on bad input. */
export function runQuery(company: Company, text: string, options: QueryOptions): QueryResult {
  const parsed = parseQuery(text);
  const entity = options.caseSensitiveEntities
    ? (Object.keys(FIELDS) as EntityName[]).find((e) => e === parsed.entityText)
    : entityFromName(parsed.entityText);
  if (!entity) throw faults.queryValidation(`Entity ${parsed.entityText} is not supported by this service`);
  const startPosition = parsed.startPosition ?? 1;
  const maxResults = parsed.maxResults ?? 100;
  if (startPosition < 1) throw faults.queryValidation(`value ${startPosition} is too small. Min allowed value is 1`);
  if (maxResults < 1) throw faults.queryValidation(`value ${maxResults} is too small. Min allowed value is 1`);
  if (maxResults > 1000) throw faults.queryValidation(`value ${maxResults} is too large. Max allowed value is 1000`);

  // Every condition is checked (and compiled) before the ordering, as before the planner existed.
  const compiled: { condition: Condition; def: FieldDef; predicate: Predicate }[] = parsed.where.map((c) => ({
    condition: c,
    def: findField(entity, c.field),
    predicate: buildPredicate(entity, c, company),
  }));
  const predicates: Predicate[] = [];
  const table = company.tables[entity];
  const ordered = parsed.count
    ? { rows: table.byId, keyField: 'Id' as const }
    : orderedRows(company, entity, parsed.orderBy, options.defaultOrder);
  // An Active filter picks the cached active (or inactive) rows of the ordering.
  let activeOnly: boolean | undefined;
  if (NAME_LISTS.has(entity) && !parsed.where.some((c) => c.field.toLowerCase() === 'active')) activeOnly = true;
  for (const c of compiled) {
    if (activeOnly === undefined && (c.predicate === isActive || c.predicate === isInactive)) {
      activeOnly = c.predicate === isActive;
      c.predicate = ALWAYS;
    }
  }
  const base = activeOnly === undefined ? ordered.rows : table.withActive(ordered.rows, activeOnly);
  // Narrow to the slice of the ordering that range conditions on its own key allow (binary search).
  let lo = 0;
  let hi = base.length;
  for (const { condition, def, predicate } of compiled) {
    const range = ordered.keyField === def.name ? rangeOf(def, condition, company, table) : undefined;
    if (range && ordered.keyField) {
      const key = keyReader(ordered.keyField);
      lo = Math.max(lo, boundary(base, key, range.from, !range.fromInclusive));
      hi = Math.min(hi, boundary(base, key, range.to, range.toInclusive));
    } else if (predicate !== ALWAYS) predicates.push(predicate);
  }
  const matches = combine(predicates);
  const rows: Row[] = [];
  if (lo >= hi) {
    if (parsed.count) return { entity, count: true, totalCount: 0, rows: [], startPosition };
    return { entity, count: false, totalCount: options.includeTotalCount ? 0 : undefined, rows, startPosition };
  }

  if (parsed.count) {
    let total = 0;
    if (!matches) total = hi - lo;
    else for (let i = lo; i < hi; i++) if (matches(base[i] as Row)) total++;
    return { entity, count: true, totalCount: total, rows: [], startPosition };
  }

  let total = 0;
  if (!matches) {
    const first = lo + startPosition - 1;
    for (let i = first; i < hi && rows.length < maxResults; i++) rows.push(base[i] as Row);
    total = hi - lo;
  } else {
    let seen = 0;
    for (let i = lo; i < hi; i++) {
      const row = base[i] as Row;
      if (!matches(row)) continue;
      seen++;
      if (seen >= startPosition && rows.length < maxResults) rows.push(row);
      if (rows.length >= maxResults && !options.includeTotalCount) break;
      total++;
    }
  }
  return {
    entity,
    count: false,
    totalCount: options.includeTotalCount ? total : undefined,
    rows,
    startPosition,
  };
}

const isActive: Predicate = (row) => row.active;
const isInactive: Predicate = (row) => !row.active;
const ALWAYS: Predicate = () => true;

function combine(predicates: Predicate[]): Predicate | undefined {
  if (predicates.length === 0) return undefined;
  if (predicates.length === 1) return predicates[0];
  if (predicates.length === 2) {
    const [a, b] = predicates as [Predicate, Predicate];
    return (row) => a(row) && b(row);
  }
  return (row) => {
    for (const p of predicates) if (!p(row)) return false;
    return true;
  };
}

type KeyField = 'Id' | 'MetaData.LastUpdatedTime' | 'MetaData.CreateTime';

function keyReader(field: KeyField): (row: Row) => number {
  if (field === 'Id') return (r) => r.idNum;
  if (field === 'MetaData.CreateTime') return (r) => r.created;
  return (r) => r.updated;
}

/** First index whose key is >= value (or > value when `after`). */
function boundary(rows: readonly Row[], key: (row: Row) => number, value: number, after: boolean): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const k = key(rows[mid] as Row);
    if (k < value || (after && k === value)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The numeric range a condition allows on an ordering key, when it is a plain comparison. */
function rangeOf(
  def: FieldDef,
  condition: Condition,
  company: Company,
  table: Company['tables'][EntityName],
): { from: number; fromInclusive: boolean; to: number; toInclusive: boolean } | undefined {
  if (condition.op === 'IN' || condition.op === 'LIKE') return undefined;
  let value: number;
  if (def.kind === 'time') value = coerce(def, condition.values[0] as Literal, company) as number;
  else if (def.kind === 'id') {
    const text = (condition.values[0] as Literal).text;
    value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || table.nonNumericIds > 0) return undefined;
  } else return undefined;
  switch (condition.op) {
    case '=':
      return { from: value, fromInclusive: true, to: value, toInclusive: true };
    case '<':
      return { from: -Infinity, fromInclusive: true, to: value, toInclusive: false };
    case '<=':
      return { from: -Infinity, fromInclusive: true, to: value, toInclusive: true };
    case '>':
      return { from: value, fromInclusive: false, to: Infinity, toInclusive: true };
    case '>=':
      return { from: value, fromInclusive: true, to: Infinity, toInclusive: true };
  }
}

interface Ordered {
  readonly rows: readonly Row[];
  /** The numeric field the rows ascend by (then by Id), when range conditions on it can narrow them. */
  readonly keyField?: KeyField;
}

const lowerName = (r: Row): string => r.name.toLowerCase();

function orderedRows(
  company: Company,
  entity: EntityName,
  orderBy: ParsedQuery['orderBy'],
  defaultOrder: QueryOptions['defaultOrder'],
): Ordered {
  const table = company.tables[entity];
  let keys = orderBy.map((o) => ({ def: findField(entity, o.field), desc: o.desc }));
  if (keys.length === 0) {
    if (defaultOrder === 'id') return { rows: table.byId, keyField: 'Id' };
    const field = NAME_LISTS.has(entity) ? (entity === 'Customer' ? 'DisplayName' : 'Name') : 'TxnDate';
    keys = [{ def: findField(entity, field), desc: false }];
  }
  if (keys.length === 1 && keys[0]?.def.name === 'Id') {
    return keys[0].desc
      ? { rows: table.sortedBy('Id desc', (rows) => rows.slice().reverse()) }
      : { rows: table.byId, keyField: 'Id' };
  }
  const only = keys.length === 1 ? keys[0] : undefined;
  if (only && !only.desc) {
    // The orderings a sync reads: kept up to date incrementally, never re-sorted per request.
    switch (only.def.name) {
      case 'MetaData.LastUpdatedTime':
        return { rows: table.view('updated', (r) => r.updated, ['updated']).rows, keyField: only.def.name };
      case 'MetaData.CreateTime':
        return { rows: table.view('created', (r) => r.created, ['created']).rows, keyField: only.def.name };
      case 'DisplayName':
      case 'Name':
        return { rows: table.view('name', lowerName, ['name']).rows };
      case 'TxnDate':
        return { rows: table.view('txnDate', (r) => r.txnDate, ['txnDate']).rows };
      default:
        break;
    }
  }
  const cacheKey = keys.map((k) => `${k.def.name} ${k.desc ? 'desc' : 'asc'}`).join(',');
  if (only && (only.def.name === 'MetaData.LastUpdatedTime' || only.def.name === 'MetaData.CreateTime')) {
    const field = only.def.name === 'MetaData.CreateTime' ? 'created' : 'updated';
    const sign = only.desc ? -1 : 1;
    return {
      rows: table.sortedBy(cacheKey, (rows) =>
        rows.slice().sort((a, b) => sign * (a[field] - b[field]) || a.idNum - b.idNum),
      ),
    };
  }
  return {
    rows: table.sortedBy(cacheKey, (rows) => {
      // Decorate-sort-undecorate: each row's sort values are computed once, not per comparison.
      const decorated = rows.map((row) => ({ row, values: keys.map((k) => sortValue(k.def, row, company)) }));
      decorated.sort((a, b) => {
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i] as (typeof keys)[number];
          const va = a.values[i];
          const vb = b.values[i];
          let c: number;
          if (va === undefined || vb === undefined) c = va === vb ? 0 : va === undefined ? -1 : 1;
          else c = compareValues(key.def.kind, va, vb);
          if (c !== 0) return key.desc ? -c : c;
        }
        return a.row.idNum - b.row.idNum;
      });
      return decorated.map((d) => d.row);
    }),
  };
}

/** Builds the sorted views a sync reads most (default order, LastUpdatedTime) ahead of time. */
export function prewarmIndexes(company: Company, options: QueryOptions): void {
  for (const entity of Object.keys(FIELDS) as EntityName[]) {
    orderedRows(company, entity, [], options.defaultOrder);
    orderedRows(company, entity, [{ field: 'MetaData.LastUpdatedTime', desc: false }], options.defaultOrder);
  }
}

function sortValue(def: FieldDef, row: Row, company: Company): Comparable | undefined {
  const v = def.get(row, company);
  return typeof v === 'string' && def.kind === 'string' ? v.toLowerCase() : v;
}
