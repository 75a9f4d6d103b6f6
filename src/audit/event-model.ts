/**
 * The event model: validation and normalisation of incoming events, the audit options and their
 * defaults, and createAuditEvent. A PreparedEvent carries everything insert needs (key parts and
 * the canonical JSON bytes that are stored), computed once while validating.
 *
 * Invariants: a prepared event's `json` is the RFC 8785 canonical JSON of the stored event, which
 * parses back to exactly the fields given (absent optional fields stay absent; nothing is added
 * inside actor, resource or details); indexed strings (actor.id, action, resource.type,
 * resource.id, category) contain no NUL and are well-formed UTF-16, so their key bytes are
 * unambiguous. Every failure is a ValidationError naming the field and the reason.
 */
import { ValidationError } from '../errors.js';
import { resolveIntegrityOptions, type ResolvedIntegrityOptions } from '../integrity/integrity-options.js';
import { resolvePersonalDataOptions } from '../integrity/personal-data.js';
import type { RedbOptions } from '../manager/options.js';
import { JsonWriter } from './canonical-json.js';
import { idBytes, idKeyOf, isSelfKeyed } from './keys.js';
import { newUlid } from './ulid.js';
import { OUTCOMES, SEVERITIES, SYSTEM_TENANT, type AuditEvent, type AuditEventInput, type AuditStoreOptions, type Outcome, type RetentionPolicy, type Severity } from './types.js';

/** The schema version the store writes. */
export const SCHEMA_VERSION = 1;
/** Longest caller-supplied id, in characters. */
export const MAX_ID_LENGTH = 128;
/** Latest timestamp accepted: the end of ECMAScript's Date range (year 275760). */
export const MAX_TIMESTAMP = 8.64e15;

/** Audit options with defaults applied. */
export interface AuditLimits {
  maxDetailsBytes: number;
  maxStringLength: number;
  maxBatch: number;
}

export interface ResolvedAuditOptions extends AuditLimits {
  retention: RetentionPolicy[];
  integrity: ResolvedIntegrityOptions;
  personalData: { enabled: boolean; fields: string[][] };
}

export const DEFAULT_LIMITS: AuditLimits = { maxDetailsBytes: 65536, maxStringLength: 1024, maxBatch: 100_000 };

const AUDIT_OPTION_NAMES = ['maxDetailsBytes', 'maxStringLength', 'maxBatch', 'retention', 'integrity', 'personalData'];

/** Splits store options into the manager's RedbOptions and the validated audit options. */
export function resolveAuditOptions(options: AuditStoreOptions | undefined): { redb: RedbOptions; audit: ResolvedAuditOptions } {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new ValidationError('store options must be an object');
  }
  const redb: Record<string, unknown> = {};
  const o = (options ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!AUDIT_OPTION_NAMES.includes(k) && o[k] !== undefined) redb[k] = o[k];
  // Every stored event is unique (its id is part of what is stored), so hashing values to share
  // them finds nothing to share, and each blob costs a block of its own (docs/performance.md,
  // "Deduplicated values").
  if (redb.dedupEnabled === undefined && redb.dedup === undefined) redb.dedupEnabled = false;
  const int = (name: string, min: number, max: number, dflt: number): number => {
    const v = o[name];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ValidationError(`option ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const audit: ResolvedAuditOptions = {
    maxDetailsBytes: int('maxDetailsBytes', 2, 16 * 1024 * 1024, DEFAULT_LIMITS.maxDetailsBytes),
    maxStringLength: int('maxStringLength', 1, 65536, DEFAULT_LIMITS.maxStringLength),
    maxBatch: int('maxBatch', 1, 10_000_000, DEFAULT_LIMITS.maxBatch),
    retention: checkRetention(o.retention),
    integrity: resolveIntegrityOptions(o.integrity),
    personalData: resolvePersonalDataOptions(o.personalData),
  };
  return { redb: redb as RedbOptions, audit };
}

/** Validates retention policies (option `retention`). */
export function checkRetention(v: unknown): RetentionPolicy[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ValidationError('option retention must be an array of { tenantId, category?, maxAgeDays }');
  const seen = new Set<string>();
  return v.map((p, i) => {
    const where = `retention[${i}]`;
    if (typeof p !== 'object' || p === null) throw new ValidationError(`${where} must be an object { tenantId, category?, maxAgeDays }`);
    const r = p as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!['tenantId', 'category', 'maxAgeDays'].includes(k)) throw new ValidationError(`${where}.${k} is not a retention option; use tenantId, category, maxAgeDays`);
    if (typeof r.tenantId !== 'string' || r.tenantId.length === 0) throw new ValidationError(`${where}.tenantId must be a non-empty string`);
    if (r.category !== undefined && (typeof r.category !== 'string' || r.category.length === 0)) throw new ValidationError(`${where}.category must be a non-empty string when given`);
    if (typeof r.maxAgeDays !== 'number' || !Number.isFinite(r.maxAgeDays) || r.maxAgeDays <= 0) {
      throw new ValidationError(`${where}.maxAgeDays must be a positive number of days, got ${JSON.stringify(r.maxAgeDays)}`);
    }
    const key = `${r.tenantId}\u0000${r.category ?? ''}`;
    if (seen.has(key)) throw new ValidationError(`${where} repeats the policy for tenant ${JSON.stringify(r.tenantId)}${r.category ? ` and category ${JSON.stringify(r.category)}` : ''}`);
    seen.add(key);
    const out: RetentionPolicy = { tenantId: r.tenantId, maxAgeDays: r.maxAgeDays };
    if (r.category !== undefined) out.category = r.category as string;
    return out;
  });
}

/** An event ready to store: its key parts, indexed values and canonical bytes. */
export interface PreparedEvent {
  id: string;
  /** The id's own bytes, independent of ts: its audit.ids key form (keys.ts idBytes). */
  idBytes: Buffer;
  /** The id's key at `ts`, as the events and index keys carry it (keys.ts idKeyOf). */
  idKey: Buffer;
  /**
   * True when the id is a ULID carrying the event's own timestamp: its events key then follows from
   * the id alone, so duplicates are found there and audit.ids needs no entry for it.
   */
  selfKeyed: boolean;
  /** True when the store generated the id just now: it cannot already exist, so no lookup is needed. */
  generated: boolean;
  ts: number;
  tenantId: string;
  actorId: string;
  action: string;
  resourceType: string;
  resourceId: string;
  outcome: Outcome;
  severity: Severity;
  category: string;
  /** Canonical JSON of the stored event (UTF-8). */
  json: Buffer;
}

const EVENT_FIELDS = new Set([
  'id', 'timestamp', 'tenantId', 'actor', 'action', 'resource', 'outcome', 'severity', 'category',
  'correlationId', 'sessionId', 'sourceIp', 'userAgent', 'details', 'schemaVersion',
]);

/** Converts a timestamp given as epoch ms, ISO-8601 string or Date to epoch ms, or throws. */
export function toEpochMs(v: unknown, field: string): number {
  let ms: number;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ValidationError(`${field} must be whole epoch milliseconds, got ${v}`);
    ms = v;
  } else if (typeof v === 'string') {
    ms = Date.parse(v);
    if (Number.isNaN(ms)) throw new ValidationError(`${field} ${JSON.stringify(v.slice(0, 64))} is not an ISO-8601 date-time`);
  } else if (v instanceof Date) {
    ms = v.getTime();
    if (Number.isNaN(ms)) throw new ValidationError(`${field} is an invalid Date`);
  } else {
    throw new ValidationError(`${field} must be epoch milliseconds, an ISO-8601 string or a Date, got ${describe(v)}`);
  }
  if (ms < 0 || ms > MAX_TIMESTAMP) throw new ValidationError(`${field} ${ms} is out of range: use a time from 1970-01-01 to year 275760`);
  return ms;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`;
  return `${typeof v} ${String(v)}`;
}

/** True when `s` has no unpaired surrogate (String.prototype.isWellFormed, Node 20+; typed for ES2024). */
function wellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/*
 * Field names for messages are passed as (where, name) and joined only when an error is thrown: the
 * valid path builds no strings it does not store.
 */
function str(v: unknown, where: string, name: string, max: number): string {
  if (typeof v !== 'string') throw new ValidationError(`${where}.${name} must be a string, got ${describe(v)}`);
  if (v.length === 0) throw new ValidationError(`${where}.${name} must not be empty`);
  if (v.length > max) throw new ValidationError(`${where}.${name} is ${v.length} characters long; the limit is ${max} (option maxStringLength)`);
  return v;
}

/** A string that becomes part of index keys: no NUL, well-formed UTF-16. */
function indexed(v: unknown, where: string, name: string, max: number): string {
  const s = str(v, where, name, max);
  if (s.indexOf('\u0000') >= 0) throw new ValidationError(`${where}.${name} contains a NUL character (U+0000), which indexed fields may not hold`);
  if (!wellFormed(s)) throw new ValidationError(`${where}.${name} contains an unpaired surrogate; indexed fields must be well-formed Unicode`);
  return s;
}

function optStrOrNull(v: unknown, where: string, name: string, max: number): string | null {
  if (v === null) return null;
  return str(v, where, name, max);
}

/** Appends a string or null. */
function nullable(w: JsonWriter, s: string | null): void {
  if (s === null) w.raw('null');
  else w.string(s);
}

/** Actor or resource appended to `w`: known fields checked, any other JSON field kept as given. */
function entity(w: JsonWriter, v: unknown, where: string, field: string, known: Record<string, 'indexed' | 'string' | 'nullable'>, order: readonly string[], limits: AuditLimits): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ValidationError(`${where}.${field} must be an object, got ${describe(v)}`);
  const o = v as Record<string, unknown>;
  let extra = false;
  for (const k in o) {
    if (known[k] === undefined && Object.prototype.hasOwnProperty.call(o, k)) {
      extra = true;
      break;
    }
  }
  // The usual case has only the known fields, whose sorted order is fixed: no sort needed.
  const keys = extra ? Object.keys(o).sort() : order;
  const names = field === 'actor' ? ACTOR_NAMES : RESOURCE_NAMES;
  const start = w.length;
  w.raw('{');
  let first = true;
  for (const k of keys) {
    const val = o[k];
    if (val === undefined) continue; // an optional field set to undefined is absent
    if (!first) w.raw(',');
    first = false;
    const kind = known[k];
    if (kind === undefined) {
      w.string(k);
      w.raw(':');
      w.value(val, `${where}.${field}`, k);
      continue;
    }
    w.raw(MEMBER_OPEN[k]!);
    if (kind === 'indexed') w.string(indexed(val, where, names[k]!, limits.maxStringLength));
    else if (kind === 'string') w.string(str(val, where, names[k]!, limits.maxStringLength));
    else nullable(w, optStrOrNull(val, where, names[k]!, limits.maxStringLength));
  }
  w.raw('}');
  if (w.length - start > limits.maxDetailsBytes) {
    throw new ValidationError(`${where}.${field} is larger than ${limits.maxDetailsBytes} bytes as JSON (option maxDetailsBytes)`);
  }
}

/** `"name":` of the known entity members. */
const MEMBER_OPEN: Record<string, string> = { id: '"id":', name: '"name":', type: '"type":' };
const ACTOR_FIELDS: Record<string, 'indexed' | 'string' | 'nullable'> = { id: 'indexed', type: 'string', name: 'nullable' };
const RESOURCE_FIELDS: Record<string, 'indexed' | 'string' | 'nullable'> = { type: 'indexed', id: 'indexed', name: 'string' };
const ENTITY_ORDER = ['id', 'name', 'type'] as const;
const ACTOR_NAMES: Record<string, string> = { id: 'actor.id', name: 'actor.name', type: 'actor.type' };
const RESOURCE_NAMES: Record<string, string> = { id: 'resource.id', name: 'resource.name', type: 'resource.type' };

const ACTION_BAD = /[\s*]/;

function checkAction(v: unknown, where: string, max: number): string {
  const a = indexed(v, where, 'action', max);
  if (a.startsWith('.') || a.endsWith('.') || a.includes('..') || ACTION_BAD.test(a)) {
    throw new ValidationError(`${where}.action ${JSON.stringify(a)} must be dotted words such as "record.update": non-empty segments separated by ".", without spaces or "*"`);
  }
  return a;
}

/** Where prepareEvent writes an event's JSON (synchronous: copied out before it returns). */
const writer = new JsonWriter();

/**
 * Validates and normalises one event. `where` prefixes field names in errors (such as "event 3");
 * `allowSystem` lets the store itself write into the reserved system tenant.
 */
export function prepareEvent(input: unknown, limits: AuditLimits, where: string, allowSystem = false): PreparedEvent {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ValidationError(`${where} must be an object, got ${describe(input)}`);
  const e = input as Record<string, unknown>;
  for (const k in e) {
    if (!EVENT_FIELDS.has(k) && e[k] !== undefined) {
      throw new ValidationError(`${where}: unknown field ${JSON.stringify(k)}; the fields are ${[...EVENT_FIELDS].join(', ')}`);
    }
  }
  const max = limits.maxStringLength;
  const tenantId = str(e.tenantId, where, 'tenantId', max);
  if (tenantId === SYSTEM_TENANT && !allowSystem) {
    throw new ValidationError(`${where}.tenantId ${JSON.stringify(SYSTEM_TENANT)} is reserved for the store's own operations; use another tenant id`);
  }
  if (!wellFormed(tenantId)) throw new ValidationError(`${where}.tenantId contains an unpaired surrogate; use well-formed Unicode`);
  const t = e.timestamp;
  // Epoch ms in range is the usual form: checked here, without building the field's name.
  const ts = t === undefined ? Date.now() : typeof t === 'number' && Number.isInteger(t) && t >= 0 && t <= MAX_TIMESTAMP ? t : toEpochMs(t, `${where}.timestamp`);
  let id: string;
  const generated = e.id === undefined;
  if (generated) id = newUlid(ts);
  else {
    id = str(e.id, where, 'id', MAX_ID_LENGTH);
    if (!wellFormed(id)) throw new ValidationError(`${where}.id contains an unpaired surrogate; use well-formed Unicode`);
  }
  const action = checkAction(e.action, where, max);
  let outcome: Outcome = 'unknown';
  if (e.outcome !== undefined) {
    if (!OUTCOMES.includes(e.outcome as Outcome)) throw new ValidationError(`${where}.outcome must be one of ${OUTCOMES.join(', ')}, got ${describe(e.outcome)}`);
    outcome = e.outcome as Outcome;
  }
  let severity: Severity = 'info';
  if (e.severity !== undefined) {
    if (!SEVERITIES.includes(e.severity as Severity)) throw new ValidationError(`${where}.severity must be one of ${SEVERITIES.join(', ')}, got ${describe(e.severity)}`);
    severity = e.severity as Severity;
  }
  const dot = action.indexOf('.');
  const category = e.category === undefined ? (dot < 0 ? action : action.slice(0, dot)) : indexed(e.category, where, 'category', max);
  if (e.schemaVersion !== undefined && e.schemaVersion !== SCHEMA_VERSION) {
    throw new ValidationError(`${where}.schemaVersion must be ${SCHEMA_VERSION} (the version this store writes), got ${describe(e.schemaVersion)}`);
  }
  // Members in JCS order: action, actor, category, correlationId, details, id, outcome, resource,
  // schemaVersion, sessionId, severity, sourceIp, tenantId, timestamp, userAgent.
  const w = writer;
  w.reset();
  w.raw('{"action":');
  w.string(action);
  w.raw(',"actor":');
  entity(w, e.actor, where, 'actor', ACTOR_FIELDS, ENTITY_ORDER, limits);
  const actorId = (e.actor as Record<string, unknown>).id;
  if (actorId === undefined) throw new ValidationError(`${where}.actor.id is required`);
  w.raw(',"category":');
  w.string(category);
  if (e.correlationId !== undefined) {
    w.raw(',"correlationId":');
    w.string(str(e.correlationId, where, 'correlationId', max));
  }
  if (e.details !== undefined) {
    const d = e.details;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new ValidationError(`${where}.details must be a JSON object, got ${describe(d)}`);
    w.raw(',"details":');
    const at = w.length;
    w.value(d, where, 'details');
    if (w.length - at > limits.maxDetailsBytes) {
      throw new ValidationError(`${where}.details is ${w.length - at} bytes as JSON; the limit is ${limits.maxDetailsBytes} (option maxDetailsBytes)`);
    }
  }
  w.raw(',"id":');
  w.string(id);
  w.raw(',"outcome":"');
  w.raw(outcome);
  w.raw('","resource":');
  entity(w, e.resource, where, 'resource', RESOURCE_FIELDS, ENTITY_ORDER, limits);
  const res = e.resource as Record<string, unknown>;
  if (res.type === undefined) throw new ValidationError(`${where}.resource.type is required`);
  if (res.id === undefined) throw new ValidationError(`${where}.resource.id is required`);
  w.raw(',"schemaVersion":');
  w.digits(SCHEMA_VERSION);
  if (e.sessionId !== undefined) {
    w.raw(',"sessionId":');
    w.string(str(e.sessionId, where, 'sessionId', max));
  }
  w.raw(',"severity":"');
  w.raw(severity);
  w.raw('"');
  if (e.sourceIp !== undefined) {
    w.raw(',"sourceIp":');
    nullable(w, optStrOrNull(e.sourceIp, where, 'sourceIp', max));
  }
  w.raw(',"tenantId":');
  w.string(tenantId);
  w.raw(',"timestamp":');
  w.digits(ts);
  if (e.userAgent !== undefined) {
    w.raw(',"userAgent":');
    nullable(w, optStrOrNull(e.userAgent, where, 'userAgent', max));
  }
  w.raw('}');
  const json = w.copy();
  const ib = idBytes(id);
  const idKey = idKeyOf(ib, ts);
  return {
    id,
    idBytes: ib,
    idKey,
    selfKeyed: isSelfKeyed(idKey),
    generated,
    ts,
    tenantId,
    actorId: actorId as string,
    action,
    resourceType: res.type as string,
    resourceId: res.id as string,
    outcome,
    severity,
    category,
    json,
  };
}

/** Decodes a stored event. */
export function decodeEvent(json: Uint8Array): AuditEvent {
  return decodeEventText(Buffer.isBuffer(json) ? json.toString('utf8') : Buffer.from(json.buffer, json.byteOffset, json.length).toString('utf8'));
}

/** The event whose canonical JSON is the text `json`. */
export function decodeEventText(json: string): AuditEvent {
  return JSON.parse(json) as AuditEvent;
}

/**
 * Builds a valid event from `fields`: assigns `id` (a ULID) and `timestamp` (now) when absent, sets
 * `schemaVersion`, applies the defaults (severity 'info', outcome 'unknown', category = the
 * action's first segment) and validates everything, throwing ValidationError as insertEvent would.
 * The result reads back identically after insertion.
 */
export function createAuditEvent(fields: AuditEventInput): AuditEvent {
  return decodeEvent(prepareEvent(fields, DEFAULT_LIMITS, 'event').json);
}
