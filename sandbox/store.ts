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

/** The rows of one entity, with an Id-ordered array and cached sorted views. */
export class Table {
  readonly rows = new Map<string, Row>();
  /** Rows in ascending numeric Id order. */
  readonly byId: Row[] = [];
  version = 0;
  private readonly sorted = new Map<string, { version: number; rows: Row[] }>();

  insert(row: Row): void {
    if (this.rows.has(row.id)) throw new Error(`${row.entity} ${row.id} already exists`);
    this.rows.set(row.id, row);
    const last = this.byId[this.byId.length - 1];
    if (!last || compareIds(last, row) < 0) this.byId.push(row);
    else this.byId.splice(lowerBound(this.byId, row), 0, row);
    this.version++;
  }

  remove(id: string): Row | undefined {
    const row = this.rows.get(id);
    if (!row) return undefined;
    this.rows.delete(id);
    const at = lowerBound(this.byId, row);
    if (this.byId[at] === row) this.byId.splice(at, 1);
    this.version++;
    return row;
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

  constructor(options: CompanyOptions) {
    this.realmId = options.realmId;
    this.name = options.name;
    this.timeZone = options.timeZone;
    this.seed = options.seed;
    this.now = options.now;
    this.materializer = options.materialize;
    this.onChange = options.onChange;
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
    return out;
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

  /** Marks a row changed now: new SyncToken, new LastUpdatedTime, indexes invalidated, event sent. */
  touch(row: Row, operation: ChangeEvent['operation'] = 'Update', deletedId?: string): void {
    row.syncToken++;
    row.updated = Math.max(this.now(), row.updated);
    this.tables[row.entity].version++;
    this.emit({ entity: row.entity, id: row.id, operation, at: row.updated, ...(deletedId ? { deletedId } : {}) });
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
  }

  /** Hard-deletes a transaction; CDC then reports it as a `status: "Deleted"` stub. */
  deleteTransaction(entity: EntityName, id: string): boolean {
    const row = this.tables[entity].remove(id);
    if (!row) return false;
    const at = Math.max(this.now(), row.updated);
    this.deleted.push({ entity, id, at });
    this.emit({ entity, id, operation: 'Delete', at });
    return true;
  }
}

export function nameKey(name: string): string {
  return name.trim().toLowerCase();
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
