/**
 * One simulated QBO company held in memory: rows per entity with the fields the query language
 * filters and sorts on kept as plain properties, the rest of each record as a JSON body (built
 * lazily for generated transactions, so a 400 000-transaction company starts in seconds), sorted
 * indexes cached per ordering, and the log of hard-deleted transactions that CDC reports.
 */
import { formatLocal } from './time.js';

export const ENTITIES = ['Customer', 'Item', 'Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt'] as const;
export type EntityName = (typeof ENTITIES)[number];
export const NAME_LISTS: ReadonlySet<EntityName> = new Set(['Customer', 'Item']);
export const TRANSACTIONS: ReadonlySet<EntityName> = new Set(['Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt']);

export type Json = Record<string, unknown>;

/** Matches an entity name from a path segment or query (`invoice`, `Invoice`). */
export function entityFromName(name: string): EntityName | undefined {
  const lower = name.toLowerCase();
  return ENTITIES.find((e) => e.toLowerCase() === lower);
}

export interface LinkedTxn {
  readonly TxnId: string;
  readonly TxnType: string;
}

/** A record. Indexed fields live on the row; `body` holds everything else (null: generate on read). */
export interface Row {
  readonly entity: EntityName;
  readonly id: string;
  readonly idNum: number;
  syncToken: number;
  readonly created: number;
  updated: number;
  active: boolean;
  /** DisplayName (Customer) or Name (Item); empty for transactions. */
  name: string;
  /** Item Type. */
  itemType?: string;
  docNumber?: string;
  txnDate?: string;
  customerId?: string;
  body: Json | null;
  /** For generated transactions: the seed their body is built from, and their links. */
  gen?: { seed: number; status?: string; links?: LinkedTxn[] };
  /** Damage applied on top of the rendered record (admin `corrupt`), until repaired. */
  damage?: Damage | undefined;
  /** The record's rendered JSON text, with what it was rendered from (see Company.renderBytes). */
  rendered?: RenderedText | undefined;
}

export const DAMAGE_KINDS = ['missing', 'wrongType', 'oversized', 'nulByte'] as const;
export type DamageKind = (typeof DAMAGE_KINDS)[number];

/** A field of the rendered record made unmappable: removed, of the wrong JSON type, too long, or with a NUL. */
export interface Damage {
  readonly kind: DamageKind;
  /** Top-level field, or `Parent.child` for one level down (e.g. `CustomerRef.value`). */
  readonly fields: readonly string[];
  /** Length of the oversized string. */
  readonly length: number;
}

export interface RenderedText {
  /** The record's JSON, UTF-8. */
  readonly bytes: Buffer;
  readonly syncToken: number;
  readonly updated: number;
  readonly active: boolean;
  readonly name: string;
  readonly customerId: string | undefined;
  /** The customer name a transaction's CustomerRef carried, or the company's reference epoch. */
  readonly dependency: string | number | undefined;
  readonly damage: Damage | undefined;
}

/** A hard-deleted transaction, kept so CDC can report it. */
export interface DeletedStub {
  readonly entity: EntityName;
  readonly id: string;
  readonly at: number;
}

/** Something that happened to a record; webhooks are made from these. */
export interface ChangeEvent {
  readonly realmId: string;
  readonly entity: EntityName;
  readonly id: string;
  readonly operation: 'Create' | 'Update' | 'Delete' | 'Merge';
  readonly at: number;
  readonly deletedId?: string;
}

export type Materializer = (company: Company, row: Row) => Json;

/** A row field a sorted view depends on; a change to it re-places the row in the view. */
export type ViewField = 'updated' | 'created' | 'name' | 'txnDate';
export type SortKey = number | string | undefined;

/**
 * A view of a table's rows in ascending order of one key (undefined first), then numeric Id. It is
 * kept up to date incrementally: a write marks its row dirty, and the next read takes the dirty rows
 * out, sorts just them and merges them back in (O(n + k log k)), so an edit never costs a full sort.
 */
interface View {
  readonly key: (row: Row) => SortKey;
  readonly fields: readonly ViewField[];
  rows: Row[];
  keys: SortKey[];
  dirty: Set<Row> | 'all' | undefined;
}

function compareKeyed(ka: SortKey, a: Row, kb: SortKey, b: Row): number {
  if (ka !== kb) {
    if (ka === undefined) return -1;
    if (kb === undefined) return 1;
    if (typeof ka === 'number' && typeof kb === 'number') return ka - kb;
    const sa = String(ka);
    const sb = String(kb);
    if (sa !== sb) return sa < sb ? -1 : 1;
  }
  return compareIds(a, b);
}

/**
 * Sorts rows given in ascending Id order by key. The sort is stable, so equal keys stay in Id
 * order and the comparator only looks at keys: numbers by value, text by code unit, undefined first.
 */
function sortKeyed(rows: readonly Row[], key: (row: Row) => SortKey): { rows: Row[]; keys: SortKey[] } {
  const order = rows.map((row) => ({ row, key: key(row) }));
  if (order.every((o) => typeof o.key === 'number')) {
    (order as { row: Row; key: number }[]).sort((a, b) => a.key - b.key);
  } else {
    order.sort((a, b) => {
      const ka = a.key;
      const kb = b.key;
      if (ka === kb) return 0;
      if (ka === undefined) return -1;
      if (kb === undefined) return 1;
      return String(ka) < String(kb) ? -1 : 1;
    });
  }
  return { rows: order.map((o) => o.row), keys: order.map((o) => o.key) };
}

/** The rows of one entity, with an Id-ordered array, incrementally kept views and cached sorted views. */
export class Table {
  readonly rows = new Map<string, Row>();
  /** Rows in ascending numeric Id order. */
  readonly byId: Row[] = [];
  /** Bumped on every change to any row; the generic sorted views are rebuilt when it moves. */
  version = 0;
  /** Rows whose Id is not a number (loaded data only); Id ranges are then filtered, not searched. */
  nonNumericIds = 0;
  private readonly sorted = new Map<string, { version: number; rows: Row[] }>();
  private readonly views = new Map<string, View>();
  private readonly filtered = new WeakMap<
    readonly Row[],
    { version: number; active?: readonly Row[]; inactive?: readonly Row[] }
  >();

  insert(row: Row): void {
    if (this.rows.has(row.id)) throw new Error(`${row.entity} ${row.id} already exists`);
    this.rows.set(row.id, row);
    if (!Number.isFinite(row.idNum)) this.nonNumericIds++;
    const last = this.byId[this.byId.length - 1];
    if (!last || compareIds(last, row) < 0) this.byId.push(row);
    else this.byId.splice(lowerBound(this.byId, row), 0, row);
    this.markAll(row);
  }

  remove(id: string): Row | undefined {
    const row = this.rows.get(id);
    if (!row) return undefined;
    this.rows.delete(id);
    if (!Number.isFinite(row.idNum)) this.nonNumericIds--;
    const at = lowerBound(this.byId, row);
    if (this.byId[at] === row) this.byId.splice(at, 1);
    this.markAll(row);
    return row;
  }

  /** Records that some of a row's fields changed (after the change is made). */
  changed(row: Row, fields: readonly ViewField[] = []): void {
    this.version++;
    for (const view of this.views.values()) {
      if (fields.some((f) => view.fields.includes(f))) this.markDirty(view, row);
    }
  }

  private markAll(row: Row): void {
    this.version++;
    for (const view of this.views.values()) this.markDirty(view, row);
  }

  private markDirty(view: View, row: Row): void {
    if (view.dirty === 'all') return;
    view.dirty ??= new Set();
    view.dirty.add(row);
    // Past a point one full sort is cheaper than taking many rows out and merging them back.
    if (view.dirty.size > 64 && view.dirty.size * 8 > view.rows.length) view.dirty = 'all';
  }

  /**
   * The rows in ascending order of `key` (then numeric Id), with the key of each. `fields` names
   * the row fields the key reads, so writes to other fields leave the view alone.
   */
  view(name: string, key: (row: Row) => SortKey, fields: readonly ViewField[]): { rows: Row[]; keys: SortKey[] } {
    let view = this.views.get(name);
    if (!view) {
      view = { key, fields, ...sortKeyed(this.byId, key), dirty: undefined };
      this.views.set(name, view);
      return view;
    }
    if (view.dirty === 'all') Object.assign(view, sortKeyed(this.byId, view.key), { dirty: undefined });
    else if (view.dirty) {
      const dirty = view.dirty;
      view.dirty = undefined;
      const add = sortKeyed([...dirty].filter((r) => this.rows.get(r.id) === r).sort(compareIds), view.key);
      const rows: Row[] = [];
      const keys: SortKey[] = [];
      let j = 0;
      for (let i = 0; i < view.rows.length; i++) {
        const row = view.rows[i] as Row;
        if (dirty.has(row)) continue;
        const k = view.keys[i];
        while (j < add.rows.length && compareKeyed(add.keys[j], add.rows[j] as Row, k, row) < 0) {
          rows.push(add.rows[j] as Row);
          keys.push(add.keys[j]);
          j++;
        }
        rows.push(row);
        keys.push(k);
      }
      for (; j < add.rows.length; j++) {
        rows.push(add.rows[j] as Row);
        keys.push(add.keys[j]);
      }
      view.rows = rows;
      view.keys = keys;
    }
    return view;
  }

  /**
   * The rows of an ordering (`byId`, a view or a sorted view) that are active (or inactive), in
   * the same order; cached until the table changes, so paging deep into name lists skips no rows one
   * by one.
   */
  withActive(rows: readonly Row[], active: boolean): readonly Row[] {
    let perActive = this.filtered.get(rows);
    if (!perActive || perActive.version !== this.version) {
      perActive = { version: this.version };
      this.filtered.set(rows, perActive);
    }
    const key = active ? 'active' : 'inactive';
    let out = perActive[key];
    if (!out) {
      out = rows.filter((r) => r.active === active);
      perActive[key] = out;
    }
    return out;
  }

  /** A sorted view of the rows (built by `sort` from the Id-ordered rows), cached until the table changes. */
  sortedBy(key: string, sort: (rows: readonly Row[]) => Row[]): Row[] {
    const hit = this.sorted.get(key);
    if (hit && hit.version === this.version) return hit.rows;
    const rows = sort(this.byId);
    this.sorted.set(key, { version: this.version, rows });
    return rows;
  }
}

function compareIds(a: Row, b: Row): number {
  return a.idNum - b.idNum || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function lowerBound(rows: Row[], row: Row): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIds(rows[mid] as Row, row) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface CompanyOptions {
  readonly realmId: string;
  readonly name: string;
  readonly timeZone: string;
  readonly seed: number;
  readonly now: () => number;
  readonly materialize: Materializer;
  readonly onChange: (event: ChangeEvent) => void;
  /** Budget for cached rendered records, in bytes (0: no cache). Default 256 MB. */
  readonly renderCacheBytes?: number;
}

/** One company (realm). All mutations go through its methods so indexes and events stay right. */
export class Company {
  readonly realmId: string;
  readonly name: string;
  readonly timeZone: string;
  readonly seed: number;
  readonly tables: Record<EntityName, Table>;
  readonly deleted: DeletedStub[] = [];
  /** Lower-cased DisplayName → customer Id, for the uniqueness rule (fault 6240). */
  readonly displayNames = new Map<string, string>();
  /** `requestid` → the response body of the create it made (idempotent retries). */
  readonly requestIds = new Map<string, Json>();
  private readonly nextIds = { Customer: 1, Item: 1, txn: 1 };
  readonly now: () => number;
  private readonly materializer: Materializer;
  private readonly onChange: (event: ChangeEvent) => void;
  /** Bumped when a name that other records' FullyQualifiedName is made from changes. */
  private referenceEpoch = 0;
  private readonly renderCacheBytes: number;
  /** Rendered texts in the order they were made, oldest evicted first past the budget. */
  private renderQueue: { row: Row; rendered: RenderedText }[] = [];
  private renderQueueHead = 0;
  private renderCacheUsed = 0;

  constructor(options: CompanyOptions) {
    this.realmId = options.realmId;
    this.name = options.name;
    this.timeZone = options.timeZone;
    this.seed = options.seed;
    this.now = options.now;
    this.materializer = options.materialize;
    this.onChange = options.onChange;
    this.renderCacheBytes = options.renderCacheBytes ?? 256 * 1024 * 1024;
    this.tables = {
      Customer: new Table(),
      Item: new Table(),
      Estimate: new Table(),
      Invoice: new Table(),
      CreditMemo: new Table(),
      SalesReceipt: new Table(),
    };
  }

  /** The next free Id: one sequence per name list, one shared by all transactions. */
  allocateId(entity: EntityName): string {
    const key = entity === 'Customer' || entity === 'Item' ? entity : 'txn';
    const id = this.nextIds[key]++;
    return String(id);
  }

  /** Adds a row (generator, loader, create); keeps the Id sequences above every Id seen. */
  insert(row: Row): void {
    this.tables[row.entity].insert(row);
    const key = row.entity === 'Customer' || row.entity === 'Item' ? row.entity : 'txn';
    if (Number.isFinite(row.idNum) && row.idNum >= this.nextIds[key]) this.nextIds[key] = row.idNum + 1;
    if (row.entity === 'Customer') this.displayNames.set(nameKey(row.name), row.id);
  }

  get(entity: EntityName, id: string): Row | undefined {
    return this.tables[entity].rows.get(id);
  }

  /** The stored body of a row, building it first for generated transactions. */
  body(row: Row): Json {
    if (!row.body) row.body = this.materializer(this, row);
    return row.body;
  }

  /** The full QBO JSON of a record, as a read, query or CDC returns it. */
  render(row: Row): Json {
    const body = row.body ?? this.materializer(this, row);
    const out: Json = { ...body };
    const meta = isObject(body['MetaData']) ? body['MetaData'] : {};
    out['domain'] = 'QBO';
    out['sparse'] = false;
    out['Id'] = row.id;
    out['SyncToken'] = String(row.syncToken);
    out['MetaData'] = {
      ...meta,
      CreateTime: formatLocal(row.created, this.timeZone),
      LastUpdatedTime: formatLocal(row.updated, this.timeZone),
    };
    if (row.entity === 'Customer') {
      out['DisplayName'] = row.name;
      if (typeof body['FullyQualifiedName'] !== 'string') out['FullyQualifiedName'] = this.qualifiedName(row);
      out['Active'] = row.active;
    } else if (row.entity === 'Item') {
      out['Name'] = row.name;
      if (typeof body['FullyQualifiedName'] !== 'string') out['FullyQualifiedName'] = this.qualifiedName(row);
      out['Active'] = row.active;
      if (row.itemType !== undefined) out['Type'] = row.itemType;
    } else {
      if (row.docNumber !== undefined) out['DocNumber'] = row.docNumber;
      if (row.txnDate !== undefined) out['TxnDate'] = row.txnDate;
      if (row.customerId !== undefined) {
        // A recorded CustomerRef (loaded data) is kept verbatim until the reference moves (merge).
        const recorded = isObject(body['CustomerRef']) ? body['CustomerRef'] : undefined;
        const customer = this.tables.Customer.rows.get(row.customerId);
        if (recorded && recorded['value'] === row.customerId) out['CustomerRef'] = { ...recorded };
        else out['CustomerRef'] = customer ? { value: row.customerId, name: customer.name } : { value: row.customerId };
      }
    }
    if (row.damage) applyDamage(out, row.damage);
    return out;
  }

  /** `JSON.stringify(render(row))`. */
  renderText(row: Row): string {
    return this.renderBytes(row).toString('utf8');
  }

  /**
   * `JSON.stringify(render(row))` as UTF-8 bytes, cached on the row. The cache is checked against everything the
   * text is made from (SyncToken, LastUpdatedTime, Active, name, CustomerRef and its customer's
   * name, parent names, damage); every write also drops it. Oldest texts are evicted past the budget.
   */
  renderBytes(row: Row): Buffer {
    const cached = row.rendered;
    const dependency = this.dependencyOf(row);
    if (
      cached &&
      cached.syncToken === row.syncToken &&
      cached.updated === row.updated &&
      cached.active === row.active &&
      cached.name === row.name &&
      cached.customerId === row.customerId &&
      cached.dependency === dependency &&
      cached.damage === row.damage
    )
      return cached.bytes;
    const bytes = Buffer.from(JSON.stringify(this.render(row)), 'utf8');
    if (this.renderCacheBytes <= 0) return bytes;
    const rendered: RenderedText = {
      bytes,
      syncToken: row.syncToken,
      updated: row.updated,
      active: row.active,
      name: row.name,
      customerId: row.customerId,
      dependency,
      damage: row.damage,
    };
    row.rendered = rendered;
    this.renderQueue.push({ row, rendered });
    this.renderCacheUsed += bytes.length;
    while (this.renderCacheUsed > this.renderCacheBytes && this.renderQueueHead < this.renderQueue.length) {
      const old = this.renderQueue[this.renderQueueHead] as { row: Row; rendered: RenderedText };
      this.renderQueue[this.renderQueueHead++] = undefined as never;
      this.renderCacheUsed -= old.rendered.bytes.length;
      if (old.row.rendered === old.rendered) old.row.rendered = undefined;
    }
    if (this.renderQueueHead > 100_000 && this.renderQueueHead * 2 > this.renderQueue.length) {
      this.renderQueue = this.renderQueue.slice(this.renderQueueHead);
      this.renderQueueHead = 0;
    }
    return bytes;
  }

  /** The cache budget in bytes. */
  get renderCacheLimit(): number {
    return this.renderCacheBytes;
  }

  /** Bytes held by cached rendered records. */
  get renderCacheSize(): number {
    return this.renderCacheUsed;
  }

  private dependencyOf(row: Row): string | number | undefined {
    if (row.customerId !== undefined) return this.tables.Customer.rows.get(row.customerId)?.name;
    return row.body && row.body['ParentRef'] !== undefined ? this.referenceEpoch : undefined;
  }

  /** `Parent:Child` names, up to five levels, for customers and items with a ParentRef. */
  qualifiedName(row: Row): string {
    const recorded = row.body?.['FullyQualifiedName'];
    if (typeof recorded === 'string') return recorded;
    let name = row.name;
    let current = row;
    for (let depth = 0; depth < 5; depth++) {
      const parent = current.body?.['ParentRef'];
      const parentId = isObject(parent) && typeof parent['value'] === 'string' ? parent['value'] : undefined;
      const parentRow = parentId ? this.tables[row.entity].rows.get(parentId) : undefined;
      if (!parentRow) break;
      name = `${parentRow.name}:${name}`;
      current = parentRow;
    }
    return name;
  }

  /**
   * Marks a row changed: new SyncToken, LastUpdatedTime = `at` (default now; whole seconds, as QBO
   * keeps them, and never earlier than before), indexes and cached text invalidated, event sent.
   */
  touch(row: Row, operation: ChangeEvent['operation'] = 'Update', deletedId?: string, at?: number): void {
    row.syncToken++;
    row.updated = Math.max(wholeSecond(at ?? this.now()), row.updated);
    row.rendered = undefined;
    this.tables[row.entity].changed(row, ['updated']);
    this.emit({ entity: row.entity, id: row.id, operation, at: row.updated, ...(deletedId ? { deletedId } : {}) });
  }

  /** Records a change to a row made without an event (Active, name, CustomerRef); drops its cached text. */
  changed(row: Row, fields: readonly ViewField[] = []): void {
    row.rendered = undefined;
    this.tables[row.entity].changed(row, fields);
  }

  emit(event: Omit<ChangeEvent, 'realmId'>): void {
    this.onChange({ realmId: this.realmId, ...event });
  }

  /** Renames a customer, keeping the DisplayName index right; throws 6240-style errors to callers. */
  isNameTaken(name: string, exceptId?: string): boolean {
    const holder = this.displayNames.get(nameKey(name));
    return holder !== undefined && holder !== exceptId;
  }

  setCustomerName(row: Row, name: string): void {
    if (row.body) delete row.body['FullyQualifiedName'];
    if (this.displayNames.get(nameKey(row.name)) === row.id) this.displayNames.delete(nameKey(row.name));
    row.name = name;
    this.displayNames.set(nameKey(name), row.id);
    this.referenceEpoch++;
    this.changed(row, ['name']);
  }

  /** Hard-deletes a transaction; CDC then reports it as a `status: "Deleted"` stub. */
  deleteTransaction(entity: EntityName, id: string): boolean {
    const row = this.tables[entity].remove(id);
    if (!row) return false;
    const at = Math.max(wholeSecond(this.now()), row.updated);
    this.deleted.push({ entity, id, at });
    this.emit({ entity, id, operation: 'Delete', at });
    return true;
  }
}

/** An instant cut to the whole second (QBO times have no milliseconds). */
export function wholeSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

const WRONG_TYPE_STRING = 'not-a-valid-value';

function applyDamage(out: Json, damage: Damage): void {
  for (const path of damage.fields) {
    const [head, child] = path.split('.', 2) as [string, string | undefined];
    let target: Json = out;
    let key = head;
    if (child !== undefined) {
      const parent = out[head];
      if (!isObject(parent)) continue;
      target = { ...parent };
      out[head] = target;
      key = child;
    }
    const value = target[key];
    if (damage.kind === 'missing') delete target[key];
    else if (damage.kind === 'oversized')
      target[key] = 'X'.repeat(Math.max(0, damage.length - 12)) + ' (oversized)'.slice(0, damage.length);
    // A NUL character after the first of a string (QBO's JSON escapes it as \u0000): PostgreSQL cannot store it.
    else if (damage.kind === 'nulByte')
      target[key] = typeof value === 'string' ? `${value.slice(0, 1)}\u0000${value.slice(1)}` : '\u0000';
    // A string becomes a number; anything else (number, boolean, object, array) becomes a string.
    else target[key] = typeof value === 'string' ? 12345 : WRONG_TYPE_STRING;
  }
}

export function nameKey(name: string): string {
  return name.trim().toLowerCase();
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
