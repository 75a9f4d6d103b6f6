/**
 * `redb-audit repair [--dry-run]`: salvages damaged shards. Every record that can still be read and
 * authenticated is copied into a fresh shard, the damaged files are kept aside, and what could not
 * be brought back is counted and named. --dry-run only verifies and says which shards would be
 * repaired. Takes the writer lock.
 *
 * Exit codes: 0 nothing to repair; 1 repaired with nothing lost; 2 records were lost.
 */
import type { Command } from 'commander';
import { CorruptionError } from '../../errors.js';
import type { ShardRepairReport } from '../../shard/maintenance/repair.js';
import { RedbManager } from '../../manager/redb-manager.js';
import { verbAction, type CliContext } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { runVerify } from './verify.js';

interface RepairOptions {
  dryRun?: boolean;
}

export function register(program: Command): void {
  program
    .command('repair')
    .description('salvage damaged shards, keep the damaged files aside, report what was lost (takes the writer lock)')
    .option('--dry-run', 'only verify and say which shards would be repaired')
    .addHelpText('after', '\nExamples:\n  $ redb-audit repair --dir ./audit --dry-run\n  $ redb-audit repair --dir ./audit')
    .action(verbAction((ctx, opts: RepairOptions) => (opts.dryRun ? dryRun(ctx) : repair(ctx))));
}

async function dryRun(ctx: CliContext): Promise<ExitCodeValue> {
  const v = await runVerify(ctx);
  const damaged = v.shards.filter((s) => s.issues.some((i) => i.severity === 'corruption')).map((s) => s.shard);
  const tampered = v.integrity.filter((t) => !t.ok).map((t) => t.tenantId);
  const out = { dir: ctx.dir, dryRun: true, wouldRepair: damaged, tamperedTenants: tampered, verify: v };
  ctx.result(out, () =>
    damaged.length === 0
      ? `nothing to repair in ${ctx.dir}: every shard verifies${v.status === 'warnings' ? ' (with space-accounting warnings, which compact clears)' : ''}`
      : [`would repair ${damaged.includes(-1) ? 'the store, whose manifest is damaged,' : `shard(s) ${damaged.join(', ')}`} in ${ctx.dir}:`, ...v.shards.flatMap((s) => s.issues.map((i) => `  shard ${s.shard}: ${i.message}`))],
  );
  if (tampered.length > 0) ctx.warn(`the Merkle logs of tenant(s) ${tampered.join(', ')} do not match their events: repair cannot undo tampering; restore those events from a backup or an exported proof bundle`);
  return damaged.length === 0 && tampered.length === 0 ? ExitCode.Ok : ExitCode.Corruption;
}

function lost(r: ShardRepairReport): boolean {
  return r.status === 'unrecoverable' || r.lostRanges.length > 0 || r.lostValues.length > 0 || r.walDamage !== null;
}

function repair(ctx: CliContext): ExitCodeValue {
  // autoRecovery: a shard too damaged to open is salvaged while opening; repair() does the rest.
  let manager: RedbManager;
  try {
    manager = RedbManager.open({ ...ctx.storeOptions('write'), autoRecovery: true });
  } catch (err) {
    if (err instanceof CorruptionError) throw new CorruptionError(err.file, err.offset, `the store cannot be opened even for repair (${err.message}); restore it from a backup`);
    throw err;
  }
  let reports: ShardRepairReport[];
  try {
    const atOpen = manager.openReport.shards.map((s) => s.repaired);
    reports = manager.repair().map((r, i) => (atOpen[i] && atOpen[i]!.status !== 'clean' ? atOpen[i]! : r));
  } finally {
    manager.close();
  }
  const repaired = reports.filter((r) => r.status !== 'clean');
  const anyLost = reports.some(lost);
  ctx.result({ dir: ctx.dir, dryRun: false, shards: reports }, () =>
    repaired.length === 0
      ? `nothing to repair in ${ctx.dir}: every shard verifies`
      : repaired.map(
          (r) =>
            `${r.dir}: ${r.status}, ${r.recoveredEntries} entries recovered, ${r.lostRanges.length} key range(s) and ${r.lostValues.length} value(s) lost` +
            `${r.walDamage ? `, WAL damaged (${r.walDamage})` : ''}; damaged files kept in ${r.damagedDir}`,
        ),
  );
  return repaired.length === 0 ? ExitCode.Ok : anyLost ? ExitCode.Corruption : ExitCode.Warnings;
}
