/**
 * `redb-audit list-backups <dir>`: the backups in a directory, oldest first, with their kind, time,
 * size, and the bases an incremental one needs; damaged ones are listed with what is wrong.
 */
import type { Command } from 'commander';
import { listBackups } from '../../backup/backup-catalog.js';
import { verbAction, type CliContext } from '../context.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { bytes, table } from '../render.js';

export function register(program: Command): void {
  program
    .command('list-backups <dir>')
    .description('list the backups in <dir> (oldest first); exit 1 when one is unreadable or misses a base')
    .addHelpText('after', '\nExample:\n  $ redb-audit list-backups /backups')
    .action(verbAction((ctx, dir: string) => list(ctx, dir)));
}

function list(ctx: CliContext, dir: string): ExitCodeValue {
  const found = listBackups(dir);
  ctx.result(found, () => [
    found.backups.length === 0 ? `no backups in ${dir}` : table(
      ['backup', 'kind', 'created', 'txn', 'size', 'needs'],
      found.backups.map((b) => [b.name, b.kind, b.createdAt, b.txn, bytes(b.bytes), b.chainProblem ? `BROKEN: ${b.chainProblem}` : b.needs.length ? `${b.needs.length} base(s)` : '-']),
    ),
    ...found.unreadable.map((u) => `unreadable: ${u.dir}: ${u.problem}`),
  ]);
  return found.unreadable.length > 0 || found.backups.some((b) => b.chainProblem) ? ExitCode.Warnings : ExitCode.Ok;
}
