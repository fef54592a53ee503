/**
 * The QBO writes: Customer create and update (sparse or full) once `validation.ts` has checked
 * them, and the `requestid` replay that makes a retried write safe.
 */
import { faults, QboFault } from './faults.js';
import { type Company, isObject, type Json, type Row, wholeSecond } from './store.js';
import { checkCustomerWrite, checkDepth, type CheckedCustomer } from './validation.js';

/** `requestid` → reply, per realm: a write sent again with the same requestid gets the first reply. */
export class IdempotentReplies {
  private readonly replies = new Map<string, Map<string, { status: number; body: Json }>>();

  /** Remembers or replays the reply to a write carrying `requestid`. */
  run(
    realmId: string,
    requestId: string | null,
    run: () => { status: number; body: Json },
    time: () => string,
  ): { status: number; body: Json } {
    if (!requestId) return run();
    let seen = this.replies.get(realmId);
    if (!seen) {
      seen = new Map();
      this.replies.set(realmId, seen);
    }
    const previous = seen.get(requestId);
    if (previous) return previous;
    try {
      const reply = run();
      seen.set(requestId, reply);
      return reply;
    } catch (err) {
      if (err instanceof QboFault) seen.set(requestId, { status: err.status, body: err.toJson(time()) });
      throw err;
    }
  }
}

/** POST /customer: create without Id, update (sparse or full) with Id and SyncToken. */
export function writeCustomer(
  company: Company,
  input: unknown,
  operation: string | null,
  now: number,
  time: string,
): Json {
  if (operation && operation !== 'update' && operation !== 'create')
    throw faults.unsupportedOperation(
      `Operation ${operation} is not supported for Customer: customers cannot be deleted, make them inactive with Active false`,
    );
  if (!isObject(input)) throw faults.badRequest('Request body must be a JSON object');
  checkDepth(input);
  const wrapped = isObject(input['Customer']) ? input['Customer'] : input;
  if (wrapped['Id'] === undefined || wrapped['Id'] === null || wrapped['Id'] === '')
    return createCustomer(company, wrapped, now, time);
  return updateCustomer(company, wrapped, time);
}

function createCustomer(company: Company, input: Json, at: number, time: string): Json {
  const checked = checkCustomerWrite(input, { mode: 'create' }, (name) => company.isNameTaken(name));
  const fields = checked.fields;
  const display = checked.display as string;
  const parent = fields['ParentRef'];
  if (parent !== undefined) checkParent(company, parent);
  const now = wholeSecond(at);
  const id = company.allocateId('Customer');
  const body: Json = {
    Taxable: false,
    Job: parent !== undefined,
    BillWithParent: false,
    Balance: 0,
    BalanceWithJobs: 0,
    CurrencyRef: { value: 'CAD', name: 'Canadian Dollar' },
    PreferredDeliveryMethod: 'Print',
    IsProject: false,
    ClientEntityId: '0',
    ...fields,
  };
  if (parent !== undefined) body['Level'] = 1;
  if (typeof body['PrintOnCheckName'] !== 'string') body['PrintOnCheckName'] = display;
  const row: Row = {
    entity: 'Customer',
    id,
    idNum: Number(id),
    syncToken: 0,
    created: now,
    updated: now,
    active: checked.active !== false,
    name: display,
    body: stripEmpty(body),
  };
  company.insert(row);
  company.emit({ entity: 'Customer', id, operation: 'Create', at: now });
  return { Customer: company.render(row), time };
}

function updateCustomer(company: Company, input: Json, time: string): Json {
  const id = String(input['Id']);
  const row = company.get('Customer', id);
  if (!row) throw faults.notFound('Customer', id);
  const sparse = input['sparse'] === true || input['sparse'] === 'true';
  const checked = checkCustomerWrite(
    input,
    { mode: 'update', syncToken: row.syncToken, name: row.name, sparse },
    (name) => company.isNameTaken(name, row.id),
  );
  applyCustomerChanges(company, row, checked, sparse);
  company.touch(row);
  return { Customer: company.render(row), time };
}

/**
 * Stores a checked write. Sparse: given top-level fields replace the stored ones; nested objects
 * are replaced wholesale (UNCONFIRMED, Intuit's most plausible reading); null or "" clears.
 * Full: omitted fields are cleared.
 */
export function applyCustomerChanges(company: Company, row: Row, checked: CheckedCustomer, sparse: boolean): void {
  const body = company.body(row);
  const { fields, display } = checked;
  if (fields['ParentRef'] !== undefined && fields['ParentRef'] !== null)
    checkParent(company, fields['ParentRef'], row.id);
  if (sparse) {
    for (const [key, value] of Object.entries(fields)) {
      if (value === null || value === '') delete body[key];
      else body[key] = value;
    }
  } else {
    const kept: Json = {};
    for (const key of [
      'Balance',
      'BalanceWithJobs',
      'CurrencyRef',
      'V4IDPseudonym',
      'ClientEntityId',
      'IsProject',
      'MetaData',
      'Level',
    ]) {
      if (body[key] !== undefined) kept[key] = body[key];
    }
    row.body = stripEmpty({ ...kept, ...fields });
  }
  if (display !== undefined && display !== row.name) company.setCustomerName(row, display);
  if (checked.active !== undefined) row.active = checked.active;
}

function checkParent(company: Company, parent: unknown, selfId?: string): void {
  const value = isObject(parent) ? parent['value'] : undefined;
  if (typeof value !== 'string' || value === selfId || !company.get('Customer', value))
    throw faults.invalid(`ParentRef ${JSON.stringify(value)} does not reference an existing customer`, 'ParentRef');
}

/** Drops empty strings, nulls and empty objects: QBO returns only properties that have values. */
function stripEmpty(body: Json): Json {
  for (const [key, value] of Object.entries(body)) {
    if (value === null || value === undefined || value === '' || (isObject(value) && Object.keys(value).length === 0))
      delete body[key];
  }
  return body;
}
