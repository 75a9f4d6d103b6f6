/**
 * The export formats as one interface: each formatter writes an optional preamble, one record per
 * event and an optional ending into a RecordSink, so the in-memory export (export-text.ts) and the
 * streaming one (stream-writer.ts) share every byte of formatting.
 *
 * Items are stored events' canonical JSON bytes (RFC 8785; one event = one JSON object), decoded
 * AuditEvents, or the store's rows, which offer both. `ndjson` and `json` copy stored bytes through untouched (no decode, no
 * re-encode), which is why they take bytes; the other formats decode each event once.
 *
 * Invariant: for a given sequence of events every formatter writes the same output whether it is
 * handed bytes or the events those bytes decode to (up to JSON member order, which canonical bytes
 * fix and JSON.stringify of a decoded event follows).
 */
import { ValidationError } from '../../errors.js';
import type { AuditEvent, ExportFormat } from '../types.js';
import { cefLine } from './cef.js';
import { csvHeader, csvRow } from './csv.js';
import { ocsfLine } from './ocsf.js';

/** A query result row as the store hands it over: its stored bytes, and its event decoded once. */
export interface ExportRow {
  bytes(): Uint8Array;
  event(): AuditEvent;
}

/** What the exporters read: a stored event's canonical JSON bytes, a decoded event, or a row. */
export type ExportItem = Uint8Array | AuditEvent | ExportRow;

function isRow(item: ExportItem): item is ExportRow {
  return typeof (item as Partial<ExportRow>).bytes === 'function';
}

/** Where a formatter writes. Text is UTF-8 encoded by the sink. */
export interface RecordSink {
  text(s: string): void;
  bytes(b: Uint8Array): void;
}

export interface Formatter {
  begin(sink: RecordSink): void;
  /** `index` counts records from 0. */
  record(item: ExportItem, index: number, sink: RecordSink): void;
  end(count: number, sink: RecordSink): void;
}

export const EXPORT_FORMATS: readonly ExportFormat[] = ['json', 'ndjson', 'csv', 'ocsf', 'cef'];

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The event an item stands for. */
export function toEvent(item: ExportItem): AuditEvent {
  if (item instanceof Uint8Array) return JSON.parse(decoder.decode(item)) as AuditEvent;
  return isRow(item) ? item.event() : item;
}

function emitJson(item: ExportItem, sink: RecordSink): void {
  if (item instanceof Uint8Array) sink.bytes(item);
  else if (isRow(item)) sink.bytes(item.bytes());
  else sink.text(JSON.stringify(item));
}

const nothing = (): void => undefined;

/** One formatter per line of an event. */
function perLine(line: (e: AuditEvent) => string, begin: (sink: RecordSink) => void = nothing): Formatter {
  return { begin, record: (item, _i, sink) => sink.text(line(toEvent(item))), end: nothing };
}

const FORMATTERS: Readonly<Record<ExportFormat, Formatter>> = {
  ndjson: {
    begin: nothing,
    record(item, _i, sink) {
      emitJson(item, sink);
      sink.text('\n');
    },
    end: nothing,
  },
  json: {
    begin: (sink) => sink.text('['),
    record(item, index, sink) {
      sink.text(index === 0 ? '\n' : ',\n');
      emitJson(item, sink);
    },
    end: (count, sink) => sink.text(count === 0 ? ']\n' : '\n]\n'),
  },
  csv: perLine(csvRow, (sink) => sink.text(csvHeader())),
  ocsf: perLine(ocsfLine),
  cef: perLine(cefLine),
};

/** The formatter of `format`, or a ValidationError naming the formats there are. */
export function formatterFor(format: unknown): Formatter {
  if (typeof format !== 'string' || !Object.hasOwn(FORMATTERS, format)) {
    throw new ValidationError(`export format ${JSON.stringify(format)} is not supported; use one of ${EXPORT_FORMATS.join(', ')}`);
  }
  return FORMATTERS[format as ExportFormat];
}
