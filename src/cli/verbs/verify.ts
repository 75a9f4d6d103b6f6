/**
 * `redb-audit verify`: reads everything the store holds from disk and checks it: header slots, every
 * page (checksum, structure, keys in order), space accounting, the WAL past the checkpoint and the
 * deduplicated blobs, in every shard.
 *
 * Exit codes: 0 clean; 1 warnings only (space accounting: a leaked or doubly listed extent wastes
 * space but loses no record); 2 corruption or data loss (any other issue, or a store that cannot be
 * opened because of damage).
 */
import type { Command } from 'commander';
import { CorruptionError } from '../../errors.js';
import type { VerifyIssue } from '../../shard/verify.js';
import { verbAction, type CliContext } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { ms } from '../render.js';

/** What `verify --json` prints. */
export interface VerifyOutput {
  dir: string;
  status: 'clean' | 'warnings' | 'corrupt';
  shards: { shard: number; ok: boolean; blocks: number; entries: number; walRecords: number; issues: (VerifyIssue & { severity: 'warning' | 'corruption' })[] }[];
  durationMs: number;
}

/** Space-accounting issues waste space; every other kind means a record may be unreadable. */
export function issueSeverity(issue: VerifyIssue): 'warning' | 'corruption' {
  return issue.area === 'space' ? 'warning' : 'corruption';
}

export function register(program: Command): void {
  program
    .command('verify')
    .description('check every page, the WAL and the indexes of every shard: 0 clean, 1 warnings, 2 corruption or data loss')
    .addHelpText('after', '\nExamples:\n  $ redb-audit verify --dir ./audit\n  $ redb-audit verify --dir ./audit --json')
    .action(verbAction((ctx) => verify(ctx)));
}

/** Runs verify over the store in --dir and returns its report (a store too damaged to open: corrupt). */
export function runVerify(ctx: CliContext): VerifyOutput {
  const started = performance.now();
  let manager;
  try {
    manager = ctx.openManager('read');
  } catch (err) {
    if (!(err instanceof CorruptionError)) throw err;
    return {
      dir: ctx.dir,
      status: 'corrupt',
      shards: [{ shard: shardOfFile(err.file), ok: false, blocks: 0, entries: 0, walRecords: 0, issues: [{ area: 'header', file: err.file, offset: err.offset, message: err.message, severity: 'corruption' }] }],
      durationMs: performance.now() - started,
    };
  }
  try {
    const { shards } = manager.verify();
    const out = shards.map((r, shard) => ({
      shard,
      ok: r.ok,
      blocks: r.checked.blocks,
      entries: r.checked.entries,
      walRecords: r.checked.walRecords,
      issues: r.issues.map((i) => ({ ...i, severity: issueSeverity(i) })),
    }));
    const all = out.flatMap((s) => s.issues);
    const status = all.some((i) => i.severity === 'corruption') ? 'corrupt' : all.length > 0 ? 'warnings' : 'clean';
    return { dir: ctx.dir, status, shards: out, durationMs: performance.now() - started };
  } finally {
    manager.close();
  }
}

/** The shard a damaged file belongs to (`<baseDir>/shards/<NNN>/...`), or -1 for a store-wide file. */
function shardOfFile(file: string): number {
  const m = /[\\/]shards[\\/](\d{3})[\\/]/.exec(file);
  return m ? Number(m[1]) : -1;
}

export function verifyExitCode(status: VerifyOutput['status']): ExitCodeValue {
  return status === 'clean' ? ExitCode.Ok : status === 'warnings' ? ExitCode.Warnings : ExitCode.Corruption;
}

/** The lines people read for a verify report. */
export function verifyLines(r: VerifyOutput): string[] {
  const blocks = r.shards.reduce((n, s) => n + s.blocks, 0);
  const entries = r.shards.reduce((n, s) => n + s.entries, 0);
  const wal = r.shards.reduce((n, s) => n + s.walRecords, 0);
  const lines = [`verify ${r.dir}: ${r.status} (${r.shards.length} shard(s), ${blocks} blocks, ${entries} entries, ${wal} WAL records, ${ms(r.durationMs)})`];
  for (const s of r.shards) for (const i of s.issues) lines.push(`  ${i.severity}: shard ${s.shard} ${i.area} ${i.file}@${i.offset}: ${i.message}`);
  if (r.status === 'corrupt') lines.push(`next: take the store offline and run \`redb-audit repair --dir ${r.dir} --dry-run\`, or restore a backup`);
  return lines;
}

function verify(ctx: CliContext): ExitCodeValue {
  const report = runVerify(ctx);
  ctx.result(report, () => verifyLines(report));
  return verifyExitCode(report.status);
}
