/**
 * The in-memory export: every item formatted into one string. For results too large to hold, use
 * the streaming writer (stream-writer.ts), which formats the same bytes in bounded memory.
 *
 * Stored bytes (ndjson, json) are joined once and decoded once rather than decoded piece by piece;
 * text-only output (csv, ocsf, cef) is joined as strings.
 */
import type { ExportFormat } from '../types.js';
import { formatterFor, type ExportItem, type RecordSink } from './formats.js';

/** All of `items` in `format`, as one string. */
export function exportToText(items: Iterable<ExportItem>, format: ExportFormat): string {
  const formatter = formatterFor(format);
  const parts: (string | Uint8Array)[] = [];
  let sawBytes = false;
  const sink: RecordSink = {
    text: (s) => parts.push(s),
    bytes: (b) => {
      sawBytes = true;
      parts.push(b);
    },
  };
  formatter.begin(sink);
  let count = 0;
  for (const item of items) formatter.record(item, count++, sink);
  formatter.end(count, sink);
  if (!sawBytes) return (parts as string[]).join('');
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p))).toString('utf8');
}
