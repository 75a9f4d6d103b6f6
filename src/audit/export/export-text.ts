/**
 * The in-memory export: every item formatted into one string. For results too large to hold, use
 * the streaming writer (stream-writer.ts), which formats the same bytes in bounded memory.
 */
import type { ExportFormat } from '../types.js';
import { formatterFor, type ExportItem, type RecordSink } from './formats.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** All of `items` in `format`, as one string. */
export function exportToText(items: Iterable<ExportItem>, format: ExportFormat): string {
  const formatter = formatterFor(format);
  const parts: string[] = [];
  const sink: RecordSink = {
    text: (s) => parts.push(s),
    bytes: (b) => parts.push(decoder.decode(b)),
  };
  formatter.begin(sink);
  let count = 0;
  for (const item of items) formatter.record(item, count++, sink);
  formatter.end(count, sink);
  return parts.join('');
}
