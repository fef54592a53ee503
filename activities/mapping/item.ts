import { Fields } from './fields.js';

export interface RevenueCategoryRecord {
  readonly qboId: string;
  readonly name: string;
  readonly active: boolean;
  readonly syncToken: string | null;
  readonly lastUpdatedTime: string | null;
}

export interface ProductRecord {
  readonly qboId: string;
  /** Item Name: the product code on documents. */
  readonly code: string;
  readonly sku: string | null;
  readonly description: string | null;
  readonly type: string;
  readonly active: boolean;
  /**
   * The parent Item (ParentRef) when SubItem is true. When that parent is a Category item, it is
   * the product's revenue category (R13); the sync resolves it against the categories it holds.
   */
  readonly parentQboId: string | null;
  readonly syncToken: string | null;
  readonly lastUpdatedTime: string | null;
}

export type ItemMapping =
  | { readonly kind: 'category'; readonly category: RevenueCategoryRecord }
  | { readonly kind: 'product'; readonly product: ProductRecord };

const itemTypes = ['Inventory', 'Service', 'NonInventory', 'Group', 'Category'];

/**
 * Maps a QBO Item. Items of type Category are revenue categories (R13); QBO never deletes them,
 * it deactivates them, and so does the CRM (R22: `active` follows QBO's Active). Other items are
 * products. Throws MappingError (naming the field) and nothing else.
 */
export function mapItem(payload: unknown): ItemMapping {
  const record = Fields.of('Item', payload);
  const qboId = record.requiredString('Id', 64);
  record.identify(qboId);
  const name = record.requiredString('Name', 100);
  const active = record.optionalBoolean('Active') ?? true;
  const syncToken = record.optionalString('SyncToken', 32);
  const lastUpdatedTime = record.optionalObject('MetaData')?.optionalString('LastUpdatedTime', 40) ?? null;
  const type = record.optionalString('Type', 40) ?? 'Service'; // below minor version 4, Type may be absent
  if (!itemTypes.includes(type))
    record.fail('Type', `must be one of ${itemTypes.join(', ')}, got ${JSON.stringify(type)}`);
  if (type === 'Category') {
    return { kind: 'category', category: { qboId, name, active, syncToken, lastUpdatedTime } };
  }
  const subItem = record.optionalBoolean('SubItem') ?? false;
  const parentQboId = subItem ? (record.optionalObject('ParentRef')?.optionalString('value', 64) ?? null) : null;
  return {
    kind: 'product',
    product: {
      qboId,
      code: name,
      sku: record.optionalString('Sku', 100),
      description: record.optionalString('Description', 4000),
      type,
      active,
      parentQboId,
      syncToken,
      lastUpdatedTime,
    },
  };
}
