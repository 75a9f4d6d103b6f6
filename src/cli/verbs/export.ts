/**
 * `redb-audit export`: streams the events matching the query flags (every match unless --limit) in
 * one of the store's export formats, to --out or stdout, read from one snapshot per shard so it
 * works while another process writes. With --out the file is written beside its final name and
 * renamed into place when complete, so a failed export never leaves a truncated file that looks
 * whole. Progress (bytes, rate) on a terminal.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { EXPORT_FORMATS } from '../../audit/export/index.js';
import type { ExportFormat } from '../../audit/types.js';
import { choiceArg } from '../args.js';
import { verbAction, type CliContext } from '../context.js';
import { startProgress } from '../progress.js';
import { addQueryOptions, toAuditQuery, type QueryFlags } from '../query-options.js';
import { bytes, ms } from '../render.js';

interface ExportVerbOptions extends QueryFlags {
  format: ExportFormat;
  out?: string;
  withProofs?: boolean;
}

export function register(program: Command): void {
  const cmd = program.command('export').description(`stream matching events as ${EXPORT_FORMATS.join(', ')} to a file or stdout`);
  addQueryOptions(cmd, 'most events to export (default: all)')
    .requiredOption('--format <format>', EXPORT_FORMATS.join(', '), choiceArg(EXPORT_FORMATS))
    .option('--out <file>', 'write to this file (default: stdout)')
    .option('--with-proofs', 'ndjson only: a self-contained proof bundle (signed checkpoints, an inclusion proof per event) that verify-export checks offline')
    .addHelpText(
      'after',
      `\nExamples:\n  $ redb-audit export --dir ./audit --tenant acme-health --from 2026-03-01 --to 2026-04-01 --format ndjson --out march.ndjson\n` +
        `  $ redb-audit export --dir ./audit --tenant globex-pay --outcome denied --format json | jq length\n` +
        `  $ redb-audit export --dir ./audit --tenant acme-health --format ndjson --with-proofs --out bundle.ndjson`,
    )
    .action(verbAction((ctx, opts: ExportVerbOptions) => exportVerb(ctx, opts)));
}

async function exportVerb(ctx: CliContext, opts: ExportVerbOptions): Promise<void> {
  const q = toAuditQuery(opts);
  const store = await ctx.openAudit('read');
  const target = opts.out !== undefined ? path.resolve(opts.out) : null;
  const temp = target ? `${target}.partial-${process.pid}` : null;
  const sink = temp ? fs.createWriteStream(temp) : process.stdout;
  const started = performance.now();
  const progress = startProgress(ctx, 'export', 'bytes', null);
  let written = 0;
  // Counts bytes for the progress display and passes everything on with the sink's back-pressure.
  const counter = new Writable({
    write(chunk: Buffer, _enc, done) {
      written += chunk.length;
      progress.update(written, written);
      if (sink.write(chunk)) done();
      else sink.once('drain', () => done());
    },
  });
  let report;
  let vkey: string | null = null;
  try {
    report = await store.exportEventsTo(q, opts.format, counter, opts.withProofs ? { withProofs: true } : undefined);
    // Every chunk the counter accepted reaches the sink before the sink is ended.
    await new Promise<void>((resolve, reject) => counter.end((err?: Error | null) => (err ? reject(err) : resolve())));
    if (opts.withProofs) vkey = store.checkpointPublicKey().vkey;
    if (temp && target) {
      const file = sink as fs.WriteStream;
      await new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));
      const fd = fs.openSync(temp, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(temp, target);
    }
  } catch (err) {
    if (temp) {
      (sink as fs.WriteStream).destroy();
      fs.rmSync(temp, { force: true });
    }
    throw err;
  } finally {
    progress.stop();
    store.close();
  }
  const durationMs = performance.now() - started;
  const summary = { ...report, out: target, durationMs, ...(vkey ? { vkey } : {}) };
  const check = vkey ? `verify it anywhere with: redb-audit verify-export ${target ?? '<file>'} --vkey '${vkey}'` : null;
  if (target) ctx.result(summary, () => [`exported ${report.events} event(s), ${bytes(report.bytes)} of ${report.format}${vkey ? ' with proofs' : ''}, to ${target} in ${ms(durationMs)}`, ...(check ? [check] : [])]);
  // On stdout the export is the output: the summary goes to stderr, and only for people.
  else if (!ctx.quiet) process.stderr.write(`exported ${report.events} event(s), ${bytes(report.bytes)} of ${report.format} in ${ms(durationMs)}\n${check ? `${check}\n` : ''}`);
}
