/**
 * Backup of a store that another process holds open for writing (the agent that owns it), from a
 * process that may not take its lock: an operator's `redb-audit backup` beside a live agent.
 *
 * Only the writer can pin a checkpoint (RedbManager.backup), so this copies the store's files into
 * a staging directory and takes the backup from that copy instead:
 *   1. For each shard, the WAL segments are copied first, then the page file. The page file's
 *      header slots name a checkpoint whose blocks the writer does not reuse until two checkpoints
 *      later, and the WAL copied before it reaches back at least to the position that checkpoint
 *      (or any newer one) needs, so a copy taken while at most one checkpoint runs is a crash image
 *      of the store: some durable state plus a WAL whose tail may be torn.
 *   2. The copy is opened as a store of our own: crash recovery picks the newest valid header slot,
 *      replays the WAL past it and cuts a torn tail, and a full verify checks every block by its
 *      checksum. Anything a racing checkpoint broke (a reused block, a trimmed segment) fails
 *      there, never silently: the attempt is thrown away and the copy taken again.
 *   3. The staging store is backed up with RedbManager.backup and removed.
 *
 * Invariants: nothing in the source directory is written, created or locked; a backup is written
 * only from a copy that opened without repair and verified clean; every shard of the backup holds
 * a prefix of the commits its shard had acknowledged when the copy began or later. Shards are
 * copied one after the other, so a cross-shard batch may be in one shard's copy and not another's;
 * the audit store settles such a batch when the restored store first opens (src/audit/cross-shard.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { CorruptionError, IoError, RedbError, ValidationError } from '../errors.js';
import { DATA_FILE, WAL_DIR } from '../shard/backup-source.js';
import type { BackupOptions, BackupReport } from '../backup/backup.js';
import { LOSS_HISTORY_NAME } from './loss-history.js';
import { MANIFEST_NAME } from './manifest.js';
import type { RedbOptions } from './options.js';
import { RedbManager } from './redb-manager.js';

/** Copies tried before the store is declared too busy to copy. */
const ATTEMPTS = 5;

/** What a backup of a held store did: the backup's report, and how many copies it took. */
export interface HeldBackupReport extends BackupReport {
  /** Copies of the store taken before one opened and verified clean (1 unless a checkpoint raced it). */
  attempts: number;
}

/**
 * Backs up the store at `options.baseDir`, which another process holds open, into `destDir`
 * (new or empty), through a verified copy in a staging directory beside `destDir`. `options` are the
 * options the store is opened with (shard count, keys); `backupOptions` as for RedbManager.backup.
 */
export async function backupHeldStore(options: RedbOptions, destDir: string, backupOptions?: BackupOptions): Promise<HeldBackupReport> {
  if (typeof destDir !== 'string' || destDir.length === 0) throw new ValidationError('the backup directory must be a non-empty string path');
  const source = path.resolve(options.baseDir ?? './redb-data');
  if (!fs.existsSync(path.join(source, MANIFEST_NAME))) {
    throw new ValidationError(`${source} holds no store (no ${MANIFEST_NAME}); name the directory the agent's store lives in`);
  }
  const dest = path.resolve(destDir);
  const staging = `${dest}.staging-${process.pid}`;
  let lastError: unknown = null;
  try {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      fs.rmSync(staging, { recursive: true, force: true });
      copyStore(source, staging);
      let m: RedbManager;
      try {
        m = RedbManager.open({ ...options, baseDir: staging, readOnly: false, autoRecovery: false, checksumVerification: true, compactOnClose: false, checkpointIntervalMs: 0 });
      } catch (err) {
        if (!(err instanceof CorruptionError || (err instanceof IoError && err.errno === 'ENOENT'))) throw err;
        lastError = err;
        continue;
      }
      try {
        const verified = m.openReport.shards.every((s) => s.verify?.ok === true);
        if (!verified) {
          lastError = new CorruptionError(staging, 0, 'the copy did not verify clean (a checkpoint of the writer raced it)');
          continue;
        }
        const report = await m.backup(dest, backupOptions);
        return { ...report, attempts: attempt };
      } finally {
        m.close();
      }
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  const why = lastError instanceof RedbError ? lastError.message : String(lastError);
  throw new CorruptionError(source, 0, `no copy of the held store verified clean in ${ATTEMPTS} attempts (last: ${why}); the writer may be checkpointing continuously: retry, or back up from the process that owns the store`);
}

/** The store's files, as a crash image: manifest, loss history, and per shard its WAL then its page file. */
function copyStore(source: string, staging: string): void {
  fs.mkdirSync(staging, { recursive: true });
  fs.copyFileSync(path.join(source, MANIFEST_NAME), path.join(staging, MANIFEST_NAME));
  if (fs.existsSync(path.join(source, LOSS_HISTORY_NAME))) fs.copyFileSync(path.join(source, LOSS_HISTORY_NAME), path.join(staging, LOSS_HISTORY_NAME));
  const shardsDir = path.join(source, 'shards');
  for (const shard of fs.readdirSync(shardsDir).filter((n) => /^\d+$/.test(n)).sort()) {
    const from = path.join(shardsDir, shard);
    const to = path.join(staging, 'shards', shard);
    fs.mkdirSync(path.join(to, WAL_DIR), { recursive: true });
    for (const seg of fs.readdirSync(path.join(from, WAL_DIR)).sort()) copyIfPresent(path.join(from, WAL_DIR, seg), path.join(to, WAL_DIR, seg));
    copyIfPresent(path.join(from, DATA_FILE), path.join(to, DATA_FILE));
  }
}

/** A segment the writer deleted between the listing and the copy is simply absent from the copy. */
function copyIfPresent(from: string, to: string): void {
  try {
    fs.copyFileSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new IoError('copying a file of the held store', from, err);
  }
}
