import type { CrmCustomerRow } from '../../db/repositories/crm-records.js';
import type { AccountRecord } from '../mapping/customer.js';

/**
 * The customer fields that sync both ways (R10), flat, in one shape for the three sides of a
 * merge: what QuickBooks holds, what the CRM holds, and what was last synced (the snapshot kept on
 * the customer's link). An empty value is null (an empty list for address lines).
 */
export const customerFieldNames = [
  'companyName',
  'website',
  'addressLines',
  'city',
  'province',
  'postalCode',
  'country',
  'title',
  'fullName',
  'phone1',
  'phone2',
  'fax',
  'mobile',
  'email',
] as const;

export type CustomerField = (typeof customerFieldNames)[number];
export type FieldValue = string | null | readonly string[];
export type CustomerFields = {
  readonly [K in CustomerField]: K extends 'addressLines' ? readonly string[] : string | null;
};

const addressFields: readonly CustomerField[] = ['addressLines', 'city', 'province', 'postalCode', 'country'];

/** What a link keeps of the customer as last synced: its fields, and the DisplayName QuickBooks showed. */
export interface CustomerSnapshot extends CustomerFields {
  readonly displayName: string | null;
}

export function isEmptyValue(value: FieldValue | undefined): boolean {
  if (value === null || value === undefined) return true;
  return typeof value === 'string' ? value.trim() === '' : value.length === 0;
}

export function sameValue(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  if (isEmptyValue(a) && isEmptyValue(b)) return true;
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A customer's fields as QuickBooks holds them, from its mapped record. */
export function fieldsOfAccount(account: AccountRecord): CustomerFields {
  const contact = account.primaryContact;
  return {
    companyName: account.companyName,
    website: account.website,
    addressLines: account.address.lines,
    city: account.address.city,
    province: account.address.province,
    postalCode: account.address.postalCode,
    country: account.address.country,
    title: contact?.title ?? null,
    fullName: contact?.fullName ?? null,
    phone1: contact?.phone1 ?? null,
    phone2: contact?.phone2 ?? null,
    fax: contact?.fax ?? null,
    mobile: contact?.mobile ?? null,
    email: contact?.email ?? null,
  };
}

export function snapshotOfAccount(account: AccountRecord): CustomerSnapshot {
  return { ...fieldsOfAccount(account), displayName: account.displayName };
}

/** The same account carrying other field values (the merge's outcome), for the CRM writer. */
export function accountWithFields(account: AccountRecord, fields: CustomerFields): AccountRecord {
  const contact = {
    title: fields.title,
    fullName: fields.fullName,
    phone1: fields.phone1,
    phone2: fields.phone2,
    fax: fields.fax,
    mobile: fields.mobile,
    email: fields.email,
  };
  return {
    ...account,
    companyName: fields.companyName ?? account.companyName,
    website: fields.website,
    address: {
      lines: fields.addressLines,
      city: fields.city,
      province: fields.province,
      postalCode: fields.postalCode,
      country: fields.country,
    },
    primaryContact: Object.values(contact).some((value) => value !== null) ? contact : null,
  };
}

/** An account as the CRM holds it, carrying other field values: what the push writes back to the CRM. */
export function crmAccountWithFields(row: CrmCustomerRow, qboId: string, fields: CustomerFields): AccountRecord {
  const account: AccountRecord = {
    qboId,
    syncToken: null,
    lastUpdatedTime: null,
    companyName: row.company_name,
    displayName: null,
    website: null,
    active: row.active,
    address: { lines: [], city: null, province: null, postalCode: null, country: null },
    primaryContact: null,
    languageForNewAccount: row.language,
  };
  return accountWithFields(account, fields);
}

/**
 * Reads a link's snapshot; null when it holds none (a link written before two-way existed, or
 * damaged). Then the merge has no base, and the CRM's values are taken as unchanged.
 */
export function readSnapshot(stored: unknown): CustomerSnapshot | null {
  if (typeof stored !== 'object' || stored === null || !('companyName' in stored)) return null;
  const source = stored as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value : null);
  const lines = Array.isArray(source['addressLines'])
    ? source['addressLines'].filter((line): line is string => typeof line === 'string')
    : [];
  const fields = Object.fromEntries(
    customerFieldNames.map((name) => [name, name === 'addressLines' ? lines : text(source[name])]),
  ) as unknown as CustomerFields;
  return { ...fields, displayName: text(source['displayName']) };
}

export function fieldsOfCrm(row: CrmCustomerRow): CustomerFields {
  const text = (value: string | null) => (value === null || value.trim() === '' ? null : value.trim());
  return {
    companyName: text(row.company_name),
    website: text(row.website),
    addressLines: row.address_lines.map((line) => line.trim()).filter((line) => line !== ''),
    city: text(row.city),
    province: text(row.province),
    postalCode: text(row.postal_code),
    country: text(row.country),
    title: text(row.title),
    fullName: text(row.full_name),
    phone1: text(row.phone1),
    phone2: text(row.phone2),
    fax: text(row.fax),
    mobile: text(row.mobile),
    email: text(row.email),
  };
}

/** The name a new QuickBooks customer gets: the company, or for a person's account, the person. */
export function displayNameFor(fields: CustomerFields): string | null {
  return fields.companyName ?? fields.fullName;
}

/** A QBO Customer body for a create: every filled field. */
export function qboCreateBody(fields: CustomerFields): Record<string, unknown> {
  return withoutBlanks({
    DisplayName: displayNameFor(fields),
    ...qboFieldChanges(fields, new Set(customerFieldNames), null),
  });
}

/**
 * The fields of a sparse update for the changed fields. An emptied field is sent as an empty string,
 * which QuickBooks reads as "clear it". DisplayName follows the company name when the two were the
 * same (or QuickBooks had none): renaming a company renames the customer; a customer whose
 * DisplayName was chosen apart keeps it.
 */
export function qboFieldChanges(
  fields: CustomerFields,
  changed: ReadonlySet<CustomerField>,
  snapshot: CustomerSnapshot | null,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const text = (value: string | null) => value ?? '';
  if (changed.has('companyName')) {
    body['CompanyName'] = text(fields.companyName);
    const followsCompany =
      snapshot === null || snapshot.displayName === null || snapshot.displayName === snapshot.companyName;
    const name = displayNameFor(fields);
    if (snapshot !== null && followsCompany && name !== null) body['DisplayName'] = name;
  }
  if (changed.has('website')) body['WebAddr'] = { URI: text(fields.website) };
  if (addressFields.some((field) => changed.has(field))) {
    const address: Record<string, string> = {};
    ['Line1', 'Line2', 'Line3', 'Line4', 'Line5'].forEach((key, index) => {
      address[key] = fields.addressLines[index] ?? '';
    });
    address['City'] = text(fields.city);
    address['CountrySubDivisionCode'] = text(fields.province);
    address['PostalCode'] = text(fields.postalCode);
    address['Country'] = text(fields.country);
    body['BillAddr'] = address;
  }
  if (changed.has('title')) body['Title'] = text(fields.title);
  if (changed.has('fullName')) Object.assign(body, nameParts(fields.fullName));
  const phones = [
    ['phone1', 'PrimaryPhone'],
    ['phone2', 'AlternatePhone'],
    ['fax', 'Fax'],
    ['mobile', 'Mobile'],
  ] as const;
  for (const [field, key] of phones) if (changed.has(field)) body[key] = { FreeFormNumber: text(fields[field]) };
  if (changed.has('email')) body['PrimaryEmailAddr'] = { Address: text(fields.email) };
  return body;
}

/**
 * The CRM keeps a full name; QuickBooks keeps its parts, and the pull joins them with spaces. The
 * first word goes to GivenName and the rest to FamilyName, so that the pull reads the same full
 * name back; MiddleName and Suffix are emptied, since the full name already holds them.
 */
function nameParts(fullName: string | null): Record<string, string> {
  const words = (fullName ?? '').split(/\s+/).filter((word) => word !== '');
  return {
    GivenName: words[0] ?? '',
    MiddleName: '',
    FamilyName: words.slice(1).join(' '),
    Suffix: '',
  };
}

/** The body without empty strings and the objects they leave empty: a create has nothing to clear. */
function withoutBlanks(body: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (value === null || value === undefined || value === '') continue;
    if (typeof value === 'object' && !Array.isArray(value)) {
      const inner = withoutBlanks(value as Record<string, unknown>);
      if (Object.keys(inner).length > 0) kept[key] = inner;
    } else kept[key] = value;
  }
  return kept;
}
