/**
 * CSV export of audit events (RFC 4180): one header row, then one row per event, each line ended by
 * CRLF. Nested fields are flattened to dotted column names (`actor.id`, `resource.type`); `details`
 * is one column holding the object as JSON text; `timestamp` is ISO-8601 UTC with milliseconds.
 *
 * Invariants: every row has exactly CSV_COLUMNS.length fields in CSV_COLUMNS order; a field that
 * contains a comma, a double quote, CR or LF is enclosed in double quotes with each inner quote
 * doubled, so any RFC 4180 parser reads back the exact string; an absent or null field is empty.
 * Values are never rewritten (no formula neutralisation): see docs/audit-export.md.
 */
import type { AuditEvent } from '../types.js';

/** The columns, in order. */
export const CSV_COLUMNS = [
  'id',
  'timestamp',
  'tenantId',
  'actor.id',
  'actor.type',
  'actor.name',
  'action',
  'resource.type',
  'resource.id',
  'resource.name',
  'outcome',
  'severity',
  'category',
  'correlationId',
  'sessionId',
  'sourceIp',
  'userAgent',
  'schemaVersion',
  'erased',
  'details',
] as const;

const NEEDS_QUOTES = /[",\r\n]/;

/** One CSV field: quoted only when RFC 4180 requires it. */
export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function text(value: string | number | boolean | null | undefined): string {
  return value === undefined || value === null ? '' : csvField(String(value));
}

/** The header row, CRLF included. */
export function csvHeader(): string {
  return CSV_COLUMNS.join(',') + '\r\n';
}

/** One event as a CSV row, CRLF included. */
export function csvRow(e: AuditEvent): string {
  return (
    text(e.id) + ',' +
    text(new Date(e.timestamp).toISOString()) + ',' +
    text(e.tenantId) + ',' +
    text(e.actor.id) + ',' +
    text(e.actor.type) + ',' +
    text(e.actor.name) + ',' +
    text(e.action) + ',' +
    text(e.resource.type) + ',' +
    text(e.resource.id) + ',' +
    text(e.resource.name) + ',' +
    text(e.outcome) + ',' +
    text(e.severity) + ',' +
    text(e.category) + ',' +
    text(e.correlationId) + ',' +
    text(e.sessionId) + ',' +
    text(e.sourceIp) + ',' +
    text(e.userAgent) + ',' +
    text(e.schemaVersion) + ',' +
    text(e.erased) + ',' +
    (e.details === undefined ? '' : csvField(JSON.stringify(e.details))) +
    '\r\n'
  );
}
