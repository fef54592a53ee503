import {
  customerFieldNames,
  isEmptyValue,
  sameValue,
  type CustomerField,
  type CustomerFields,
  type FieldValue,
} from './customer-fields.js';

/** Which side wins a field that both sides changed since the last sync (per tenant; QuickBooks by default). */
export type ConflictPolicy = 'qbo_wins' | 'crm_wins';

export interface FieldConflict {
  readonly field: CustomerField;
  readonly base: FieldValue;
  readonly crm: FieldValue;
  readonly qbo: FieldValue;
  /** The side the policy applied. */
  readonly applied: 'qbo' | 'crm';
}

export interface MergeInput {
  /** What was last synced; null when the link holds no snapshot (then the CRM is taken as unchanged). */
  readonly base: CustomerFields | null;
  readonly crm: CustomerFields;
  readonly qbo: CustomerFields;
  readonly policy: ConflictPolicy;
  /** Fields a CRM user emptied on purpose (captured by the outbox triggers). */
  readonly cleared: ReadonlySet<string>;
}

export interface MergeOutcome {
  /** What both sides hold once the merge is applied. */
  readonly merged: CustomerFields;
  /** Fields QuickBooks must be sent. */
  readonly toQbo: ReadonlySet<CustomerField>;
  /** Fields the CRM must be given. */
  readonly toCrm: ReadonlySet<CustomerField>;
  /** Fields both sides changed to different values. */
  readonly conflicts: readonly FieldConflict[];
}

/**
 * The three-way merge of one customer, field by field, against what was last synced:
 * - a field changed on one side only takes that side's value;
 * - a field changed on both sides to different values follows the policy, and is a conflict;
 * - an empty CRM value overwrites a filled one only when a CRM user cleared that field on purpose:
 *   a field that is empty because the primary contact changed hands (R16), or because the CRM
 *   never held it, is no change, and QuickBooks's value comes back to the CRM.
 * QuickBooks's own changes, clearing included, are changes a QuickBooks user made.
 */
export function mergeCustomer(input: MergeInput): MergeOutcome {
  const { base, crm, qbo, policy, cleared } = input;
  const merged: Record<string, FieldValue> = {};
  const toQbo = new Set<CustomerField>();
  const toCrm = new Set<CustomerField>();
  const conflicts: FieldConflict[] = [];
  for (const field of customerFieldNames) {
    const crmValue = crm[field];
    const qboValue = qbo[field];
    const baseValue = base === null ? crmValue : base[field];
    const accidentalClear = isEmptyValue(crmValue) && !isEmptyValue(baseValue) && !cleared.has(field);
    const crmChanged = !sameValue(crmValue, baseValue) && !accidentalClear;
    const qboChanged = !sameValue(qboValue, baseValue);
    let value: FieldValue;
    if (!crmChanged || sameValue(crmValue, qboValue)) value = qboValue;
    else if (!qboChanged) value = crmValue;
    else {
      const applied = policy === 'qbo_wins' ? 'qbo' : 'crm';
      conflicts.push({ field, base: baseValue, crm: crmValue, qbo: qboValue, applied });
      value = applied === 'qbo' ? qboValue : crmValue;
    }
    merged[field] = value;
    if (!sameValue(value, qboValue)) toQbo.add(field);
    if (!sameValue(value, crmValue)) toCrm.add(field);
  }
  // The company name is never emptied: QuickBooks needs a name, and the CRM's account has one.
  if (isEmptyValue(merged['companyName'] ?? null)) {
    merged['companyName'] = qbo.companyName ?? crm.companyName;
    toQbo.delete('companyName');
    if (sameValue(merged['companyName'], crm.companyName)) toCrm.delete('companyName');
  }
  return { merged: merged as unknown as CustomerFields, toQbo, toCrm, conflicts };
}
