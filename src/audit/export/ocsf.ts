/**
 * OCSF export: each event as one OCSF 1.6.0 "API Activity" event (class_uid 6003, category 6
 * "Application Activity"), one JSON object per line. The mapping is documented field by field in
 * docs/audit-export.md.
 *
 * Invariants: every record carries the class's required attributes (activity_id, actor, api,
 * category_uid, class_uid, metadata with product and version, severity_id, src_endpoint, time,
 * type_uid = class_uid * 100 + activity_id); every field of the source event appears somewhere in
 * the record (the ones OCSF has no attribute for go under `unmapped`), so nothing is lost; absent or
 * null source fields are left out rather than written as null.
 */
import type { AuditEvent, JsonValue, Outcome, Severity } from '../types.js';
import { CEF_DEVICE_VERSION } from './cef.js';

export const OCSF_VERSION = '1.6.0';
export const OCSF_CLASS_UID = 6003;
export const OCSF_CATEGORY_UID = 6;

/** API Activity's activity ids. */
const ACTIVITY = { unknown: 0, create: 1, read: 2, update: 3, delete: 4, other: 99 } as const;
const ACTIVITY_NAMES: Record<number, string> = { 0: 'Unknown', 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' };

/** The verb (an action's last dotted segment) that decides the activity. */
const VERBS: Record<string, number> = {};
for (const v of ['create', 'add', 'insert', 'register', 'upload', 'import', 'invite', 'grant', 'issue', 'provision']) VERBS[v] = ACTIVITY.create;
for (const v of ['read', 'get', 'list', 'view', 'query', 'search', 'export', 'download', 'describe', 'fetch', 'access']) VERBS[v] = ACTIVITY.read;
for (const v of ['update', 'modify', 'edit', 'patch', 'set', 'change', 'rename', 'rotate', 'enable', 'disable', 'assign']) VERBS[v] = ACTIVITY.update;
for (const v of ['delete', 'remove', 'purge', 'erase', 'destroy', 'revoke', 'deprovision']) VERBS[v] = ACTIVITY.delete;

const SEVERITY_IDS: Readonly<Record<Severity, [number, string]>> = {
  info: [1, 'Informational'],
  low: [2, 'Low'],
  medium: [3, 'Medium'],
  high: [4, 'High'],
  critical: [5, 'Critical'],
  fatal: [6, 'Fatal'],
};

const STATUS: Readonly<Record<Outcome, [number, string]>> = {
  success: [1, 'Success'],
  failure: [2, 'Failure'],
  denied: [2, 'Failure'],
  unknown: [0, 'Unknown'],
};

/** The activity id of an action: from its last segment's verb, 99 (Other) when it names none. */
export function ocsfActivityId(action: string): number {
  const verb = action.slice(action.lastIndexOf('.') + 1).toLowerCase();
  return Object.hasOwn(VERBS, verb) ? VERBS[verb]! : ACTIVITY.other;
}

type Json = { [key: string]: JsonValue };

/** One event as an OCSF API Activity record. */
export function toOcsf(e: AuditEvent): Json {
  const activityId = ocsfActivityId(e.action);
  const [severityId, severityName] = SEVERITY_IDS[e.severity] ?? [0, 'Unknown'];
  const [statusId, statusName] = STATUS[e.outcome] ?? [0, 'Unknown'];

  const user: Json = { uid: e.actor.id };
  if (e.actor.name !== undefined && e.actor.name !== null) user.name = e.actor.name;
  if (e.actor.type !== undefined) user.type = e.actor.type;
  const actor: Json = { user };
  if (e.sessionId !== undefined) actor.session = { uid: e.sessionId };

  const metadata: Json = {
    version: OCSF_VERSION,
    product: { name: 'redb-audit', vendor_name: 'redb-audit', version: CEF_DEVICE_VERSION },
    uid: e.id,
    event_code: e.action,
    tenant_uid: e.tenantId,
    log_name: e.category,
  };
  if (e.correlationId !== undefined) metadata.correlation_uid = e.correlationId;

  const resource: Json = { uid: e.resource.id, type: e.resource.type };
  if (e.resource.name !== undefined) resource.name = e.resource.name;

  const srcEndpoint: Json = {};
  if (e.sourceIp !== undefined && e.sourceIp !== null) srcEndpoint.ip = e.sourceIp;

  const unmapped: Json = { outcome: e.outcome, severity: e.severity, category: e.category, schemaVersion: e.schemaVersion };
  if (e.details !== undefined) unmapped.details = e.details;
  if (e.erased) unmapped.erased = true;

  const record: Json = {
    class_uid: OCSF_CLASS_UID,
    class_name: 'API Activity',
    category_uid: OCSF_CATEGORY_UID,
    category_name: 'Application Activity',
    activity_id: activityId,
    activity_name: ACTIVITY_NAMES[activityId]!,
    type_uid: OCSF_CLASS_UID * 100 + activityId,
    type_name: `API Activity: ${ACTIVITY_NAMES[activityId]}`,
    time: e.timestamp,
    severity_id: severityId,
    severity: severityName,
    status_id: statusId,
    status: statusName,
    metadata,
    actor,
    api: { operation: e.action },
    resources: [resource],
    src_endpoint: srcEndpoint,
    unmapped,
  };
  if (e.outcome === 'denied') record.status_detail = 'denied';
  if (e.userAgent !== undefined && e.userAgent !== null) record.http_request = { user_agent: e.userAgent };
  return record;
}

/** One event as an OCSF NDJSON line, LF included. */
export function ocsfLine(e: AuditEvent): string {
  return JSON.stringify(toOcsf(e)) + '\n';
}
