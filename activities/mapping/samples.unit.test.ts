import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mapCustomer } from './customer.js';
import { mapQboResponse } from './response.js';
import { mapSalesDocument, totalFromLines } from './sales-document.js';
import { sampleFiles, sampleRecords } from './samples.js';

// Every real recorded response maps without error, checked record by record against the raw JSON.

type Raw = Record<string, unknown>;
const obj = (value: unknown): Raw => (value && typeof value === 'object' ? (value as Raw) : {});
const str = (value: unknown): string | null => (typeof value === 'string' && value.trim() !== '' ? value.trim() : null);

const customers = sampleRecords('customer-query.source-nango.json', 'Customer');
const estimates = sampleRecords('estimate-query.source-nango.json', 'Estimate');
const invoices = sampleRecords('invoice-query-with-discount.source-nango.json', 'Invoice');

describe('recorded samples: every file', () => {
  it.each(sampleFiles())('maps %s with no error', (file) => {
    const { output } = mapQboResponse(JSON.parse(readFileSync(file, 'utf8')), { language: 'fr' });
    expect(output.errors).toEqual([]);
  });
});

describe('recorded customers, record by record (R10, R18)', () => {
  it('has the 33 recorded customers', () => expect(customers).toHaveLength(33));

  it.each(customers.map((c) => [c['Id'] as string, c] as const))('R10: customer %s card fields', (_id, raw) => {
    const mapped = mapCustomer(raw, { defaultLanguage: 'fr' });
    if (raw['Job'] === true) {
      expect(mapped.kind).toBe('subCustomer');
      if (mapped.kind === 'subCustomer') expect(mapped.subCustomer.parentQboId).toBe(obj(raw['ParentRef'])['value']);
      return;
    }
    expect(mapped.kind).toBe('account');
    if (mapped.kind !== 'account') return;
    const { account } = mapped;
    const bill = obj(raw['BillAddr']);
    expect(account.qboId).toBe(raw['Id']);
    expect(account.companyName).toBe(str(raw['CompanyName']) ?? str(raw['DisplayName']));
    expect(account.website).toBe(str(obj(raw['WebAddr'])['URI']));
    expect(account.active).toBe(raw['Active'] !== false);
    expect(account.address).toEqual({
      lines: ['Line1', 'Line2', 'Line3', 'Line4', 'Line5'].map((k) => str(bill[k])).filter((l) => l !== null),
      city: str(bill['City']),
      province: str(bill['CountrySubDivisionCode']),
      postalCode: str(bill['PostalCode']),
      country: str(bill['Country']),
    });
    const name = ['GivenName', 'MiddleName', 'FamilyName', 'Suffix'].map((k) => str(raw[k])).filter((p) => p !== null);
    const email = str(obj(raw['PrimaryEmailAddr'])['Address']);
    expect(account.primaryContact).toEqual({
      title: str(raw['Title']),
      fullName: name.length > 0 ? name.join(' ') : null,
      phone1: str(obj(raw['PrimaryPhone'])['FreeFormNumber']),
      phone2: str(obj(raw['AlternatePhone'])['FreeFormNumber']),
      fax: str(obj(raw['Fax'])['FreeFormNumber']),
      mobile: str(obj(raw['Mobile'])['FreeFormNumber']),
      // R18: the first of comma-separated emails (the recordings hold one each).
      email: email === null ? null : (email.split(',')[0] ?? '').trim(),
    });
    expect(account.languageForNewAccount).toBe('fr');
  });

  it('R10: spot checks against values read by hand', () => {
    const byId = (id: string) => {
      const mapped = mapCustomer(
        customers.find((c) => c['Id'] === id),
        { defaultLanguage: 'en' },
      );
      if (mapped.kind !== 'account') throw new Error(`customer ${id} is not an account`);
      return mapped.account;
    };
    expect(byId('4').companyName).toBe('Diego Rodriguez'); // no CompanyName: DisplayName
    expect(byId('1').companyName).toBe("Amy's Bird Sanctuary"); // CompanyName wins over DisplayName
    expect(byId('7')).toMatchObject({
      companyName: 'Freeman Sporting Goods',
      website: 'http://sportinggoods.intuit.com',
      address: { lines: ['370 Easy St.'], city: 'Middlefield', province: 'CA', postalCode: '94482', country: null },
      primaryContact: {
        fullName: 'Kirby Freeman',
        phone1: '(650) 555-0987',
        phone2: null,
        fax: '(520) 555-7894',
        mobile: '(973) 555-8849',
        email: 'Sporting_goods@intuit.com',
      },
    });
    expect(byId('6').address.lines).toEqual([]);
  });

  it('sub-customers of the recording (8, 9 under 7; 23 under 22) are rolled up, not accounts', () => {
    const subs = customers.filter((c) => c['Job'] === true).map((c) => mapCustomer(c, { defaultLanguage: 'fr' }));
    expect(
      subs.map((s) => (s.kind === 'subCustomer' ? [s.subCustomer.qboId, s.subCustomer.parentQboId] : null)),
    ).toEqual([
      ['8', '7'],
      ['9', '7'],
      ['23', '22'],
    ]);
  });
});

describe('recorded estimates, record by record (R11, R12)', () => {
  const expected: Record<string, [string, number]> = { Pending: ['qualified', 40], Closed: ['advanced', 90] };
  it.each(estimates.map((e) => [e['Id'] as string, e] as const))(
    'R12: estimate %s stage, totals, lines',
    (_id, raw) => {
      const o = mapSalesDocument('Estimate', raw, { language: 'fr' });
      const [stage, probability] = expected[raw['TxnStatus'] as string] ?? ['?', -1];
      expect([o.stage, o.probability]).toEqual([stage, probability]);
      expect(o.stageLabel).toBe(stage === 'qualified' ? 'Qualifiée' : 'Avancée');
      expect(o.title).toBe(raw['DocNumber']);
      expect(o.txnDate).toBe(raw['TxnDate']);
      expect(o.customerQboId).toBe(obj(raw['CustomerRef'])['value']);
      expect(o.shipping).toBe(0);
      expect(o.discount).toBe(0);
      const rawLines = (raw['Line'] as Raw[]).filter((l) => l['DetailType'] === 'SalesItemLineDetail');
      expect(o.lines.map((l) => [l.itemQboId, l.amount, l.quantity, l.unitPrice])).toEqual(
        rawLines.map((l) => {
          const d = obj(l['SalesItemLineDetail']);
          return [obj(d['ItemRef'])['value'], l['Amount'], d['Qty'] ?? null, d['UnitPrice'] ?? null];
        }),
      );
      expect(o.totalBeforeTax).toBe(totalFromLines(o));
      expect(o.totalBeforeTax).toBeCloseTo(
        (raw['TotalAmt'] as number) - (obj(raw['TxnTaxDetail'])['TotalTax'] as number),
        2,
      );
    },
  );
});

describe('recorded invoices, record by record (R11, R12)', () => {
  it.each(invoices.map((i) => [i['Id'] as string, i] as const))(
    'R12: invoice %s is Won 100 %%, with its totals',
    (_id, raw) => {
      const o = mapSalesDocument('Invoice', raw, { language: 'en' });
      expect([o.stage, o.stageLabel, o.probability]).toEqual(['won', 'Won', 100]);
      expect(o.title).toBe(raw['DocNumber']);
      const lines = raw['Line'] as Raw[];
      const discount = lines
        .filter((l) => l['DetailType'] === 'DiscountLineDetail')
        .reduce((s, l) => s + (l['Amount'] as number), 0);
      expect(o.discount).toBeCloseTo(discount, 2);
      expect(o.shipping).toBe(0); // the recording has no SHIPPING_ITEM_ID line
      expect(o.totalBeforeTax).toBeCloseTo(
        (raw['TotalAmt'] as number) - (obj(raw['TxnTaxDetail'])['TotalTax'] as number),
        2,
      );
      const productLines = lines.filter((l) => l['DetailType'] === 'SalesItemLineDetail');
      expect(o.lines).toHaveLength(productLines.length);
      // The line arithmetic agrees with QBO's own figure wherever the charges are item lines.
      if (productLines.length > 0) expect(totalFromLines(o)).toBe(o.totalBeforeTax);
    },
  );

  it('R11: invoice 49 carries the 5 % discount of the recording; 39 a 10 % one', () => {
    const i49 = mapSalesDocument(
      'Invoice',
      invoices.find((i) => i['Id'] === '49'),
      { language: 'fr' },
    );
    expect([i49.discount, i49.discountPercent, i49.totalBeforeTax]).toEqual([50.25, 5, 954.75]);
    const i39 = mapSalesDocument(
      'Invoice',
      invoices.find((i) => i['Id'] === '39'),
      { language: 'fr' },
    );
    expect([i39.discount, i39.discountPercent, i39.totalBeforeTax]).toEqual([30.5, 10, 274.5]);
  });

  it('R11: invoice 42 has no item line, only a subtotal: its total before tax is QBO’s 75', () => {
    const i42 = mapSalesDocument(
      'Invoice',
      invoices.find((i) => i['Id'] === '42'),
      { language: 'fr' },
    );
    expect([i42.lines.length, i42.totalBeforeTax]).toEqual([0, 75]);
  });

  it('R13: the recordings hold no Item, so no category comes out of them', () => {
    for (const file of sampleFiles()) {
      const { output } = mapQboResponse(JSON.parse(readFileSync(file, 'utf8')), { language: 'fr' });
      expect(output.categories).toEqual([]);
    }
  });
});
