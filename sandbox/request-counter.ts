/**
 * API requests received per realm, by kind, for tests that prove a pass made (or made no) QBO calls.
 * Every request to `/v3/company/{realm}/…` counts whatever its outcome; OAuth and `/__sim/` do not.
 */

/** What kind of API request was counted. */
export type ApiRequestKind = 'query' | 'cdc' | 'read' | 'write' | 'other';

export class ApiRequestCounter {
  private readonly counts = new Map<string, Record<ApiRequestKind, number>>();

  count(realmId: string, kind: ApiRequestKind): void {
    let counts = this.counts.get(realmId);
    if (!counts) {
      counts = { query: 0, cdc: 0, read: 0, write: 0, other: 0 };
      this.counts.set(realmId, counts);
    }
    counts[kind]++;
  }

  /** A realm's requests since start (or the last reset), of one kind or all. */
  total(realmId: string, kind?: ApiRequestKind): number {
    const counts = this.counts.get(realmId);
    if (!counts) return 0;
    if (kind) return counts[kind];
    return counts.query + counts.cdc + counts.read + counts.write + counts.other;
  }

  /** Every realm's counts: `{realmId: {total, query, cdc, read, write, other}}`. */
  all(): Record<string, Record<ApiRequestKind | 'total', number>> {
    const out: Record<string, Record<ApiRequestKind | 'total', number>> = {};
    for (const [realmId, counts] of this.counts) out[realmId] = { total: this.total(realmId), ...counts };
    return out;
  }

  /** Sets a realm's counts (or every realm's) back to 0. */
  reset(realmId?: string): void {
    if (realmId === undefined) this.counts.clear();
    else this.counts.delete(realmId);
  }
}
