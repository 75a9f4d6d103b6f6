/**
 * Export of query results. The store hands over the matching rows in the query's order; each row
 * gives its stored canonical JSON bytes (`bytes()`) and, decoded once, the event (`event()`).
 * ndjson copies the stored bytes as they are (one event per line, no decode or re-encode); json
 * writes one array of the same objects. Streaming export writes in chunks and waits for the
 * writable to drain, so memory stays bounded whatever the result size.
 */
import type { Writable } from 'node:stream';
import { ValidationError } from '../../errors.js';
import type { AuditEvent, ExportFormat, ExportOptions, ExportReport } from '../types.js';

/** What the exporters need of a result row. */
export interface ExportRow {
  bytes(): Buffer;
  event(): AuditEvent;
}

/** Formats this module writes. */
export const EXPORT_FORMATS: readonly ExportFormat[] = ['json', 'ndjson'];

const CHUNK = 64 * 1024;
const NEWLINE = Buffer.from('\n');
const COMMA = Buffer.from(',');

/** Checks the format and options before anything is read. */
export function checkExport(format: unknown, options: unknown): ExportFormat {
  if (!EXPORT_FORMATS.includes(format as ExportFormat)) {
    throw new ValidationError(`export format ${JSON.stringify(format)} is not supported; use one of ${EXPORT_FORMATS.join(', ')}`);
  }
  if (options !== undefined) {
    if (typeof options !== 'object' || options === null) throw new ValidationError('export options must be an object');
    for (const k of Object.keys(options)) if (k !== 'withProofs') throw new ValidationError(`unknown export option ${JSON.stringify(k)}`);
    if ((options as ExportOptions).withProofs) throw new ValidationError('withProofs needs the integrity layer, which this build does not include');
  }
  return format as ExportFormat;
}

const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']\n');

/** Pieces of the export in order: prologue, one per row and separator, epilogue. */
function* pieces(rows: Iterable<ExportRow>, format: ExportFormat): Generator<Buffer> {
  if (format === 'ndjson') {
    for (const r of rows) {
      yield r.bytes();
      yield NEWLINE;
    }
    return;
  }
  yield OPEN;
  let first = true;
  for (const r of rows) {
    if (!first) yield COMMA;
    first = false;
    yield r.bytes();
  }
  yield CLOSE;
}

/** The whole export as one string: the stored bytes joined once and decoded once. */
export function exportToString(rows: Iterable<ExportRow>, format: ExportFormat, options?: ExportOptions): string {
  checkExport(format, options);
  const parts: Buffer[] = [];
  if (format === 'ndjson') {
    for (const r of rows) parts.push(r.bytes(), NEWLINE);
    return Buffer.concat(parts).toString('utf8');
  }
  parts.push(OPEN);
  for (const r of rows) {
    if (parts.length > 1) parts.push(COMMA);
    parts.push(r.bytes());
  }
  parts.push(CLOSE);
  return Buffer.concat(parts).toString('utf8');
}

/** Streams the export into `writable` (not ended), honouring back-pressure. */
export async function exportToWritable(rows: Iterable<ExportRow>, format: ExportFormat, writable: Writable, options?: ExportOptions): Promise<ExportReport> {
  checkExport(format, options);
  let events = 0;
  let bytes = 0;
  let buf: Buffer[] = [];
  let pending = 0;
  const flush = async (): Promise<void> => {
    if (buf.length === 0) return;
    const chunk = Buffer.concat(buf, pending);
    buf = [];
    pending = 0;
    bytes += chunk.length;
    if (!writable.write(chunk)) await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        writable.off('error', onError);
        resolve();
      };
      const onError = (err: Error): void => {
        writable.off('drain', onDrain);
        reject(err);
      };
      writable.once('drain', onDrain);
      writable.once('error', onError);
    });
  };
  for (const p of pieces(countRows(rows, () => events++), format)) {
    buf.push(p);
    pending += p.length;
    if (pending >= CHUNK) await flush();
  }
  await flush();
  return { format, events, bytes };
}

function* countRows(rows: Iterable<ExportRow>, onRow: () => void): Generator<ExportRow> {
  for (const r of rows) {
    onRow();
    yield r;
  }
}
