/**
 * What users do in QuickBooks, scripted: edit, deactivate, delete, merge, bulk edit, and the damage
 * (and repair) of a record. Each is an edit as QBO records it: new SyncToken, LastUpdatedTime and webhook.
 */
import { AdminError } from './admin-error.js';
import { QboFault } from './faults.js';
import type { Prng } from './prng.js';
import {
  type Company,
  DAMAGE_KINDS,
  ENTITIES,
  entityFromName,
  isObject,
  NAME_LISTS,
  TRANSACTIONS,
  type DamageKind,
  type EntityName,
  type Json,
  type Row,
  wholeSecond,
} from './store.js';
import { formatLocal } from './time.js';
import { checkCustomerWrite } from './validation.js';
import { applyCustomerChanges } from './writes.js';

/** A user edits a customer in QBO: fields change, SyncToken and LastUpdatedTime move on. */
export function editCustomer(company: Company, id: string, patch: unknown): Json {
  const realmId = company.realmId;
  const row = company.get('Customer', id);
  if (!row) throw new AdminError(404, `customer ${id} not found in realm ${realmId}`);
  if (!isObject(patch) || Object.keys(patch).length === 0)
    throw new AdminError(
      400,
      'body must be a JSON object of Customer fields to change, e.g. {"PrimaryPhone":{"FreeFormNumber":"(514) 555-0101"}}',
    );
  try {
    const checked = checkCustomerWrite(patch, { mode: 'edit', name: row.name }, (name) =>
      company.isNameTaken(name, row.id),
    );
    applyCustomerChanges(company, row, checked, true);
  } catch (err) {
    // QuickBooks refuses a user's edit by the same rules as the API's; a body the API would call
    // malformed (2010, 2050) is the caller's mistake, a conflict with the data (6240) is 409.
    if (err instanceof QboFault) throw new AdminError(err.errors[0]?.code === '6240' ? 409 : 400, err.message);
    throw err;
  }
  company.touch(row);
  return company.render(row);
}

/** Makes a customer or item (category included) inactive, or active again. */
export function setActive(company: Company, entityName: string, id: string, active: boolean): Json {
  const realmId = company.realmId;
  const entity = entityFromName(entityName);
  if (!entity || !NAME_LISTS.has(entity))
    throw new AdminError(400, `only Customer and Item can be made inactive, not ${entityName}`);
  const row = company.get(entity, id);
  if (!row) throw new AdminError(404, `${entity} ${id} not found in realm ${realmId}`);
  if (row.active !== active) {
    row.active = active;
    company.touch(row);
  }
  return company.render(row);
}

/** Hard-deletes a transaction, as a user deleting it in QBO. */
export function deleteTransaction(company: Company, entityName: string, id: string): void {
  const realmId = company.realmId;
  const entity = entityFromName(entityName);
  if (!entity) throw new AdminError(400, `unknown entity ${entityName}`);
  if (!TRANSACTIONS.has(entity))
    throw new AdminError(400, `${entity} cannot be deleted in QBO; make it inactive instead`);
  if (!company.deleteTransaction(entity, id))
    throw new AdminError(404, `${entity} ${id} not found in realm ${realmId}`);
}

/**
 * Merges customer `fromId` into `intoId` as QBO does: the merged-away customer becomes inactive
 * with balance 0, the survivor takes its balance, every transaction of it moves to the survivor
 * with a new SyncToken and LastUpdatedTime, and a Merge event (deletedId) is sent for the survivor.
 */
export function merge(
  company: Company,
  fromId: string,
  intoId: string,
  at: number,
): { survivor: Json; moved: Record<string, string[]> } {
  const realmId = company.realmId;
  if (fromId === intoId) throw new AdminError(400, 'cannot merge a customer into itself');
  const from = company.get('Customer', fromId);
  const into = company.get('Customer', intoId);
  if (!from) throw new AdminError(404, `customer ${fromId} (from) not found in realm ${realmId}`);
  if (!into) throw new AdminError(404, `customer ${intoId} (into) not found in realm ${realmId}`);
  if (!from.active || !into.active) throw new AdminError(409, 'both customers must be active to merge');
  const hasChildren = company.tables.Customer.byId.some((r) => {
    const parent = r.body?.['ParentRef'];
    return isObject(parent) && parent['value'] === fromId;
  });
  if (hasChildren) throw new AdminError(409, `customer ${fromId} has sub-customers; QBO cannot merge it`);
  const moved: Record<string, string[]> = {};
  for (const entity of TRANSACTIONS) {
    for (const row of company.tables[entity].byId) {
      if (row.customerId !== fromId) continue;
      if (row.body && isObject(row.body['CustomerRef'])) delete row.body['CustomerRef'];
      row.customerId = intoId;
      company.touch(row, 'Update', undefined, at);
      (moved[entity] ??= []).push(row.id);
    }
  }
  moveBalance(company, from, into);
  from.active = false;
  from.syncToken++;
  from.updated = Math.max(wholeSecond(at), from.updated);
  company.changed(from, ['updated']);
  company.touch(into, 'Merge', fromId, at);
  return { survivor: company.render(into), moved };
}

/**
 * The merged-away customer's balance goes to the survivor (Balance and BalanceWithJobs), and the
 * BalanceWithJobs of each parent above one but not the other moves with it; the merged-away one is left at 0.
 */
function moveBalance(company: Company, from: Row, into: Row): void {
  const fromBody = company.body(from);
  const intoBody = company.body(into);
  const amount = numberOr0(fromBody['Balance']);
  const withJobs = numberOr0(fromBody['BalanceWithJobs']);
  intoBody['Balance'] = money(numberOr0(intoBody['Balance']) + amount);
  intoBody['BalanceWithJobs'] = money(numberOr0(intoBody['BalanceWithJobs']) + withJobs);
  fromBody['Balance'] = 0;
  fromBody['BalanceWithJobs'] = 0;
  const fromParents = parents(company, from);
  const intoParents = parents(company, into);
  for (const [parents, sign] of [
    [fromParents.filter((p) => !intoParents.includes(p)), -1],
    [intoParents.filter((p) => !fromParents.includes(p)), 1],
  ] as const) {
    for (const parent of parents) {
      const body = company.body(parent);
      body['BalanceWithJobs'] = money(numberOr0(body['BalanceWithJobs']) + sign * withJobs);
      company.changed(parent);
    }
  }
}

/** A customer's parent, grandparent and so on (QBO allows five levels). */
function parents(company: Company, row: Row): Row[] {
  const out: Row[] = [];
  let current: Row | undefined = row;
  while (current && out.length < 5) {
    const ref: unknown = current.body?.['ParentRef'];
    const parentId = isObject(ref) && typeof ref['value'] === 'string' ? ref['value'] : undefined;
    current = parentId ? company.get('Customer', parentId) : undefined;
    if (current) out.push(current);
  }
  return out;
}

/**
 * Edits N random records (customers and transactions, or one entity) as a bulk import would. All
 * of them get the same LastUpdatedTime, the second the call started (`at` in the reply), however
 * long the edit takes: a burst of N records in one second.
 */
export function bulkEdit(
  company: Company,
  count: unknown,
  entityName: unknown,
  rng: Prng,
  now: number,
): { edited: { entity: EntityName; id: string }[]; at: string } {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 1_000_000)
    throw new AdminError(400, 'count must be an integer between 1 and 1000000');
  let entities: EntityName[];
  if (entityName === undefined) entities = ['Customer', 'Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt'];
  else {
    const entity = typeof entityName === 'string' ? entityFromName(entityName) : undefined;
    if (!entity) throw new AdminError(400, `entity must be one of ${ENTITIES.join(', ')}`);
    entities = [entity];
  }
  const pool = entities.flatMap((e) => company.tables[e].byId);
  if (pool.length === 0) throw new AdminError(409, 'no records to edit');
  const chosen = new Set<Row>();
  const wanted = Math.min(count, pool.length);
  while (chosen.size < wanted) chosen.add(pool[rng.int(0, pool.length - 1)] as Row);
  const edited: { entity: EntityName; id: string }[] = [];
  const at = wholeSecond(now);
  for (const row of chosen) {
    const body = company.body(row);
    if (row.entity === 'Customer') body['Notes'] = `Mis à jour en lot / bulk update ${rng.int(1, 1e6)}`;
    else if (row.entity === 'Item') body['Description'] = `${row.name} (révisé ${rng.int(1, 1e6)})`;
    else body['PrivateNote'] = `Import en lot / bulk import ${rng.int(1, 1e6)}`;
    company.touch(row, 'Update', undefined, at);
    edited.push({ entity: row.entity, id: row.id });
  }
  return { edited, at: formatLocal(at, company.timeZone) };
}

/**
 * Damages a record so that it no longer maps, as if QBO had stored bad data: `missing` removes a
 * required field, `wrongType` gives it the wrong JSON type, `oversized` makes it a string longer
 * than QBO allows, `nulByte` puts a NUL character in it. Like an edit, the SyncToken and LastUpdatedTime move on (and a webhook goes
 * out). The damage shows in every read, query, CDC and state until `adminRepair`.
 * Default fields: Customer `DisplayName` (with `CompanyName` when missing, so no name is left),
 * Item `Name`, transactions `CustomerRef` (`DocNumber` when oversized or nulByte).
 */
export function corrupt(
  company: Company,
  entityName: string,
  id: string,
  kind: unknown,
  options: { field?: unknown; length?: unknown } = {},
): Json {
  const realmId = company.realmId;
  const entity = entityFromName(entityName) ?? entityFromName(entityName.replace(/s$/i, ''));
  if (!entity) throw new AdminError(400, `unknown entity ${entityName}; known: ${ENTITIES.join(', ')}`);
  if (typeof kind !== 'string' || !(DAMAGE_KINDS as readonly string[]).includes(kind))
    throw new AdminError(400, `kind must be one of ${DAMAGE_KINDS.join(', ')}`);
  const damageKind = kind as DamageKind;
  const row = company.get(entity, id);
  if (!row) throw new AdminError(404, `${entity} ${id} not found in realm ${realmId}`);
  let fields: string[];
  if (options.field !== undefined) {
    if (typeof options.field !== 'string' || !/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)?$/.test(options.field))
      throw new AdminError(400, 'field must be a property name, or Parent.child (e.g. "CustomerRef.value")');
    fields = [options.field];
  } else if (entity === 'Customer')
    fields = damageKind === 'missing' ? ['DisplayName', 'CompanyName'] : ['DisplayName'];
  else if (entity === 'Item') fields = ['Name'];
  else fields = damageKind === 'oversized' || damageKind === 'nulByte' ? ['DocNumber'] : ['CustomerRef'];
  let length = 5000;
  if (options.length !== undefined) {
    if (
      typeof options.length !== 'number' ||
      !Number.isInteger(options.length) ||
      options.length < 1 ||
      options.length > 10_000_000
    )
      throw new AdminError(400, 'length must be an integer between 1 and 10000000');
    length = options.length;
  }
  row.damage = { kind: damageKind, fields, length };
  company.touch(row);
  return company.render(row);
}

/** Removes the damage `adminCorrupt` made; SyncToken and LastUpdatedTime move on like an edit. */
export function repair(company: Company, entityName: string, id: string): Json {
  const realmId = company.realmId;
  const entity = entityFromName(entityName) ?? entityFromName(entityName.replace(/s$/i, ''));
  if (!entity) throw new AdminError(400, `unknown entity ${entityName}; known: ${ENTITIES.join(', ')}`);
  const row = company.get(entity, id);
  if (!row) throw new AdminError(404, `${entity} ${id} not found in realm ${realmId}`);
  if (!row.damage) throw new AdminError(409, `${entity} ${id} is not damaged`);
  row.damage = undefined;
  company.touch(row);
  return company.render(row);
}

/** The company's full state: every record (inactive ones included) and every deleted stub. */
export function state(company: Company, entityFilter: string | null | undefined, time: string): Json {
  const realmId = company.realmId;
  let entities: readonly EntityName[] = ENTITIES;
  if (entityFilter) {
    const list = entityFilter.split(',').map((e) => entityFromName(e.trim()));
    if (list.some((e) => e === undefined)) throw new AdminError(400, `entities must be among ${ENTITIES.join(', ')}`);
    entities = list as EntityName[];
  }
  const state: Json = {};
  for (const entity of entities) state[entity] = company.tables[entity].byId.map((r) => company.render(r));
  return {
    realmId,
    name: company.name,
    timeZone: company.timeZone,
    entities: state,
    deleted: company.deleted.map((d) => ({ entity: d.entity, id: d.id, at: formatLocal(d.at, company.timeZone) })),
    time,
  };
}

function numberOr0(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** An amount rounded to the cent, as QBO keeps money. */
function money(value: number): number {
  return Math.round(value * 100) / 100;
}
