/**
 * `redb-audit cleanup-backups <dir> --keep N`: retention for a backup directory. Keeps the N newest
 * backups and every base they need, removes the others; --dry-run says what it would remove.
 */
import type { Command } from 'commander';
import { cleanupBackups } from '../../backup/backup-catalog.js';
import { intArg } from '../args.js';
import { verbAction, type CliContext } from '../context.js';
import { bytes } from '../render.js';

interface CleanupOptions {
  keep: number;
  dryRun?: boolean;
}

export function register(program: Command): void {
  program
    .command('cleanup-backups <dir>')
    .description('keep the --keep newest backups in <dir> (and the bases they need); remove the rest')
    .requiredOption('--keep <N>', 'how many of the newest backups to keep (at least 1)', intArg(1))
    .option('--dry-run', 'only say what would be removed')
    .addHelpText('after', '\nExample:\n  $ redb-audit cleanup-backups /backups --keep 7 --dry-run')
    .action(verbAction((ctx, dir: string, opts: CleanupOptions) => cleanup(ctx, dir, opts)));
}

function cleanup(ctx: CliContext, dir: string, opts: CleanupOptions): void {
  const r = cleanupBackups(dir, { keep: opts.keep, dryRun: opts.dryRun === true });
  ctx.result(r, () => [
    `${r.dryRun ? 'would remove' : 'removed'} ${r.removed.length} backup(s), ${bytes(r.bytesFreed)}; kept ${r.kept.length}` +
      `${r.keptAsBase.length ? ` and ${r.keptAsBase.length} base(s) they need` : ''}`,
    ...r.removed.map((d) => `  ${r.dryRun ? 'would remove' : 'removed'} ${d}`),
  ]);
}
