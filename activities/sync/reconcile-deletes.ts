import type { LinkedDocument } from '../../db/repositories/qbo-links.js';

/**
 * Finding documents hard-deleted in QBO that CDC could not report (a pause past its 30 days, or a
 * burst past its 1000-object cap): compare count(*) per TxnDate range with what the CRM holds,
 * narrow the ranges that differ by halves, and read only those to see which ids are gone. Pure but
 * for the two QBO requests it is given, so the bisection is tested without QBO.
 */
export interface DocumentSource {
  /** count(*) of the documents whose TxnDate lies in [from, to) (days since 1970-01-01). */
  count(from: number, to: number): Promise<number>;
  /** One page of their ids, ordered by Id, from the 1-based position `startPosition`. */
  ids(from: number, to: number, startPosition: number): Promise<readonly string[]>;
}

export interface Reconciliation {
  /** The QBO ids the CRM holds that QBO no longer has. */
  readonly gone: string[];
  readonly requests: number;
}

const dayMs = 86_400_000;

export function dayNumber(isoDate: string): number {
  return Math.floor(Date.parse(isoDate.slice(0, 10)) / dayMs);
}

export function dayText(day: number): string {
  return new Date(day * dayMs).toISOString().slice(0, 10);
}

export async function findDeletedDocuments(
  held: readonly LinkedDocument[],
  source: DocumentSource,
  pageSize: number,
): Promise<Reconciliation> {
  if (held.length === 0) return { gone: [], requests: 0 };
  const crm = held.map((document) => ({ id: document.qboId, day: dayNumber(document.txnDate) }));
  const first = Math.min(...crm.map((document) => document.day));
  const last = Math.max(...crm.map((document) => document.day));
  let requests = 0;
  const gone: string[] = [];
  const pending: Array<[number, number]> = [[first, last + 1]];
  while (pending.length > 0) {
    const [from, to] = pending.pop()!;
    const inRange = crm.filter((document) => document.day >= from && document.day < to);
    if (inRange.length === 0) continue;
    requests += 1;
    const total = await source.count(from, to);
    // As many in QBO as in the CRM (or more, created since): nothing held here is gone.
    if (total >= inRange.length) continue;
    if (total <= pageSize || to - from <= 1) {
      const present = new Set<string>();
      for (let start = 1; ; start += pageSize) {
        requests += 1;
        const page = await source.ids(from, to, start);
        for (const id of page) present.add(id);
        if (page.length < pageSize) break;
      }
      gone.push(...inRange.filter((document) => !present.has(document.id)).map((document) => document.id));
      continue;
    }
    const middle = Math.floor((from + to) / 2);
    pending.push([from, middle], [middle, to]);
  }
  return { gone, requests };
}
