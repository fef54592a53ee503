/**
 * What a write must satisfy before anything is stored, in one place: the shape bounds that keep
 * one request from breaking the simulator (body size, nesting depth), and Intuit's Customer field
 * rules. Every refusal is a QboFault with HTTP 400, so nothing half-checked reaches the store.
 */
import { faults, QboFault, type FaultError } from './faults.js';

/**
 * Largest request body read. Intuit publishes no figure for single-entity writes (UNCONFIRMED);
 * 5 MB is far above any Customer (its longest fields total a few kB) and keeps memory bounded.
 */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;

/**
 * Deepest JSON nesting accepted in a write. No QBO entity nests deeper than about six levels
 * (Invoice → Line[] → SalesItemLineDetail → ItemRef → value), so 32 refuses nothing valid, and
 * stops bodies so deep that rendering them again would exhaust the stack.
 */
export const MAX_JSON_DEPTH = 32;

/** Throws a 400 fault when `value` nests objects or arrays deeper than `limit` (checked without recursion). */
export function checkDepth(value: unknown, limit = MAX_JSON_DEPTH): void {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (pending.length > 0) {
    const { value: current, depth } = pending.pop() as { value: unknown; depth: number };
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > limit) throw faults.badRequest(`Request body nests objects or arrays deeper than ${limit} levels`);
    for (const child of Object.values(current)) pending.push({ value: child, depth: depth + 1 });
  }
}

type FieldRule =
  | { readonly kind: 'string'; readonly max?: number; readonly name?: boolean }
  | { readonly kind: 'number' }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, FieldRule>> }
  /** Taken as given (read-only fields the simulator drops later, or Id, which may be a number). */
  | { readonly kind: 'any' };

const text = (max?: number): FieldRule => ({ kind: 'string', ...(max !== undefined ? { max } : {}) });
const personName = (max: number): FieldRule => ({ kind: 'string', max, name: true });
const flag: FieldRule = { kind: 'boolean' };
const ref: FieldRule = { kind: 'object', fields: { value: text(), name: text(), type: text() } };
const phone: FieldRule = { kind: 'object', fields: { FreeFormNumber: text(30) } };
const address: FieldRule = {
  kind: 'object',
  fields: {
    Id: { kind: 'any' },
    Line1: text(500),
    Line2: text(500),
    Line3: text(500),
    Line4: text(500),
    Line5: text(500),
    City: text(255),
    Country: text(255),
    CountrySubDivisionCode: text(255),
    PostalCode: text(30),
    Lat: text(),
    Long: text(),
  },
};

/**
 * The Customer fields Intuit knows, with their types and maximum lengths (shared/reference/qbo-api.md
 * § Customer, from Intuit's Customer reference). A field not listed is ignored, as QBO ignores it.
 */
const CUSTOMER_FIELDS: Readonly<Record<string, FieldRule>> = {
  Id: { kind: 'any' },
  SyncToken: text(),
  sparse: flag,
  domain: { kind: 'any' },
  MetaData: { kind: 'any' },
  FullyQualifiedName: { kind: 'any' },
  BalanceWithJobs: { kind: 'any' },
  V4IDPseudonym: { kind: 'any' },
  Level: { kind: 'any' },
  DisplayName: personName(500),
  Title: personName(16),
  GivenName: personName(100),
  MiddleName: personName(100),
  FamilyName: personName(100),
  Suffix: personName(16),
  CompanyName: personName(100),
  PrintOnCheckName: text(110),
  Notes: text(2000),
  PrimaryEmailAddr: { kind: 'object', fields: { Address: text(100) } },
  PrimaryPhone: phone,
  AlternatePhone: phone,
  Mobile: phone,
  Fax: phone,
  WebAddr: { kind: 'object', fields: { URI: text(1000) } },
  BillAddr: address,
  ShipAddr: address,
  Active: flag,
  Job: flag,
  BillWithParent: flag,
  Taxable: flag,
  IsProject: flag,
  Balance: { kind: 'number' },
  OpenBalanceDate: text(),
  ParentRef: ref,
  CurrencyRef: ref,
  DefaultTaxCodeRef: ref,
  PaymentMethodRef: ref,
  SalesTermRef: ref,
  CustomerTypeRef: ref,
  ARAccountRef: ref,
  PreferredDeliveryMethod: text(),
  ResaleNum: text(16),
  PrimaryTaxIdentifier: text(),
  SecondaryTaxIdentifier: text(),
  BusinessNumber: text(),
  GSTIN: text(),
  GSTRegistrationType: text(),
  TaxExemptionReasonId: { kind: 'any' },
  ClientEntityId: { kind: 'any' },
};

/** The name parts QBO builds a DisplayName from when none is given. */
const NAME_PARTS = ['Title', 'GivenName', 'MiddleName', 'FamilyName', 'Suffix'] as const;

/** Fields the API sends back but never takes from a write. */
const READ_ONLY_FIELDS = [
  'Id',
  'SyncToken',
  'sparse',
  'domain',
  'MetaData',
  'FullyQualifiedName',
  'Active',
  'BalanceWithJobs',
  'V4IDPseudonym',
];

/** What a Customer write is checked against besides its own fields. */
export type CustomerWriteContext =
  | { readonly mode: 'create' }
  | { readonly mode: 'update'; readonly syncToken: number; readonly name: string; readonly sparse: boolean }
  /** A user's edit in QBO (admin API): sparse, and with no SyncToken to compare. */
  | { readonly mode: 'edit'; readonly name: string };

export interface CheckedCustomer {
  /** The known, writable fields (DisplayName taken out), ready to store. */
  readonly fields: Record<string, unknown>;
  /** The DisplayName the record will have, when the write sets or derives one. */
  readonly display: string | undefined;
  /** `Active` when the write gives it. */
  readonly active?: boolean;
}

/**
 * Checks a Customer write as Intuit does and returns what to store. All type and length errors of
 * the body come back in one fault, as Intuit lists them; then DisplayName (required unless a name
 * part is given, cannot be cleared by a sparse update), SyncToken (a string, the current one: 5010)
 * and the DisplayName's uniqueness (6240). Fields QBO does not know are dropped.
 */
export function checkCustomerWrite(
  input: Record<string, unknown>,
  context: CustomerWriteContext,
  nameTaken: (name: string) => boolean,
): CheckedCustomer {
  checkDepth(input);
  const errors: FaultError[] = [];
  const known = checkFields(input, CUSTOMER_FIELDS, '', errors);
  if (errors.length > 0) throw new QboFault(400, 'ValidationFault', errors);

  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(known)) if (!READ_ONLY_FIELDS.includes(key)) fields[key] = value;
  const given = typeof fields['DisplayName'] === 'string' ? fields['DisplayName'].trim() : undefined;
  const sparse = context.mode === 'edit' || (context.mode === 'update' && context.sparse);
  let display = given || undefined;
  if (context.mode === 'create') {
    display ??= nameFromParts(fields) || undefined;
    if (!display) throw faults.required('DisplayName');
  } else if (sparse) {
    for (const key of ['DisplayName', 'PrintOnCheckName'])
      if (key in fields && (fields[key] === null || (typeof fields[key] === 'string' && !fields[key].trim())))
        throw faults.invalid(`${key} cannot be removed with a sparse update`, key);
  } else if ('DisplayName' in fields && !display) {
    display = nameFromParts(fields) || undefined;
    if (!display) throw faults.required('DisplayName');
  } else display ??= nameFromParts(fields) || context.name;

  if (context.mode === 'update') {
    const token = known['SyncToken'];
    if (token === undefined || token === null) throw faults.required('SyncToken');
    if (token !== String(context.syncToken)) throw faults.stale();
  }
  const current = context.mode === 'create' ? undefined : context.name;
  if (display !== undefined && display !== current && nameTaken(display)) throw faults.duplicateName();
  delete fields['DisplayName'];
  const active = known['Active'];
  return { fields, display, ...(typeof active === 'boolean' ? { active } : {}) };
}

/** The known fields of `value` by `rules`, each checked; errors are collected, unknown keys dropped. */
function checkFields(
  value: Record<string, unknown>,
  rules: Readonly<Record<string, FieldRule>>,
  prefix: string,
  errors: FaultError[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    const rule = rules[key];
    if (!rule) continue;
    const checked = checkField(field, rule, `${prefix}${key}`, errors);
    if (checked !== undefined) out[key] = checked;
  }
  return out;
}

function checkField(value: unknown, rule: FieldRule, path: string, errors: FaultError[]): unknown {
  if (value === null || rule.kind === 'any') return value;
  switch (rule.kind) {
    case 'string':
      if (typeof value !== 'string') return wrongType(errors, path, 'a string', value);
      if (rule.max !== undefined && value.length > rule.max) {
        errors.push({
          Message: 'String length is either shorter or longer than supported by specification',
          Detail: `String length specified does not match the supported length. Min:0 Max:${rule.max} supported. Supplied length:${value.length}`,
          code: '2050',
          element: path,
        });
        return undefined;
      }
      if (rule.name && /[:\t\n]/.test(value)) {
        errors.push(invalidProperty(`${path} cannot contain a colon, tab or newline`, path));
        return undefined;
      }
      return value;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? value : wrongType(errors, path, 'a number', value);
    case 'boolean':
      // Intuit's JSON reader takes "true"/"false" for a boolean, as the simulator always has.
      if (value === true || value === 'true') return true;
      if (value === false || value === 'false') return false;
      return wrongType(errors, path, 'true or false', value);
    case 'object':
      if (typeof value !== 'object' || Array.isArray(value)) return wrongType(errors, path, 'an object', value);
      return checkFields(value as Record<string, unknown>, rule.fields, `${path}.`, errors);
  }
}

function wrongType(errors: FaultError[], path: string, expected: string, value: unknown): undefined {
  const got = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;
  errors.push(invalidProperty(`${path} must be ${expected}, not ${got}`, path));
  return undefined;
}

function invalidProperty(detail: string, element: string): FaultError {
  return { Message: 'Request has invalid or unsupported property', Detail: detail, code: '2010', element };
}

function nameFromParts(fields: Record<string, unknown>): string {
  return NAME_PARTS.map((k) => fields[k])
    .filter((v): v is string => typeof v === 'string' && v.trim() !== '')
    .join(' ')
    .trim();
}
