import { Fields } from './fields.js';
import { fromCents, toCents } from './money.js';
import { estimateStatusStages, stageLabels, wonStage, type Language, type Stage } from './stages.js';

export const salesDocumentEntities = ['Estimate', 'Invoice', 'CreditMemo', 'SalesReceipt'] as const;
export type SalesDocumentEntity = (typeof salesDocumentEntities)[number];

export function isSalesDocumentEntity(value: string): value is SalesDocumentEntity {
  return (salesDocumentEntities as readonly string[]).includes(value);
}

/** QBO's item reference for the shipping charge of a sales form (qbo-api.md §7). */
export const shippingItemId = 'SHIPPING_ITEM_ID';

export interface OpportunityLineRecord {
  /** 1-based position among the product lines. */
  readonly lineNumber: number;
  /** The item's name (the product code shown on the document), without its category prefix. */
  readonly productCode: string | null;
  readonly itemQboId: string | null;
  readonly description: string | null;
  readonly quantity: number | null;
  readonly unitPrice: number | null;
  readonly amount: number;
}

export interface OpportunityRecord {
  readonly qboEntity: SalesDocumentEntity;
  readonly qboId: string;
  readonly syncToken: string | null;
  readonly lastUpdatedTime: string | null;
  readonly customerQboId: string;
  readonly title: string;
  readonly txnDate: string;
  /** Estimates' ExpirationDate: the month the forecast counts an open estimate in. */
  readonly expirationDate: string | null;
  readonly currency: string | null;
  readonly stage: Stage;
  readonly stageLabel: string;
  readonly probability: number;
  readonly shipping: number;
  readonly discount: number;
  /** Set when the discount was a percentage (5 means 5 %). */
  readonly discountPercent: number | null;
  readonly totalBeforeTax: number;
  readonly lines: readonly OpportunityLineRecord[];
}

export interface SalesDocumentOptions {
  /** The tenant's sync language, in which stage labels are written (R3). */
  readonly language: Language;
}

const documentNames: Readonly<Record<Language, Readonly<Record<SalesDocumentEntity, string>>>> = {
  fr: { Estimate: 'Soumission', Invoice: 'Facture', CreditMemo: 'Note de crédit', SalesReceipt: 'Reçu de vente' },
  en: { Estimate: 'Estimate', Invoice: 'Invoice', CreditMemo: 'Credit note', SalesReceipt: 'Sales receipt' },
};

const max = { id: 64, syncToken: 32, docNumber: 21, itemName: 500, description: 4000, currency: 3, timestamp: 40 };

/**
 * Maps an Estimate, Invoice, CreditMemo or SalesReceipt to an opportunity with its lines (R11, R12).
 *
 * - Stage and probability: estimates by TxnStatus per R12 (absent TxnStatus is QBO's default,
 *   Pending); invoices Won 100 %. Sales receipts are sales paid on the spot: Won 100 %. Credit notes
 *   are Won 100 % too, with every amount negated (quantities too, unit prices stay positive), so
 *   revenue and buyer reports net them out against the sales they credit.
 * - Lines: a SalesItemLineDetail line is a product line, except ItemRef SHIPPING_ITEM_ID, which
 *   adds to the shipping charge. A line without ItemRef is documentation: its Amount is ignored, as
 *   QBO does. Group lines contribute their component lines. DescriptionOnly and SubTotal lines
 *   carry no amount of their own. DiscountLineDetail lines add to the discount: their Amount, or,
 *   when it is absent, DiscountPercent of the product lines above them.
 * - Total before tax: TotalAmt − TxnTaxDetail.TotalTax when QBO gives both (its own figure, right
 *   for any mix of lines, including invoices whose charges are not item lines); otherwise products
 *   + shipping − discount from the lines.
 *
 * Throws MappingError (naming the field) and nothing else.
 */
export function mapSalesDocument(
  entity: SalesDocumentEntity,
  payload: unknown,
  options: SalesDocumentOptions,
): OpportunityRecord {
  const record = Fields.of(entity, payload);
  const qboId = record.requiredString('Id', max.id);
  record.identify(qboId);
  const syncToken = record.optionalString('SyncToken', max.syncToken);
  const lastUpdatedTime = record.optionalObject('MetaData')?.optionalString('LastUpdatedTime', max.timestamp) ?? null;
  const customerQboId = record.requiredObject('CustomerRef').requiredString('value', max.id);
  const txnDate = record.requiredDate('TxnDate');
  const title =
    record.optionalString('DocNumber', max.docNumber) ?? `${documentNames[options.language][entity]} ${qboId}`;
  const currency = record.optionalObject('CurrencyRef')?.optionalString('value', max.currency) ?? null;

  let stageAndProbability = wonStage;
  let expirationDate: string | null = null;
  if (entity === 'Estimate') {
    const status = record.optionalString('TxnStatus', 40) ?? 'Pending';
    stageAndProbability =
      estimateStatusStages[status] ??
      record.fail(
        'TxnStatus',
        `must be one of ${Object.keys(estimateStatusStages).join(', ')}, got ${JSON.stringify(status)}`,
      );
    expirationDate = record.optionalDate('ExpirationDate');
  }

  const lines: OpportunityLineRecord[] = [];
  let productCents = 0;
  let shippingCents = 0;
  let discountCents = 0;
  let discountPercent: number | null = null;

  const salesItemLine = (line: Fields, detail: Fields): void => {
    const itemRef = detail.optionalObject('ItemRef');
    if (itemRef === null) return; // documentation line: QBO ignores its Amount
    const itemQboId = itemRef.requiredString('value', max.id);
    const amount = line.requiredNumber('Amount');
    if (itemQboId === shippingItemId) {
      shippingCents += toCents(amount);
      return;
    }
    const itemName = itemRef.optionalString('name', max.itemName);
    productCents += toCents(amount);
    lines.push({
      lineNumber: lines.length + 1,
      productCode: itemName === null ? null : (itemName.split(':').pop() ?? itemName).trim() || itemName,
      itemQboId,
      description: line.optionalString('Description', max.description),
      quantity: detail.optionalNumber('Qty'),
      unitPrice: detail.optionalNumber('UnitPrice'),
      amount,
    });
  };

  const readLines = (lineFields: Fields[], depth: number): void => {
    for (const line of lineFields) {
      const type = line.optionalString('DetailType', 40);
      switch (type) {
        case 'SalesItemLineDetail':
          salesItemLine(line, line.requiredObject('SalesItemLineDetail'));
          break;
        case 'GroupLineDetail': {
          if (depth > 0) line.fail('DetailType', 'is a group inside a group, which QBO does not allow');
          const group = line.requiredObject('GroupLineDetail');
          readLines(group.optionalObjects('Line') ?? [], depth + 1);
          break;
        }
        case 'DiscountLineDetail': {
          const detail = line.optionalObject('DiscountLineDetail');
          const percentBased = detail?.optionalBoolean('PercentBased') ?? false;
          const percent = detail?.optionalNumber('DiscountPercent', 100) ?? null;
          if (percentBased && percent !== null) discountPercent = (discountPercent ?? 0) + percent;
          const amount = line.optionalNumber('Amount');
          if (amount !== null) {
            discountCents += toCents(Math.abs(amount));
          } else if (percentBased && percent !== null) {
            discountCents += Math.round((productCents * percent) / 100);
          } else {
            line.fail('Amount', 'is missing on a discount line that gives no DiscountPercent');
          }
          break;
        }
        case 'SubTotalLineDetail':
        case 'DescriptionOnly':
        case 'DescriptionLineDetail':
          break;
        case null:
          line.fail('DetailType', 'is missing');
          break;
        default:
          line.fail('DetailType', `is not a sales line type this sync knows (${JSON.stringify(type.slice(0, 40))})`);
      }
    }
  };
  readLines(record.requiredObjects('Line'), 0);

  const totalAmt = record.optionalNumber('TotalAmt');
  const totalTax = record.optionalObject('TxnTaxDetail')?.optionalNumber('TotalTax') ?? null;
  const totalCents =
    totalAmt !== null && totalTax !== null
      ? toCents(totalAmt) - toCents(totalTax)
      : productCents + shippingCents - discountCents;

  const sign = entity === 'CreditMemo' ? -1 : 1;
  const money = (cents: number) => fromCents(sign * cents) + 0; // + 0 turns -0 into 0
  return {
    qboEntity: entity,
    qboId,
    syncToken,
    lastUpdatedTime,
    customerQboId,
    title,
    txnDate,
    expirationDate,
    currency,
    stage: stageAndProbability.stage,
    stageLabel: stageLabels[options.language][stageAndProbability.stage],
    probability: stageAndProbability.probability,
    shipping: money(shippingCents),
    discount: money(discountCents),
    discountPercent,
    totalBeforeTax: money(totalCents),
    lines:
      sign === 1
        ? lines
        : lines.map((line) => ({
            ...line,
            quantity: line.quantity === null ? null : -line.quantity + 0,
            amount: -line.amount + 0,
          })),
  };
}

/** Products + shipping − discount, from the mapped lines: what the header total is checked against. */
export function totalFromLines(opportunity: OpportunityRecord): number {
  const products = opportunity.lines.reduce((sum, line) => sum + toCents(line.amount), 0);
  return fromCents(products + toCents(opportunity.shipping) - toCents(opportunity.discount));
}
