/**
 * `redb-audit ingest <file.ndjson | ->`: loads NDJSON audit events (the AuditStore event model, one
 * per line) from a file or stdin, in batches, each batch one atomic insert.
 *
 * Rejected lines (not JSON, or not a valid event) are reported with their line numbers and the
 * reason. --on-error stop (the default) stops at the first one: every line before it is committed,
 * nothing from it on is. --on-error skip commits every valid line and reports the rest. Either way
 * the exit code is 1 when any line was rejected. A batch is never written in part: the store
 * validates a whole batch before writing any of it, and the lines it refuses are found and taken
 * out before the batch is retried.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { NotFoundError, ValidationError } from '../../errors.js';
import type { RedbAuditStore } from '../../audit/audit-store.js';
import { prepareEvent } from '../../audit/event-model.js';
import type { AuditEventInput } from '../../audit/types.js';
import { choiceArg, intArg } from '../args.js';
import { verbAction, type CliContext } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { ndjsonLines } from '../ndjson-lines.js';
import { startProgress } from '../progress.js';
import { ms } from '../render.js';

interface IngestOptions {
  batchSize: number;
  onError: 'stop' | 'skip';
}

/** A line the store did not take. */
export interface RejectedLine {
  line: number;
  error: string;
}

/** What `ingest --json` prints. */
export interface IngestReport {
  source: string;
  /** Events written (new ids). */
  inserted: number;
  /** Events whose id the tenant already held: nothing written for them. */
  duplicates: number;
  batches: number;
  rejected: RejectedLine[];
  /** With --on-error stop and a rejected line: that line; nothing from it on was written. */
  stoppedAtLine: number | null;
  lines: number;
  durationMs: number;
  eventsPerSecond: number;
}

export function register(program: Command): void {
  program
    .command('ingest <source>')
    .description('load NDJSON audit events from a file, or - for stdin, in atomic batches (takes the writer lock)')
    .option('--batch-size <N>', 'events per atomic batch', intArg(1, 100_000), 5000)
    .option('--on-error <mode>', 'stop: stop at the first rejected line (all before it is committed); skip: commit every valid line', choiceArg(['stop', 'skip'] as const), 'stop')
    .addHelpText(
      'after',
      '\nExamples:\n  $ redb-audit ingest fixtures/sample-events.ndjson --dir ./audit\n  $ tail -n +1 events.ndjson | redb-audit ingest - --on-error skip --json --dir ./audit\n\n' +
        'Each line is one event: {"tenantId":"acme","actor":{"id":"alice"},"action":"record.read","resource":{"type":"record","id":"r1"},"outcome":"success"}\n' +
        'Exit 1 when any line was rejected; the report names each one by line number.',
    )
    .action(verbAction((ctx, source: string, opts: IngestOptions) => ingest(ctx, source, opts)));
}

interface Pending {
  line: number;
  event: AuditEventInput;
}

/** Ingests `source` into an open store; shared by the verb and the demo. */
export async function ingestInto(ctx: CliContext, store: RedbAuditStore, source: string, opts: IngestOptions): Promise<IngestReport> {
  const stdin = source === '-';
  const file = stdin ? '-' : path.resolve(source);
  if (!stdin && !fs.existsSync(file)) throw new NotFoundError(`${file} does not exist; name an NDJSON file of events, or - to read stdin`);
  const total = stdin ? null : fs.statSync(file).size;
  const input = stdin ? process.stdin : fs.createReadStream(file, { highWaterMark: 1 << 20 });
  const started = performance.now();
  const report: IngestReport = { source: file, inserted: 0, duplicates: 0, batches: 0, rejected: [], stoppedAtLine: null, lines: 0, durationMs: 0, eventsPerSecond: 0 };
  const progress = startProgress(ctx, 'ingest', 'events', total);
  let batch: Pending[] = [];
  let position = 0;

  const commit = (items: Pending[]): void => {
    if (items.length === 0) return;
    const r = store.insertEvents(items.map((p) => p.event));
    report.inserted += r.inserted;
    report.duplicates += r.duplicates;
    report.batches++;
  };
  /** Writes a batch; on a validation error finds the refused lines. Returns false to stop. */
  const flush = (): boolean => {
    const items = batch;
    batch = [];
    try {
      commit(items);
      return true;
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
    }
    // The batch was refused as a whole and nothing of it written: find the lines it refused.
    const good: Pending[] = [];
    for (const p of items) {
      try {
        prepareEvent(p.event, store.options, `line ${p.line}`);
        good.push(p);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        report.rejected.push({ line: p.line, error: err.message });
        if (opts.onError === 'stop') {
          commit(good);
          report.stoppedAtLine = p.line;
          return false;
        }
      }
    }
    commit(good);
    return true;
  };

  /** A line that is not an event at all. Returns true when ingest must stop here. */
  const reject = (line: number, error: string): boolean => {
    if (opts.onError === 'skip') {
      report.rejected.push({ line, error });
      return false;
    }
    // Stop: commit the lines before this one first (unless one of them is refused: then stop there).
    if (flush()) {
      report.rejected.push({ line, error });
      report.stoppedAtLine = line;
    }
    return true;
  };

  try {
    let stopped = false;
    for await (const l of ndjsonLines(input)) {
      report.lines = l.no;
      position = l.bytes;
      let event: unknown;
      try {
        event = JSON.parse(l.text);
      } catch (err) {
        if (reject(l.no, `line ${l.no} is not valid JSON: ${(err as Error).message}`)) {
          stopped = true;
          break;
        }
        continue;
      }
      if (typeof event !== 'object' || event === null || Array.isArray(event)) {
        if (reject(l.no, `line ${l.no} must be one JSON object (an event), got ${Array.isArray(event) ? 'an array' : typeof event}`)) {
          stopped = true;
          break;
        }
        continue;
      }
      batch.push({ line: l.no, event: event as AuditEventInput });
      if (batch.length >= opts.batchSize) {
        if (!flush()) {
          stopped = true;
          break;
        }
        progress.update(position, report.inserted + report.duplicates);
        // Let the progress bar draw and signals arrive between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    if (!stopped) flush();
  } finally {
    progress.stop();
    if (!stdin) (input as fs.ReadStream).destroy();
  }
  report.rejected.sort((a, b) => a.line - b.line);
  report.durationMs = performance.now() - started;
  const stored = report.inserted + report.duplicates;
  report.eventsPerSecond = report.durationMs > 0 ? Math.round((stored / report.durationMs) * 1000) : 0;
  return report;
}

/** The summary and rejections, for people. */
export function ingestLines(r: IngestReport): string[] {
  const lines = [
    `ingested ${r.inserted} event(s)${r.duplicates ? ` (${r.duplicates} duplicate id(s) skipped)` : ''} from ${r.source} in ${ms(r.durationMs)} (${r.eventsPerSecond} events/s, ${r.batches} batch(es)); ${r.rejected.length} line(s) rejected`,
  ];
  if (r.stoppedAtLine !== null) {
    lines.push(`stopped at line ${r.stoppedAtLine}: every line before it is committed, nothing from it on; fix it and ingest the rest, or rerun with --on-error skip`);
  }
  return lines;
}

async function ingest(ctx: CliContext, source: string, opts: IngestOptions): Promise<ExitCodeValue> {
  const store = await ctx.openAudit('write');
  let report: IngestReport;
  try {
    report = await ingestInto(ctx, store, source, opts);
  } finally {
    store.close();
  }
  if (!ctx.json) {
    const shown = report.rejected.slice(0, 50);
    for (const r of shown) process.stderr.write(`rejected line ${r.line}: ${r.error}\n`);
    if (report.rejected.length > shown.length) process.stderr.write(`... and ${report.rejected.length - shown.length} more rejected line(s); --json lists them all\n`);
  }
  ctx.result(report, () => ingestLines(report));
  return report.rejected.length > 0 ? ExitCode.Warnings : ExitCode.Ok;
}
