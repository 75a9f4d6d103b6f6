/**
 * CEF (ArcSight Common Event Format, version 0) export: one line per event,
 * `CEF:0|redb-audit|redb-audit|<version>|<action>|<action>|<severity>|<extension>`, ended by LF.
 *
 * Invariants: in header fields every `\` becomes `\\` and every `|` becomes `\|`; in extension
 * values every `\` becomes `\\` and every `=` becomes `\=`; in both, CR and LF become the two
 * characters `\r` and `\n`, so one event is always exactly one line. Extension keys are CEF's
 * standard dictionary names (plus labelled custom strings); the mapping is documented field by field
 * in docs/audit-export.md. Absent or null fields are left out, never written empty.
 */
import type { AuditEvent, Severity } from '../types.js';

/** Device Vendor and Device Product of the header. */
export const CEF_VENDOR = 'redb-audit';
export const CEF_PRODUCT = 'redb-audit';
/** Device Version of the header: the version of the library that wrote the export. */
export const CEF_DEVICE_VERSION = '0.1.0';

/** CEF severity (0 lowest to 10 highest) of each event severity. */
export const CEF_SEVERITY: Readonly<Record<Severity, number>> = { info: 1, low: 3, medium: 5, high: 7, critical: 9, fatal: 10 };

/** Escapes a header field: backslash and pipe, and line breaks as `\r` / `\n`. */
export function cefHeaderEscape(value: string): string {
  return value.replace(/[\\|\r\n]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : `\\${c}`));
}

/** Escapes an extension value: backslash and equals sign, and line breaks as `\r` / `\n`. */
export function cefExtensionEscape(value: string): string {
  return value.replace(/[\\=\r\n]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : `\\${c}`));
}

/** One event as a CEF line, LF included. */
export function cefLine(e: AuditEvent): string {
  const ext: string[] = [];
  const add = (key: string, value: string | number | null | undefined): void => {
    if (value !== undefined && value !== null) ext.push(`${key}=${cefExtensionEscape(String(value))}`);
  };
  const custom = (key: string, label: string, value: string | null | undefined): void => {
    if (value === undefined || value === null) return;
    add(key, value);
    add(`${key}Label`, label);
  };
  add('rt', e.timestamp);
  add('externalId', e.id);
  add('act', e.action);
  add('cat', e.category);
  add('outcome', e.outcome);
  add('suid', e.actor.id);
  add('suser', e.actor.name);
  add('src', e.sourceIp);
  add('requestClientApplication', e.userAgent);
  custom('cs1', 'tenantId', e.tenantId);
  custom('cs2', 'resourceType', e.resource.type);
  custom('cs3', 'resourceId', e.resource.id);
  custom('cs4', 'resourceName', e.resource.name);
  custom('cs5', 'correlationId', e.correlationId);
  custom('cs6', 'sessionId', e.sessionId);
  custom('flexString1', 'actorType', e.actor.type);
  custom('flexString2', 'erased', e.erased ? 'true' : undefined);
  if (e.schemaVersion !== undefined) {
    add('cn1', e.schemaVersion);
    add('cn1Label', 'schemaVersion');
  }
  if (e.details !== undefined) add('msg', JSON.stringify(e.details));
  const header = [
    'CEF:0',
    cefHeaderEscape(CEF_VENDOR),
    cefHeaderEscape(CEF_PRODUCT),
    cefHeaderEscape(CEF_DEVICE_VERSION),
    cefHeaderEscape(e.action),
    cefHeaderEscape(e.action),
    String(CEF_SEVERITY[e.severity] ?? 0),
  ].join('|');
  return `${header}|${ext.join(' ')}\n`;
}
