import type { ColumnType, Generated } from 'kysely';

/**
 * The tables qbsync reads and writes, as Kysely sees them. Migrations are the source of truth;
 * this interface mirrors their latest state.
 */
export type Database = CrmTables;

/** timestamptz maintained by the database (default now(), touched on update). */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** DATE: a calendar day as 'YYYY-MM-DD', with no time zone (db/date-types.ts). */
type CalendarDate = string;
/** NUMERIC money: a string both ways, never a float. */
type Money = ColumnType<string, string | number, string | number>;
/** NUMERIC money with a database default (0). */
type MoneyWithDefault = ColumnType<string, string | number | undefined, string | number>;
type Language = 'fr' | 'en';

export interface CrmTables {
  tenants: TenantsTable;
  qbo_connections: QboConnectionsTable;
  lists: ListsTable;
  accounts: AccountsTable;
  contacts: ContactsTable;
  list_members: ListMembersTable;
  automations: AutomationsTable;
  revenue_categories: RevenueCategoriesTable;
  products: ProductsTable;
  opportunities: OpportunitiesTable;
  opportunity_lines: OpportunityLinesTable;
  qbo_links: QboLinksTable;
  sync_cursors: SyncCursorsTable;
  sync_errors: SyncErrorsTable;
  sync_passes: SyncPassesTable;
  oauth_states: OAuthStatesTable;
  crm_outbox: CrmOutboxTable;
  sync_conflicts: SyncConflictsTable;
  webhook_events: WebhookEventsTable;
  deferred_sub_customers: DeferredSubCustomersTable;
}

export interface TenantsTable {
  /** A slug chosen at onboarding (`acme`, `plomberie-roy`): readable in workflow ids and the CLI. */
  id: string;
  name: string;
  /** R2. */
  start_date: CalendarDate;
  /** R3: the language stage names and labels are written in. */
  sync_language: Generated<Language>;
  /** R4: the language new accounts created by the sync get. */
  default_customer_language: Generated<Language>;
  /** R7/R8. */
  sync_mode: Generated<'two_way' | 'one_way'>;
  /** R17: whether CRM users may edit accounts and contacts of the QuickBooks list. */
  allow_crm_edits: Generated<boolean>;
  /** R7: which side wins a customer field both sides changed since the last sync. */
  conflict_policy: Generated<ConflictPolicy>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface QboConnectionsTable {
  tenant_id: string;
  realm_id: string;
  environment: 'sandbox' | 'production';
  /** AES-256-GCM, db/token-crypto.ts format `v1:…`; a CHECK refuses anything else. */
  access_token_encrypted: string;
  refresh_token_encrypted: string;
  access_token_expires_at: ColumnType<Date, Date | string, Date | string>;
  refresh_token_expires_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  needs_reauth: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ListsTable {
  id: Generated<number>;
  tenant_id: string;
  name: string;
  /** The protected QuickBooks list (R14), created with its tenant; one per tenant. */
  is_quickbooks: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AccountsTable {
  id: Generated<number>;
  tenant_id: string;
  company_name: string;
  website: string | null;
  address_lines: ColumnType<string[], string[] | undefined, string[]>;
  city: string | null;
  province: string | null;
  postal_code: string | null;
  country: string | null;
  language: Language;
  active: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ContactsTable {
  id: Generated<number>;
  tenant_id: string;
  account_id: number | null;
  title: string | null;
  full_name: string | null;
  phone1: string | null;
  phone2: string | null;
  fax: string | null;
  mobile: string | null;
  email: string | null;
  language: Language;
  /** R16: maintained by triggers (the oldest contact of the account); never written by code. */
  is_primary: ColumnType<boolean, never, never>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ListMembersTable {
  id: Generated<number>;
  tenant_id: string;
  list_id: number;
  account_id: number | null;
  contact_id: number | null;
  added_at: Timestamp;
}

export interface AutomationsTable {
  id: Generated<number>;
  tenant_id: string;
  name: string;
  account_id: number | null;
  contact_id: number | null;
  definition: ColumnType<unknown, string | undefined, string>;
  enabled: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RevenueCategoriesTable {
  id: Generated<number>;
  tenant_id: string;
  name: string;
  /** R22: deactivated, never deleted. */
  active: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ProductsTable {
  id: Generated<number>;
  tenant_id: string;
  code: string;
  sku: string | null;
  description: string | null;
  revenue_category_id: number | null;
  active: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type OpportunityStage = 'lost' | 'qualified' | 'advanced' | 'won';
export type SalesDocumentEntityType = 'Estimate' | 'Invoice' | 'CreditMemo' | 'SalesReceipt';

export interface OpportunitiesTable {
  id: Generated<number>;
  tenant_id: string;
  account_id: number;
  source_entity: SalesDocumentEntityType;
  title: string;
  txn_date: CalendarDate;
  expected_close_date: ColumnType<string | null, string | null | undefined, string | null>;
  currency: string | null;
  stage: OpportunityStage;
  stage_label: string;
  probability: Money;
  shipping: MoneyWithDefault;
  discount: MoneyWithDefault;
  discount_percent: ColumnType<string | null, string | number | null | undefined, string | number | null>;
  total_before_tax: Money;
  /** Set when the QBO transaction was hard-deleted (seen in CDC or by reconciliation). */
  deleted_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface OpportunityLinesTable {
  id: Generated<number>;
  tenant_id: string;
  opportunity_id: number;
  line_number: number;
  product_code: string | null;
  item_qbo_id: string | null;
  product_id: number | null;
  description: string | null;
  quantity: ColumnType<string | null, string | number | null, string | number | null>;
  unit_price: ColumnType<string | null, string | number | null, string | number | null>;
  amount: Money;
}

export type QboEntityType = 'Customer' | SalesDocumentEntityType | 'Item';

/** One per synced QBO entity, keyed by (tenant, realm, entity type, QBO id). */
export interface QboLinksTable {
  tenant_id: string;
  realm_id: string;
  entity_type: QboEntityType;
  qbo_id: string;
  /** Customer → account (for a sub-customer: its top-level parent's account). */
  account_id: number | null;
  opportunity_id: number | null;
  product_id: number | null;
  revenue_category_id: number | null;
  /** Sub-customers only (Job: true): the parent customer's QBO id. */
  parent_qbo_id: string | null;
  sync_token: string;
  /** MetaData.LastUpdatedTime last applied, verbatim (with its offset), and as an instant. */
  qbo_last_updated_time: string;
  qbo_updated_at: ColumnType<Date, Date | string, Date | string>;
  /** The two-way fields as last synced: the base of the two-way merge. */
  synced_snapshot: ColumnType<unknown, string | undefined, string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SyncCursorsTable {
  tenant_id: string;
  realm_id: string;
  entity_type: string;
  cursor: string;
  cursor_at: ColumnType<Date, Date | string, Date | string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SyncErrorsTable {
  id: Generated<number>;
  tenant_id: string;
  realm_id: string;
  entity_type: string;
  qbo_id: string;
  error_type: string;
  field: string | null;
  message: string;
  occurrences: Generated<number>;
  first_seen_at: Timestamp;
  last_seen_at: Timestamp;
  resolved_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface SyncPassesTable {
  id: Generated<number>;
  tenant_id: string;
  realm_id: string;
  kind: 'backfill' | 'incremental' | 'repair' | 'push';
  workflow_id: string | null;
  run_id: string | null;
  status: Generated<'running' | 'succeeded' | 'failed' | 'cancelled'>;
  started_at: Timestamp;
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  counts: ColumnType<unknown, string | undefined, string>;
  error: string | null;
}

/** An OAuth `state` handed out and not yet consumed by its callback (issue 12, point 3). */
export interface OAuthStatesTable {
  /** SHA-256 of the state, base64url: the state itself travels through Intuit and is not stored. */
  state_hash: string;
  tenant_id: string;
  /** SHA-256 of the browser session the state was issued to; null when a terminal (qbsync connect) asked. */
  session_hash: string | null;
  /** The page language to come back to. */
  extra: Generated<string>;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  created_at: Timestamp;
}

// ---------------------------------------------------------------- two-way customers (R7)

export type ConflictPolicy = 'qbo_wins' | 'crm_wins';
export type OutboxState = 'pending' | 'pushed' | 'blocked' | 'discarded';
type OptionalTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/** An account whose QuickBooks customer must be created or updated, written by the CRM's triggers. */
export interface CrmOutboxTable {
  id: Generated<number>;
  tenant_id: string;
  account_id: number;
  state: Generated<OutboxState>;
  /** Edits coalesced into this row: a push marks it pushed only at the revision it read. */
  revision: Generated<number>;
  /** Synced fields a CRM user emptied on purpose. */
  cleared_fields: Generated<string[]>;
  create_sent_name: string | null;
  create_sent_at: OptionalTimestamp;
  attempts: Generated<number>;
  last_error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: OptionalTimestamp;
}

export type ConflictKind = 'field' | 'duplicate_name' | 'validation';
export type ConflictSide = 'qbo' | 'crm';

/** What the two-way merge settled by policy, or QuickBooks refused, for support to act on. */
export interface SyncConflictsTable {
  id: Generated<number>;
  tenant_id: string;
  realm_id: string;
  account_id: number;
  qbo_id: string | null;
  kind: ConflictKind;
  field: string | null;
  base_value: ColumnType<unknown, string | null | undefined, string | null>;
  crm_value: ColumnType<unknown, string | null | undefined, string | null>;
  qbo_value: ColumnType<unknown, string | null | undefined, string | null>;
  applied: ConflictSide | null;
  qbo_code: string | null;
  message: string;
  occurrences: Generated<number>;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  resolution: ConflictSide | null;
  resolved_at: OptionalTimestamp;
  resolved_by: string | null;
  resolution_applied_at: OptionalTimestamp;
}

/** A sub-customer read before its parent, waiting for a later page of the same read (issue 16). */
export interface DeferredSubCustomersTable {
  tenant_id: string;
  realm_id: string;
  qbo_id: string;
  parent_qbo_id: string;
  /** The record as QBO sent it. */
  record: ColumnType<Record<string, unknown>, string, string>;
  deferred_at: Timestamp;
}

/** A QuickBooks webhook event the receiver accepted (issue 15); routed_at is set once its tenant was told. */
export interface WebhookEventsTable {
  id: Generated<number>;
  /** CloudEvents `id`, or for a legacy event (which has none) a hash of what it says. */
  event_id: string;
  realm_id: string;
  format: 'legacy' | 'cloudevents';
  /** Lower case, as in CloudEvents types: `customer`, `invoice`. */
  entity: string;
  /** As in the legacy format: Create, Update, Delete, Merge, Void, Emailed (or what Intuit adds). */
  operation: string;
  /** The entity's QBO id; for a merge, the survivor's. */
  entity_id: string;
  /** For a merge, the QBO id merged away. */
  deleted_id: string | null;
  /** SHA-256 (hex) of the delivery's raw body. */
  body_sha256: string;
  received_at: Timestamp;
  routed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

/*
 * R21, the merge repair (migration 20261201120000): these declarations merge into the interfaces above.
 */
export interface QboLinksTable {
  /**
   * For a customer merged away in QBO: the customer it was merged into. References to it resolve to
   * the survivor's account (db/repositories/qbo-links.ts findLinks); once repaired, `account_id` is that account.
   */
  merged_into_qbo_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface TenantsTable {
  /** Days between the scheduled full reconciles of the tenant (R21); 0: only when asked. */
  full_reconcile_days: Generated<number>;
}
