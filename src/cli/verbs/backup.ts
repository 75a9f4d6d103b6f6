/**
 * `redb-audit backup <dest>`: an online, consistent backup of every shard (RedbManager.backup), full
 * or, with --since, incremental; then the backup is verified (every file's BLAKE3, every block
 * resolvable) before the verb reports success. The store's key files go with it (store-files.ts).
 */
import type { Command } from 'commander';
import { LockedError } from '../../errors.js';
import type { BackupReport } from '../../backup/backup.js';
import { backupHeldStore } from '../../manager/held-backup.js';
import { RedbManager } from '../../manager/redb-manager.js';
import { CLI_SETTINGS, verbAction, type CliContext } from '../context.js';
import { saveStoreFiles } from '../../audit/store-files.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import { bytes, ms } from '../render.js';

interface BackupVerbOptions {
  since?: string;
}

export function register(program: Command): void {
  program
    .command('backup <dest>')
    .description('write a consistent backup of the store into <dest> (new or empty), then verify it')
    .option('--since <previous>', 'incremental: store only what changed since this earlier backup (a restore needs both)')
    .addHelpText('after', '\nExamples:\n  $ redb-audit backup /backups/2026-03-01 --dir ./audit\n  $ redb-audit backup /backups/2026-03-02 --since /backups/2026-03-01 --dir ./audit')
    .action(verbAction((ctx, dest: string, opts: BackupVerbOptions) => backup(ctx, dest, opts)));
}

async function backup(ctx: CliContext, dest: string, opts: BackupVerbOptions): Promise<ExitCodeValue> {
  const backupOptions = opts.since !== undefined ? { since: opts.since } : undefined;
  // A backup pins each shard's checkpoint, which only the process holding the writer lock can do;
  // the audit store then records it as an operation of the system tenant. When another process
  // (the agent) holds the store, the backup is taken from a verified copy instead (held-backup.ts),
  // and only the agent could record it.
  let report: BackupReport & { attempts?: number };
  let held = false;
  let store;
  try {
    store = await ctx.openAudit('write');
  } catch (err) {
    if (!(err instanceof LockedError) || err.reason !== 'held') throw err;
    held = true;
  }
  if (store) {
    try {
      report = await store.backup(dest, backupOptions);
    } finally {
      store.close();
    }
  } else {
    ctx.note("the store is held by another process; backing up from a verified copy of its files");
    report = await backupHeldStore(ctx.storeOptions('read'), dest, backupOptions);
  }
  const storeFiles = saveStoreFiles(ctx.dir, report.dir, [CLI_SETTINGS]);
  const check = RedbManager.verifyBackup(report.dir);
  const out = { ...report, held, storeFiles, verified: check.ok, issues: check.issues };
  ctx.result(out, () => [
    `${report.kind} backup of ${report.shards.length} shard(s) written to ${report.dir}: ${bytes(report.bytesWritten)} in ${ms(report.durationMs)}` +
      `${report.base ? ` (base ${report.base})` : ''}`,
    check.ok ? `verified: ${check.filesChecked} files, ${bytes(check.bytesChecked)}` : `verification FAILED: ${check.issues.join('; ')}`,
    `restore it with: redb-audit restore ${report.dir} --to <new-dir>`,
  ]);
  return check.ok ? ExitCode.Ok : ExitCode.Corruption;
}
