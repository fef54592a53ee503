import { mapCustomer } from './customer.js';
import { MappingError } from './errors.js';
import { describeType, isPlainObject } from './fields.js';
import { mapItem } from './item.js';
import { isSalesDocumentEntity, mapSalesDocument } from './sales-document.js';
import type { Language, Stage } from './stages.js';

/**
 * The `qbsync map` contract (docs/map-contract.md): what the sync would write for a QBO API
 * response, as plain JSON. Keys and shapes here are stable; absent values are null.
 */
export interface MapOutput {
  accounts: MappedAccount[];
  opportunities: MappedOpportunity[];
  categories: MappedCategory[];
  deleted: MappedDeletion[];
  errors: MappedError[];
}

export interface MappedAccount {
  qboId: string;
  companyName: string;
  website: string | null;
  active: boolean;
  address: {
    lines: string[];
    city: string | null;
    province: string | null;
    postalCode: string | null;
    country: string | null;
  };
  primaryContact: {
    title: string | null;
    fullName: string | null;
    phone1: string | null;
    phone2: string | null;
    fax: string | null;
    mobile: string | null;
    email: string | null;
  } | null;
}

export interface MappedOpportunity {
  qboEntity: string;
  qboId: string;
  customerQboId: string;
  title: string;
  txnDate: string;
  stage: Stage;
  stageLabel: string;
  probability: number;
  shipping: number;
  discount: number;
  totalBeforeTax: number;
  lines: {
    productCode: string | null;
    itemQboId: string | null;
    description: string | null;
    quantity: number | null;
    unitPrice: number | null;
    amount: number;
  }[];
}

export interface MappedCategory {
  qboId: string;
  name: string;
  active: boolean;
}

export interface MappedDeletion {
  qboEntity: string;
  qboId: string;
}

export interface MappedError {
  qboEntity: string | null;
  qboId: string | null;
  field: string;
  message: string;
}

export interface MapOptions {
  /** The tenant's sync language: stage labels (R3). */
  readonly language: Language;
  /** The tenant's default language for new accounts (R4); not part of the printed contract. */
  readonly defaultLanguage?: Language;
}

export interface MapResult {
  readonly output: MapOutput;
  /** Remarks for a human (sub-customers rolled up, entities the sync ignores); not part of the contract. */
  readonly notes: readonly string[];
}

/** Entity names as they appear in webhooks' lowercase CloudEvents types. */
const entityNames: Readonly<Record<string, string>> = {
  customer: 'Customer',
  estimate: 'Estimate',
  invoice: 'Invoice',
  creditmemo: 'CreditMemo',
  salesreceipt: 'SalesReceipt',
  item: 'Item',
};
const mappedEntities = new Set(Object.values(entityNames));

interface EntityRecord {
  readonly entity: string;
  readonly record: unknown;
}

/**
 * Maps a QBO response: a query response, a single-entity or delete response, a CDC response, a
 * batch response, or a webhook notification (legacy or CloudEvents; these carry ids, no data, so
 * only their deletions show). Never throws: every problem becomes an `errors` entry.
 */
export function mapQboResponse(json: unknown, options: MapOptions): MapResult {
  const output: MapOutput = { accounts: [], opportunities: [], categories: [], deleted: [], errors: [] };
  const notes: string[] = [];
  const ignored = new Map<string, number>();
  let records: EntityRecord[];
  try {
    records = collectRecords(json, output, notes);
  } catch (error) {
    if (!(error instanceof MappingError)) throw error;
    output.errors.push({ qboEntity: null, qboId: null, field: error.field, message: error.problem });
    return { output, notes };
  }

  for (const { entity, record } of records) {
    if (isPlainObject(record) && record['status'] === 'Deleted') {
      const id = record['Id'];
      if (typeof id === 'string' && id.trim() !== '') output.deleted.push({ qboEntity: entity, qboId: id.trim() });
      else
        output.errors.push({
          qboEntity: entity,
          qboId: null,
          field: 'Id',
          message: `must be a string, got ${describeType(id)}`,
        });
      continue;
    }
    if (!mappedEntities.has(entity)) {
      ignored.set(entity, (ignored.get(entity) ?? 0) + 1);
      continue;
    }
    try {
      mapOne(entity, record, options, output, notes);
    } catch (error) {
      if (!(error instanceof MappingError)) throw error;
      output.errors.push({
        qboEntity: error.qboEntity,
        qboId: error.qboId,
        field: error.field,
        message: error.problem,
      });
    }
  }
  for (const [entity, count] of ignored)
    notes.push(`${count} ${entity} record${count > 1 ? 's' : ''} ignored: qbsync does not sync ${entity}.`);
  return { output, notes };
}

function mapOne(entity: string, record: unknown, options: MapOptions, output: MapOutput, notes: string[]): void {
  if (entity === 'Customer') {
    const mapped = mapCustomer(record, { defaultLanguage: options.defaultLanguage ?? options.language });
    if (mapped.kind === 'subCustomer') {
      const sub = mapped.subCustomer;
      notes.push(
        `Customer ${sub.qboId} (${sub.displayName}) is a sub-customer of ${sub.parentQboId}: it is not an account; its documents go to its top-level parent's account.`,
      );
      return;
    }
    const { account } = mapped;
    output.accounts.push({
      qboId: account.qboId,
      companyName: account.companyName,
      website: account.website,
      active: account.active,
      address: { ...account.address, lines: [...account.address.lines] },
      primaryContact: account.primaryContact === null ? null : { ...account.primaryContact },
    });
  } else if (entity === 'Item') {
    const mapped = mapItem(record);
    if (mapped.kind === 'category') {
      const { qboId, name, active } = mapped.category;
      output.categories.push({ qboId, name, active });
    }
  } else if (isSalesDocumentEntity(entity)) {
    const o = mapSalesDocument(entity, record, { language: options.language });
    output.opportunities.push({
      qboEntity: o.qboEntity,
      qboId: o.qboId,
      customerQboId: o.customerQboId,
      title: o.title,
      txnDate: o.txnDate,
      stage: o.stage,
      stageLabel: o.stageLabel,
      probability: o.probability,
      shipping: o.shipping,
      discount: o.discount,
      totalBeforeTax: o.totalBeforeTax,
      lines: o.lines.map((line) => ({
        productCode: line.productCode,
        itemQboId: line.itemQboId,
        description: line.description,
        quantity: line.quantity,
        unitPrice: line.unitPrice,
        amount: line.amount,
      })),
    });
  }
}

const fail = (field: string, problem: string): never => {
  throw new MappingError('response', null, field, problem);
};

/** Entity arrays (or single objects) under upper-case keys, as QBO names them. */
function entitiesIn(container: Record<string, unknown>, path: string): EntityRecord[] {
  const found: EntityRecord[] = [];
  for (const [key, value] of Object.entries(container)) {
    if (!/^[A-Z][A-Za-z]*$/.test(key) || key === 'Fault') continue;
    if (Array.isArray(value)) for (const record of value) found.push({ entity: key, record });
    else if (isPlainObject(value)) found.push({ entity: key, record: value });
    else fail(`${path}${key}`, `must be an array or an object, got ${describeType(value)}`);
  }
  return found;
}

function collectRecords(json: unknown, output: MapOutput, notes: string[]): EntityRecord[] {
  if (Array.isArray(json)) return collectCloudEvents(json, output, notes);
  if (!isPlainObject(json)) return fail('(response)', `must be a JSON object or array, got ${describeType(json)}`);
  if (isPlainObject(json['Fault']))
    return fail('Fault', `the response is a QBO fault: ${JSON.stringify(json['Fault']).slice(0, 300)}`);
  if ('QueryResponse' in json) {
    const query = json['QueryResponse'];
    if (!isPlainObject(query)) return fail('QueryResponse', `must be an object, got ${describeType(query)}`);
    return entitiesIn(query, 'QueryResponse.');
  }
  if ('CDCResponse' in json) {
    const cdc = json['CDCResponse'];
    if (!Array.isArray(cdc)) return fail('CDCResponse', `must be an array, got ${describeType(cdc)}`);
    const found: EntityRecord[] = [];
    cdc.forEach((element: unknown, i) => {
      if (!isPlainObject(element)) return fail(`CDCResponse[${i}]`, `must be an object, got ${describeType(element)}`);
      const query = element['QueryResponse'];
      const blocks = Array.isArray(query) ? query : [query];
      blocks.forEach((block: unknown, j) => {
        if (!isPlainObject(block))
          return fail(`CDCResponse[${i}].QueryResponse[${j}]`, `must be an object, got ${describeType(block)}`);
        found.push(...entitiesIn(block, `CDCResponse[${i}].QueryResponse[${j}].`));
      });
    });
    return found;
  }
  if ('BatchItemResponse' in json) {
    const batch = json['BatchItemResponse'];
    if (!Array.isArray(batch)) return fail('BatchItemResponse', `must be an array, got ${describeType(batch)}`);
    return batch.flatMap((element: unknown, i) =>
      isPlainObject(element)
        ? entitiesIn(element, `BatchItemResponse[${i}].`)
        : fail(`BatchItemResponse[${i}]`, 'must be an object'),
    );
  }
  if ('eventNotifications' in json) return collectLegacyWebhook(json['eventNotifications'], output, notes);
  const single = entitiesIn(json, '');
  if (single.length === 0) {
    return fail(
      '(response)',
      'is not a QBO query, entity, CDC, batch or webhook response (no QueryResponse, CDCResponse or entity key)',
    );
  }
  return single;
}

function collectLegacyWebhook(notifications: unknown, output: MapOutput, notes: string[]): EntityRecord[] {
  if (!Array.isArray(notifications))
    return fail('eventNotifications', `must be an array, got ${describeType(notifications)}`);
  notifications.forEach((notification: unknown, i) => {
    const entities =
      isPlainObject(notification) && isPlainObject(notification['dataChangeEvent'])
        ? notification['dataChangeEvent']['entities']
        : undefined;
    if (!Array.isArray(entities)) return fail(`eventNotifications[${i}].dataChangeEvent.entities`, 'must be an array');
    entities.forEach((event: unknown, j) => {
      const at = `eventNotifications[${i}].dataChangeEvent.entities[${j}]`;
      if (!isPlainObject(event) || typeof event['name'] !== 'string' || typeof event['id'] !== 'string') {
        return fail(at, 'must be an object with string name and id');
      }
      webhookEvent(event['name'], event['id'], String(event['operation']), event['deletedId'], output, notes);
    });
  });
  return [];
}

function collectCloudEvents(events: unknown[], output: MapOutput, notes: string[]): EntityRecord[] {
  events.forEach((event: unknown, i) => {
    if (!isPlainObject(event) || typeof event['type'] !== 'string' || typeof event['intuitentityid'] !== 'string') {
      return fail(`[${i}]`, 'must be a CloudEvents object with string type and intuitentityid');
    }
    const match = /^qbo\.([a-z]+)\.([a-z]+)\.v\d+$/.exec(event['type']);
    if (!match)
      return fail(
        `[${i}].type`,
        `is not a qbo.<entity>.<operation>.v1 type: ${JSON.stringify(event['type'].slice(0, 60))}`,
      );
    const [, entity = '', operation = ''] = match;
    const data = event['data'];
    const deletedId = isPlainObject(data) ? data['deletedid'] : undefined;
    webhookEvent(entityNames[entity] ?? entity, event['intuitentityid'], operation, deletedId, output, notes);
  });
  return [];
}

function webhookEvent(
  entity: string,
  id: string,
  operation: string,
  deletedId: unknown,
  output: MapOutput,
  notes: string[],
): void {
  const op = operation.toLowerCase();
  if (op === 'delete' || op === 'deleted') {
    output.deleted.push({ qboEntity: entity, qboId: id });
  } else if (op === 'merge' || op === 'merged') {
    notes.push(
      `Webhook: ${entity} ${typeof deletedId === 'string' ? deletedId : '?'} was merged into ${id}; the sync repairs the CRM (R21). No record data in a webhook.`,
    );
  } else {
    notes.push(`Webhook: ${entity} ${id} ${op}; webhooks carry no record data, the sync fetches it.`);
  }
}
