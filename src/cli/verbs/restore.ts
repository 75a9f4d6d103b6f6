/**
 * `redb-audit restore <src>`: rebuilds a store from a backup (and the bases it names) into --to, or
 * --dir when --to is absent. The backup is verified first and nothing is written if it is damaged;
 * a directory a live store holds is refused, and a non-empty one unless --force. The store's key
 * files the backup carries are put back (store-files.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { NotFoundError } from '../../errors.js';
import { RedbManager } from '../../manager/redb-manager.js';
import { CLI_SETTINGS, verbAction, type CliContext } from '../context.js';
import { restoreStoreFiles } from '../../audit/store-files.js';
import { bytes, ms } from '../render.js';

interface RestoreVerbOptions {
  to?: string;
  force?: boolean;
}

export function register(program: Command): void {
  program
    .command('restore <src>')
    .description('rebuild a store from the backup in <src> into --to (default: --dir)')
    .option('--to <dir>', 'directory to restore into (new or empty)')
    .option('--force', 'replace the contents of a non-empty target (never a store another process has open)')
    .addHelpText('after', '\nExamples:\n  $ redb-audit restore /backups/2026-03-02 --to ./audit-restored\n  $ redb-audit verify --dir ./audit-restored')
    .action(verbAction((ctx, src: string, opts: RestoreVerbOptions) => restore(ctx, src, opts)));
}

function restore(ctx: CliContext, src: string, opts: RestoreVerbOptions): void {
  if (!fs.existsSync(src)) throw new NotFoundError(`the backup directory ${path.resolve(src)} does not exist; name a directory written by \`redb-audit backup\``);
  const to = opts.to !== undefined ? path.resolve(opts.to) : ctx.dir;
  const report = RedbManager.restore(src, to, { force: opts.force === true });
  const storeFiles = restoreStoreFiles(src, to, [CLI_SETTINGS]);
  const total = report.shards.reduce((n, s) => n + s.bytes, 0);
  ctx.result({ ...report, storeFiles }, () => [
    `restored ${report.shards.length} shard(s) (${bytes(total)}) from ${report.chain.length} backup(s) into ${report.dir} in ${ms(report.durationMs)}`,
    `next: redb-audit verify --dir ${report.dir}`,
  ]);
}
