/**
 * Custom search attributes qbsync sets on tenant workflows, so engineers can filter them in the
 * Temporal UI ("QbsyncTenantId = 'acme'", "QbsyncPaused = true"). The dev server registers them at
 * start; on a real cluster, `temporal operator search-attribute create` registers the same list.
 */
export const searchAttributeTypes = {
  QbsyncTenantId: 'Keyword',
  QbsyncRealmId: 'Keyword',
  QbsyncPhase: 'Keyword',
  QbsyncMode: 'Keyword',
  QbsyncPaused: 'Bool',
} as const;

export type SearchAttributeName = keyof typeof searchAttributeTypes;
