import { Fields } from './fields.js';
import type { Language } from './stages.js';

/** QBO's documented maximum lengths (qbo-api.md §7); longer values are a damaged payload. */
const max = {
  id: 64,
  syncToken: 32,
  displayName: 500,
  companyName: 100,
  title: 16,
  namePart: 100,
  suffix: 16,
  phone: 30,
  email: 100,
  emailField: 1000,
  web: 1000,
  addressLine: 500,
  city: 255,
  province: 255,
  postalCode: 30,
  country: 255,
  timestamp: 40,
} as const;

export interface AddressRecord {
  /** BillAddr.Line1 to Line5, blanks dropped, in order. */
  readonly lines: readonly string[];
  readonly city: string | null;
  readonly province: string | null;
  readonly postalCode: string | null;
  readonly country: string | null;
}

export interface ContactRecord {
  readonly title: string | null;
  readonly fullName: string | null;
  readonly phone1: string | null;
  /** "Téléphone 2 (autre)": QBO's AlternatePhone. */
  readonly phone2: string | null;
  readonly fax: string | null;
  readonly mobile: string | null;
  readonly email: string | null;
}

export interface AccountRecord {
  readonly qboId: string;
  readonly syncToken: string | null;
  readonly lastUpdatedTime: string | null;
  readonly companyName: string;
  /** QuickBooks's DisplayName (unique per company): a rename in the CRM follows it when the two agreed. */
  readonly displayName: string | null;
  readonly website: string | null;
  readonly active: boolean;
  readonly address: AddressRecord;
  /** The QuickBooks primary contact (R16); null when QBO holds no person data for the customer. */
  readonly primaryContact: ContactRecord | null;
  /** R4: the language a new account gets, the tenant's default. Never applied to an existing account. */
  readonly languageForNewAccount: Language;
}

/**
 * A sub-customer (`Job: true`: a job or project under a customer). The rule: it is not an account
 * of its own. The sync links its QBO id to the account of its top-level parent, so its estimates
 * and invoices land on the parent company's account; its own card fields are not synced.
 */
export interface SubCustomerRecord {
  readonly qboId: string;
  readonly parentQboId: string;
  readonly displayName: string;
  readonly active: boolean;
  readonly syncToken: string | null;
  readonly lastUpdatedTime: string | null;
}

export type CustomerMapping =
  | { readonly kind: 'account'; readonly account: AccountRecord }
  | { readonly kind: 'subCustomer'; readonly subCustomer: SubCustomerRecord };

export interface CustomerMappingOptions {
  /** The tenant's default language for new customers (R4). */
  readonly defaultLanguage: Language;
}

/** R18: QBO accepts several comma-separated emails; only the first one is synced. */
export function firstEmail(value: string | null): string | null {
  if (value === null) return null;
  for (const part of value.split(',')) {
    const trimmed = part.trim();
    if (trimmed !== '') return trimmed;
  }
  return null;
}

/** Maps one QBO Customer. Throws MappingError (naming the field) and nothing else. */
export function mapCustomer(payload: unknown, options: CustomerMappingOptions): CustomerMapping {
  const record = Fields.of('Customer', payload);
  const qboId = record.requiredString('Id', max.id);
  record.identify(qboId);
  const syncToken = record.optionalString('SyncToken', max.syncToken);
  const lastUpdatedTime = record.optionalObject('MetaData')?.optionalString('LastUpdatedTime', max.timestamp) ?? null;
  const displayName = record.optionalString('DisplayName', max.displayName);
  const active = record.optionalBoolean('Active') ?? true;

  if (record.optionalBoolean('Job') === true) {
    const parentQboId = record.requiredObject('ParentRef').requiredString('value', max.id);
    if (parentQboId === qboId) record.fail('ParentRef.value', 'must not be the customer itself');
    return {
      kind: 'subCustomer',
      subCustomer: { qboId, parentQboId, displayName: displayName ?? qboId, active, syncToken, lastUpdatedTime },
    };
  }

  const companyName =
    record.optionalString('CompanyName', max.companyName) ??
    displayName ??
    record.fail('DisplayName', 'is missing, and so is CompanyName: the account needs a name');

  const bill = record.optionalObject('BillAddr');
  const lines: string[] = [];
  for (const key of ['Line1', 'Line2', 'Line3', 'Line4', 'Line5']) {
    const line = bill?.optionalString(key, max.addressLine) ?? null;
    if (line !== null) lines.push(line);
  }
  const address: AddressRecord = {
    lines,
    city: bill?.optionalString('City', max.city) ?? null,
    province: bill?.optionalString('CountrySubDivisionCode', max.province) ?? null,
    postalCode: bill?.optionalString('PostalCode', max.postalCode) ?? null,
    country: bill?.optionalString('Country', max.country) ?? null,
  };

  const phone = (key: string) => record.optionalObject(key)?.optionalString('FreeFormNumber', max.phone) ?? null;
  const email = firstEmail(
    record.optionalObject('PrimaryEmailAddr')?.optionalString('Address', max.emailField) ?? null,
  );
  if (email !== null && email.length > max.email) {
    record.fail('PrimaryEmailAddr.Address', `has a first email longer than ${max.email} characters`);
  }
  const nameParts = [
    record.optionalString('GivenName', max.namePart),
    record.optionalString('MiddleName', max.namePart),
    record.optionalString('FamilyName', max.namePart),
    record.optionalString('Suffix', max.suffix),
  ].filter((part): part is string => part !== null);
  const contact: ContactRecord = {
    title: record.optionalString('Title', max.title),
    fullName: nameParts.length > 0 ? nameParts.join(' ') : null,
    phone1: phone('PrimaryPhone'),
    phone2: phone('AlternatePhone'),
    fax: phone('Fax'),
    mobile: phone('Mobile'),
    email,
  };
  const hasContact = Object.values(contact).some((value) => value !== null);

  return {
    kind: 'account',
    account: {
      qboId,
      syncToken,
      lastUpdatedTime,
      companyName,
      displayName,
      website: record.optionalObject('WebAddr')?.optionalString('URI', max.web) ?? null,
      active,
      address,
      primaryContact: hasContact ? contact : null,
      languageForNewAccount: options.defaultLanguage,
    },
  };
}
