/**
 * The export layer's entry points. The store hands over the matching rows in the query's order
 * (each row gives its stored canonical JSON bytes and, decoded once, its event); checkExport,
 * exportToString and exportToWritable are what RedbAuditStore.exportEvents / exportEventsTo call.
 * Each format is one file (csv.ts, cef.ts, ocsf.ts; json and ndjson in formats.ts), the in-memory
 * export is export-text.ts and the streaming writer stream-writer.ts.
 */
import type { Writable } from 'node:stream';
import { ValidationError } from '../../errors.js';
import type { ExportFormat, ExportOptions, ExportReport } from '../types.js';
import { exportToText } from './export-text.js';
import { formatterFor, type ExportRow } from './formats.js';
import { exportToStream } from './stream-writer.js';

export { exportToText } from './export-text.js';
export { exportToStream, EXPORT_CHUNK_BYTES, type StreamExportOptions } from './stream-writer.js';
export { EXPORT_FORMATS, formatterFor, toEvent, type ExportItem, type ExportRow } from './formats.js';
export { CSV_COLUMNS, csvField, csvHeader, csvRow } from './csv.js';
export { cefLine, cefHeaderEscape, cefExtensionEscape, CEF_SEVERITY } from './cef.js';
export { toOcsf, ocsfLine, ocsfActivityId, OCSF_VERSION, OCSF_CLASS_UID } from './ocsf.js';

/** Checks the format and options before anything is read. */
export function checkExport(format: unknown, options: unknown): ExportFormat {
  formatterFor(format);
  if (options !== undefined) {
    if (typeof options !== 'object' || options === null) throw new ValidationError('export options must be an object');
    for (const k of Object.keys(options)) if (k !== 'withProofs') throw new ValidationError(`unknown export option ${JSON.stringify(k)}; the only one is withProofs`);
    if ((options as ExportOptions).withProofs) throw new ValidationError('withProofs needs the integrity layer, which this build does not include');
  }
  return format as ExportFormat;
}

/** The whole export as one string. */
export function exportToString(rows: Iterable<ExportRow>, format: ExportFormat, options?: ExportOptions): string {
  checkExport(format, options);
  return exportToText(rows, format);
}

/** Streams the export into `writable`, honouring back-pressure; the writable is left open (not ended). */
export function exportToWritable(rows: Iterable<ExportRow>, format: ExportFormat, writable: Writable, options?: ExportOptions): Promise<ExportReport> {
  checkExport(format, options);
  return exportToStream(rows, format, writable, { end: false });
}
