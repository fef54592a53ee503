/**
 * Building QBO query statements. Values are always quoted and escaped here, never concatenated by
 * callers: a customer named "Amy's Bird Sanctuary" must not break (or change) a query.
 */
export type QboQueryValue = string | number | boolean;

export interface QboCondition {
  readonly field: string;
  readonly op: '=' | '<' | '>' | '<=' | '>=' | 'IN' | 'LIKE';
  readonly value: QboQueryValue | readonly QboQueryValue[];
}

export interface QboQuery {
  readonly entity: string;
  readonly where?: readonly QboCondition[];
  readonly orderBy?: { readonly field: string; readonly direction: 'ASC' | 'DESC' };
  readonly startPosition?: number;
  readonly maxResults?: number;
}

export const maxPageSize = 1000;

/** Escapes backslashes and apostrophes with a backslash, as QBO's query language expects. */
export function quoteValue(value: QboQueryValue): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return `'${value}'`;
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const identifier = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/;

export function buildQuery(query: QboQuery, select: '*' | 'count(*)' = '*'): string {
  if (!identifier.test(query.entity)) throw new RangeError(`not an entity name: ${JSON.stringify(query.entity)}`);
  const parts = [`SELECT ${select} FROM ${query.entity}`];
  const conditions = (query.where ?? []).map((condition) => {
    if (!identifier.test(condition.field)) throw new RangeError(`not a field name: ${JSON.stringify(condition.field)}`);
    if (condition.op === 'IN') {
      const values = Array.isArray(condition.value) ? condition.value : [condition.value];
      if (values.length === 0) throw new RangeError(`IN on ${condition.field} needs at least one value`);
      return `${condition.field} IN (${values.map((value) => quoteValue(value as QboQueryValue)).join(', ')})`;
    }
    if (Array.isArray(condition.value)) throw new RangeError(`${condition.op} on ${condition.field} takes one value`);
    return `${condition.field} ${condition.op} ${quoteValue(condition.value as QboQueryValue)}`;
  });
  if (conditions.length > 0) parts.push(`WHERE ${conditions.join(' AND ')}`);
  if (select === '*') {
    if (query.orderBy) {
      if (!identifier.test(query.orderBy.field)) throw new RangeError(`not a field name: ${query.orderBy.field}`);
      parts.push(`ORDERBY ${query.orderBy.field} ${query.orderBy.direction}`);
    }
    if (query.startPosition !== undefined) parts.push(`STARTPOSITION ${query.startPosition}`);
    if (query.maxResults !== undefined) {
      if (query.maxResults < 1 || query.maxResults > maxPageSize) {
        throw new RangeError(`maxResults must be 1..${maxPageSize}, not ${query.maxResults}`);
      }
      parts.push(`MAXRESULTS ${query.maxResults}`);
    }
  }
  return parts.join(' ');
}

/** QBO date-times: seconds precision, UTC with an explicit offset, which every QBO accepts. */
export function qboDateTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}
