import { describe, expect, it } from 'vitest';
import { firstEmail, mapCustomer } from './customer.js';
import { MappingError } from './errors.js';
import { mapItem } from './item.js';
import { mapQboResponse } from './response.js';
import { mapSalesDocument, totalFromLines } from './sales-document.js';

const item = (id: string, name: string, amount: number, qty?: number, unitPrice?: number) => ({
  DetailType: 'SalesItemLineDetail',
  Amount: amount,
  Description: `${name} description`,
  SalesItemLineDetail: {
    ItemRef: { value: id, name },
    ...(qty === undefined ? {} : { Qty: qty }),
    ...(unitPrice === undefined ? {} : { UnitPrice: unitPrice }),
  },
});
const shipping = (amount: number) => ({
  DetailType: 'SalesItemLineDetail',
  Amount: amount,
  SalesItemLineDetail: { ItemRef: { value: 'SHIPPING_ITEM_ID' } },
});
const subtotal = (amount: number) => ({ DetailType: 'SubTotalLineDetail', Amount: amount, SubTotalLineDetail: {} });
const percentDiscount = (percent: number, amount?: number) => ({
  DetailType: 'DiscountLineDetail',
  ...(amount === undefined ? {} : { Amount: amount }),
  DiscountLineDetail: { PercentBased: true, DiscountPercent: percent },
});
const amountDiscount = (amount: number) => ({
  DetailType: 'DiscountLineDetail',
  Amount: amount,
  DiscountLineDetail: { PercentBased: false },
});
const doc = (lines: unknown[], extra: Record<string, unknown> = {}) => ({
  Id: '900',
  DocNumber: 'F-900',
  TxnDate: '2026-03-15',
  CustomerRef: { value: '7' },
  Line: lines,
  ...extra,
});

describe('customer rules', () => {
  it('R18: only the first of comma-separated emails is kept', () => {
    expect(firstEmail('a@x.ca, b@y.ca,c@z.ca')).toBe('a@x.ca');
    expect(firstEmail(' , b@y.ca')).toBe('b@y.ca');
    expect(firstEmail(null)).toBeNull();
    const mapped = mapCustomer(
      { Id: '1', DisplayName: 'A', PrimaryEmailAddr: { Address: 'un@a.ca,deux@a.ca' } },
      { defaultLanguage: 'fr' },
    );
    expect(mapped.kind === 'account' && mapped.account.primaryContact?.email).toBe('un@a.ca');
  });

  it('R10: company name falls back to DisplayName; the address takes BillAddr Line1 to Line5', () => {
    const mapped = mapCustomer(
      {
        Id: '5',
        CompanyName: '  ',
        DisplayName: 'Plomberie Roy',
        BillAddr: {
          Line1: 'a',
          Line2: 'b',
          Line3: '',
          Line4: 'd',
          Line5: 'e',
          City: 'Québec',
          CountrySubDivisionCode: 'QC',
          PostalCode: 'G1R 4P5',
          Country: 'Canada',
        },
        AlternatePhone: { FreeFormNumber: '418 555-0002' },
      },
      { defaultLanguage: 'fr' },
    );
    expect(mapped.kind === 'account' && mapped.account).toMatchObject({
      companyName: 'Plomberie Roy',
      address: {
        lines: ['a', 'b', 'd', 'e'],
        city: 'Québec',
        province: 'QC',
        postalCode: 'G1R 4P5',
        country: 'Canada',
      },
      primaryContact: { phone2: '418 555-0002', fullName: null },
    });
  });

  it('R4: a new account takes the tenant default language, whatever the sync language', () => {
    const en = mapCustomer({ Id: '1', DisplayName: 'A' }, { defaultLanguage: 'en' });
    const fr = mapCustomer({ Id: '1', DisplayName: 'A' }, { defaultLanguage: 'fr' });
    expect([
      en.kind === 'account' && en.account.languageForNewAccount,
      fr.kind === 'account' && fr.account.languageForNewAccount,
    ]).toEqual(['en', 'fr']);
  });

  it('sub-customers: a Job maps to a roll-up onto its parent, and a Job without ParentRef is an error naming ParentRef', () => {
    expect(
      mapCustomer({ Id: '8', DisplayName: 'Job', Job: true, ParentRef: { value: '7' } }, { defaultLanguage: 'fr' }),
    ).toMatchObject({
      kind: 'subCustomer',
      subCustomer: { qboId: '8', parentQboId: '7' },
    });
    expect(() => mapCustomer({ Id: '8', DisplayName: 'Job', Job: true }, { defaultLanguage: 'fr' })).toThrow(
      expect.objectContaining({ field: 'ParentRef' }),
    );
  });

  it('a customer with no name at all is an error naming DisplayName', () => {
    expect(() => mapCustomer({ Id: '3' }, { defaultLanguage: 'fr' })).toThrow(
      expect.objectContaining({ field: 'DisplayName', qboId: '3' }),
    );
  });
});

describe('sales document rules', () => {
  it.each([
    ['Rejected', 'lost', 0, 'Perdue', 'Lost'],
    ['Pending', 'qualified', 40, 'Qualifiée', 'Qualified'],
    ['Accepted', 'advanced', 80, 'Avancée', 'Advanced'],
    ['Closed', 'advanced', 90, 'Avancée', 'Advanced'],
  ])('R12/R3: estimate %s → %s %d %%, labelled in the sync language', (status, stage, probability, fr, en) => {
    const inFr = mapSalesDocument('Estimate', doc([item('1', 'A', 10)], { TxnStatus: status }), { language: 'fr' });
    const inEn = mapSalesDocument('Estimate', doc([item('1', 'A', 10)], { TxnStatus: status }), { language: 'en' });
    expect([inFr.stage, inFr.probability, inFr.stageLabel, inEn.stageLabel]).toEqual([stage, probability, fr, en]);
  });

  it('R12: an invoice is Won at 100 %; an unknown estimate status is an error naming TxnStatus', () => {
    expect(mapSalesDocument('Invoice', doc([item('1', 'A', 10)]), { language: 'fr' })).toMatchObject({
      stage: 'won',
      probability: 100,
      stageLabel: 'Gagnée',
    });
    expect(() => mapSalesDocument('Estimate', doc([], { TxnStatus: 'Maybe' }), { language: 'fr' })).toThrow(
      expect.objectContaining({ field: 'TxnStatus' }),
    );
  });

  it('stated rule: a sales receipt is a Won sale at 100 %, amounts as they are', () => {
    const o = mapSalesDocument('SalesReceipt', doc([item('1', 'A', 50, 2, 25), shipping(5)]), { language: 'en' });
    expect([o.stage, o.probability, o.totalBeforeTax, o.shipping]).toEqual(['won', 100, 55, 5]);
  });

  it('stated rule: a credit note is Won at 100 % with amounts and quantities negated, unit prices kept', () => {
    const o = mapSalesDocument(
      'CreditMemo',
      doc([item('1', 'A', 50, 2, 25), shipping(5), subtotal(50), amountDiscount(10)]),
      { language: 'en' },
    );
    expect([o.stage, o.probability, o.shipping, o.discount, o.totalBeforeTax]).toEqual(['won', 100, -5, -10, -45]);
    expect(o.lines[0]).toMatchObject({ quantity: -2, unitPrice: 25, amount: -50 });
  });

  it('R11: SHIPPING_ITEM_ID lines are the shipping charge, not product lines', () => {
    const o = mapSalesDocument('Invoice', doc([item('1', 'A', 100, 1, 100), shipping(12.5), shipping(2.5)]), {
      language: 'fr',
    });
    expect(o.shipping).toBe(15);
    expect(o.lines.map((l) => l.itemQboId)).toEqual(['1']);
  });

  it('R11: a percent discount and an amount discount both become the discount', () => {
    const percent = mapSalesDocument('Invoice', doc([item('1', 'A', 200), subtotal(200), percentDiscount(10, 20)]), {
      language: 'fr',
    });
    expect([percent.discount, percent.discountPercent, percent.totalBeforeTax]).toEqual([20, 10, 180]);
    const computed = mapSalesDocument('Invoice', doc([item('1', 'A', 200), percentDiscount(7.5)]), { language: 'fr' });
    expect([computed.discount, computed.totalBeforeTax]).toEqual([15, 185]);
    const amount = mapSalesDocument('Invoice', doc([item('1', 'A', 200), amountDiscount(33.33)]), { language: 'fr' });
    expect([amount.discount, amount.discountPercent, amount.totalBeforeTax]).toEqual([33.33, null, 166.67]);
  });

  it('R11: total before tax is right for a mix of product, group, shipping, subtotal, description and discount lines', () => {
    const lines = [
      item('1', 'Cat:Widget', 0.1, 1, 0.1),
      item('2', 'Gadget', 0.2, 1, 0.2),
      {
        DetailType: 'GroupLineDetail',
        Amount: 30,
        GroupLineDetail: {
          GroupItemRef: { value: '9' },
          Line: [item('3', 'Part', 10, 1, 10), item('4', 'Other', 20, 2, 10)],
        },
      },
      { DetailType: 'DescriptionOnly', Amount: 999, Description: 'ignored' },
      {
        DetailType: 'SalesItemLineDetail',
        Amount: 500,
        Description: 'no ItemRef: documentation',
        SalesItemLineDetail: {},
      },
      subtotal(30.3),
      percentDiscount(10, 3.03),
      shipping(9.99),
    ];
    const o = mapSalesDocument('Invoice', doc(lines), { language: 'fr' });
    expect(o.lines.map((l) => l.productCode)).toEqual(['Widget', 'Gadget', 'Part', 'Other']);
    expect([o.shipping, o.discount, o.totalBeforeTax]).toEqual([9.99, 3.03, 37.26]);
    expect(totalFromLines(o)).toBe(37.26);
    // With QBO's header figures, the header is used: TotalAmt − TotalTax.
    const withHeader = mapSalesDocument('Invoice', doc(lines, { TotalAmt: 42.85, TxnTaxDetail: { TotalTax: 5.59 } }), {
      language: 'fr',
    });
    expect(withHeader.totalBeforeTax).toBe(37.26);
  });

  it('R11: the title is the document number, or the document type and id when QBO gives none', () => {
    expect(mapSalesDocument('Invoice', doc([], { DocNumber: undefined }), { language: 'fr' }).title).toBe(
      'Facture 900',
    );
    expect(mapSalesDocument('CreditMemo', doc([], { DocNumber: undefined }), { language: 'en' }).title).toBe(
      'Credit note 900',
    );
  });

  it('errors name the field, with the line path', () => {
    const bad = doc([
      item('1', 'A', 10),
      { DetailType: 'SalesItemLineDetail', Amount: 'ten', SalesItemLineDetail: { ItemRef: { value: '2' } } },
    ]);
    try {
      mapSalesDocument('Invoice', bad, { language: 'fr' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(MappingError);
      expect(error).toMatchObject({ field: 'Line[1].Amount', qboId: '900', qboEntity: 'Invoice' });
    }
    expect(() => mapSalesDocument('Invoice', doc([], { TxnDate: '2026-02-30' }), { language: 'fr' })).toThrow(
      expect.objectContaining({ field: 'TxnDate' }),
    );
    expect(() => mapSalesDocument('Invoice', doc([], { DocNumber: 'x'.repeat(22) }), { language: 'fr' })).toThrow(
      expect.objectContaining({ field: 'DocNumber' }),
    );
  });
});

describe('item categories → revenue categories (R13, R22)', () => {
  it('R13: an Item of type Category is a revenue category; an item under it names it as parent', () => {
    expect(mapItem({ Id: '29', Name: 'Trees', Type: 'Category', Active: true })).toEqual({
      kind: 'category',
      category: { qboId: '29', name: 'Trees', active: true, syncToken: null, lastUpdatedTime: null },
    });
    expect(
      mapItem({ Id: '30', Name: 'Cedar', Type: 'Inventory', SubItem: true, ParentRef: { value: '29' } }),
    ).toMatchObject({
      kind: 'product',
      product: { code: 'Cedar', parentQboId: '29' },
    });
  });

  it('R22: a deactivated category maps to inactive, not to a deletion', () => {
    const { output } = mapQboResponse(
      { QueryResponse: { Item: [{ Id: '29', Name: 'Trees', Type: 'Category', Active: false }] } },
      { language: 'fr' },
    );
    expect(output.categories).toEqual([{ qboId: '29', name: 'Trees', active: false }]);
    expect(output.deleted).toEqual([]);
  });
});

describe('whole responses', () => {
  it('CDC: deleted entries go to "deleted", records are mapped, errors are listed with their field', () => {
    const { output } = mapQboResponse(
      {
        CDCResponse: [
          {
            QueryResponse: [
              { Customer: [{ Id: '1', DisplayName: 'A' }] },
              {
                Invoice: [
                  doc([item('1', 'A', 5)]),
                  { status: 'Deleted', domain: 'QBO', Id: '979' },
                  { Id: '5', TxnDate: 'x' },
                ],
              },
              {},
            ],
          },
        ],
        time: '2026-01-01T00:00:00Z',
      },
      { language: 'en' },
    );
    expect(output.accounts.map((a) => a.qboId)).toEqual(['1']);
    expect(output.opportunities.map((o) => o.qboId)).toEqual(['900']);
    expect(output.deleted).toEqual([{ qboEntity: 'Invoice', qboId: '979' }]);
    expect(output.errors).toEqual([{ qboEntity: 'Invoice', qboId: '5', field: 'CustomerRef', message: 'is missing' }]);
  });

  it('a single-entity response maps too', () => {
    const { output } = mapQboResponse(
      { Estimate: doc([item('1', 'A', 5)], { TxnStatus: 'Accepted' }), time: 'x' },
      { language: 'fr' },
    );
    expect(output.opportunities[0]).toMatchObject({
      qboEntity: 'Estimate',
      stage: 'advanced',
      probability: 80,
      stageLabel: 'Avancée',
    });
  });
});
