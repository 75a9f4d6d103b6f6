/**
 * The export layer's entry points for the store: the in-memory and streaming exports, and the
 * per-format record functions (useful on their own, for example to format events a caller already
 * holds). Formats are one file each: csv.ts, cef.ts, ocsf.ts; json and ndjson live in formats.ts.
 */
export { exportToText } from './export-text.js';
export { exportToStream, EXPORT_CHUNK_BYTES, type StreamExportOptions } from './stream-writer.js';
export { EXPORT_FORMATS, formatterFor, toEvent, type ExportItem } from './formats.js';
export { CSV_COLUMNS, csvField, csvHeader, csvRow } from './csv.js';
export { cefLine, cefHeaderEscape, cefExtensionEscape, CEF_SEVERITY } from './cef.js';
export { toOcsf, ocsfLine, ocsfActivityId, OCSF_VERSION, OCSF_CLASS_UID } from './ocsf.js';
