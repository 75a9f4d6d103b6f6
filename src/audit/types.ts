/**
 * The public vocabulary of the audit store: events, queries, plans and reports. Field names are
 * camelCase and follow OCSF / CloudTrail / ECS usage. Nothing here touches storage; the store
 * (audit-store.ts) and the exporters build on these types.
 */
import type { RedbOptions } from '../manager/options.js';
import type { IntegrityOptions } from '../integrity/integrity-options.js';
import type { PersonalDataOptions } from '../integrity/personal-data.js';

/** How an action ended. */
export type Outcome = 'success' | 'failure' | 'denied' | 'unknown';

/** OCSF severity levels, lowest first. */
export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical' | 'fatal';

/** Severity levels in ascending order (index = rank). */
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical', 'fatal'];

/** Outcomes an event may carry. */
export const OUTCOMES: readonly Outcome[] = ['success', 'failure', 'denied', 'unknown'];

/** Who acted. `id` is required; `type` and `name` are kept exactly as given when present. */
export interface AuditActor {
  id: string;
  type?: string;
  name?: string | null;
}

/** What was acted on. */
export interface AuditResource {
  type: string;
  id: string;
  name?: string;
}

/** Any JSON value that may appear inside `details`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** An audit event as stored and returned. Optional fields that were absent on input stay absent. */
export interface AuditEvent {
  /** ULID (time-ordered) assigned by the store, or the caller's own id (1 to 128 characters). */
  id: string;
  /** Epoch milliseconds. */
  timestamp: number;
  tenantId: string;
  actor: AuditActor;
  /** Dotted verb, such as `record.update`. */
  action: string;
  resource: AuditResource;
  outcome: Outcome;
  severity: Severity;
  category: string;
  correlationId?: string;
  sessionId?: string;
  sourceIp?: string | null;
  userAgent?: string | null;
  details?: { [key: string]: JsonValue };
  schemaVersion: number;
  /** Present (true) only when the subject's personal data was erased (see eraseSubject). */
  erased?: true;
}

/**
 * An event as a caller hands it in: `id`, `timestamp` (epoch ms, ISO-8601 string or Date),
 * `schemaVersion`, `severity` (default 'info'), `outcome` (default 'unknown') and `category`
 * (default: the action's first segment) may be omitted.
 */
export interface AuditEventInput {
  id?: string;
  timestamp?: number | string | Date;
  tenantId: string;
  actor: AuditActor;
  action: string;
  resource: AuditResource;
  outcome?: Outcome;
  severity?: Severity;
  category?: string;
  correlationId?: string;
  sessionId?: string;
  sourceIp?: string;
  userAgent?: string;
  details?: { [key: string]: JsonValue };
  schemaVersion?: number;
}

/** A query over one tenant's events (or every tenant's with `allTenants`). */
export interface AuditQuery {
  tenantId?: string;
  allTenants?: boolean;
  actorId?: string;
  /** Exact action, or a prefix written `'record.*'`. */
  action?: string;
  resourceType?: string;
  resourceId?: string;
  outcome?: Outcome;
  category?: string;
  minSeverity?: Severity;
  /** Inclusive lower bound (epoch ms, ISO string or Date). */
  from?: number | string | Date;
  /** Exclusive upper bound. */
  to?: number | string | Date;
  /** `'desc'` (default, newest first) or `'asc'`. */
  order?: 'asc' | 'desc';
  /** Page size for queryEvents (default 100, max 10,000); a total cap for iterate and export. */
  limit?: number;
  /** Opaque continuation from a previous page's `nextCursor`. */
  cursor?: string;
}

/** One page of results. `nextCursor` is present when more events may follow. */
export interface QueryResult {
  events: AuditEvent[];
  nextCursor?: string;
}

/** What the planner chose for a query, and what it cost. */
export interface QueryPlan {
  /** `'time'` (the primary order) or the index used: `'actor' | 'action' | 'resource' | 'outcome' | 'category'`. */
  index: string;
  /** Filters checked on each candidate event instead of by the index. */
  residualFilters: string[];
  /** Rows the planner expected to scan. */
  estimatedRows: number;
  /** Rows actually scanned when the plan was executed (explain executes the query). */
  scannedRows: number;
  /** Rows returned. */
  returnedRows: number;
  /** Shards the query touched. */
  shards: number[];
}

/** What an insert did. */
export interface InsertReport {
  inserted: number;
  /** Events whose id already existed: nothing was written for them. */
  duplicates: number;
  /** Ids of every event of the batch, in batch order (including duplicates). */
  ids: string[];
}

/** Export formats. */
export type ExportFormat = 'json' | 'ndjson' | 'csv' | 'ocsf' | 'cef';

/** Options of an export. */
export interface ExportOptions {
  /** Write a self-contained proof bundle (ndjson only; see docs/integrity.md). */
  withProofs?: boolean;
}

/** What a streaming export wrote. */
export interface ExportReport {
  format: ExportFormat;
  events: number;
  bytes: number;
}

/** A retention policy: events of `tenantId` (and `category`, when given) older than maxAgeDays are purged. */
export interface RetentionPolicy {
  tenantId: string;
  category?: string;
  maxAgeDays: number;
}

/** What purgeExpired removed. */
export interface PurgeReport {
  purged: number;
  /** Tenants skipped because of a legal hold. */
  heldTenants: string[];
  perTenant: { tenantId: string; purged: number }[];
}

/** Options of the audit layer, on top of RedbOptions. */
export interface AuditOptions {
  /** Largest `details` object, as UTF-8 JSON bytes. Default 65,536. */
  maxDetailsBytes?: number;
  /** Longest string field (ids, names, action, ...), in characters. Default 1,024. */
  maxStringLength?: number;
  /** Most events in one insertEvents call. Default 100,000. */
  maxBatch?: number;
  /** Retention policies applied by purgeExpired. Default: keep forever. */
  retention?: RetentionPolicy[];
  /**
   * The tamper-evident log: per-tenant Merkle logs and signed checkpoints (docs/integrity.md). On by
   * default. Nested because RedbOptions.checkpointIntervalMs is the engine's, not the log's.
   */
  integrity?: IntegrityOptions;
  /**
   * Crypto-shredding of personal-data fields (docs/integrity.md, "Personal data"). Off by default:
   * it costs an AES-GCM operation per sealed field and a re-encoding per event, and needs a store
   * key; a deployment bound by GDPR-style erasure requests turns it on.
   */
  personalData?: PersonalDataOptions;
}

/** Options of RedbAuditStore.open: the store's RedbOptions plus the audit options. */
export interface AuditStoreOptions extends RedbOptions, AuditOptions {}

/** The tenant that records the store's own operations (purge, backup, restore, key rotation). */
export const SYSTEM_TENANT = '__system';
