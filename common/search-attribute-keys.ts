import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed keys for the search attributes in search-attributes.ts, for workflows and clients. */
export const tenantIdKey = defineSearchAttributeKey('QbsyncTenantId', SearchAttributeType.KEYWORD);
export const realmIdKey = defineSearchAttributeKey('QbsyncRealmId', SearchAttributeType.KEYWORD);
export const phaseKey = defineSearchAttributeKey('QbsyncPhase', SearchAttributeType.KEYWORD);
export const modeKey = defineSearchAttributeKey('QbsyncMode', SearchAttributeType.KEYWORD);
export const pausedKey = defineSearchAttributeKey('QbsyncPaused', SearchAttributeType.BOOL);
