/**
 * Backups side by side in one directory (a backup schedule's target): listing them, and retention
 * that keeps the newest N and every base those still need. A directory counts as a backup only when
 * its manifest reads and checks; anything else is reported and never deleted.
 *
 * Deleting a backup removes its manifest first (fsynced through the directory), so a deletion cut
 * short leaves an "incomplete backup" that verify and restore refuse, never a backup missing files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NotFoundError, ValidationError } from '../errors.js';
import { loadBackupChain } from './backup-chain.js';
import { BACKUP_MANIFEST, readBackupManifest } from './backup-manifest.js';
import { fsyncDir } from '../io/durable-file.js';

/** One backup found by {@link listBackups}. */
export interface BackupEntry {
  dir: string;
  name: string;
  kind: 'full' | 'incremental';
  createdAt: string;
  /** The base of an incremental backup (the directory its chain found), or null. */
  base: string | null;
  /** The backups this one needs besides itself, newest first (empty for a full backup). */
  needs: string[];
  shardCount: number;
  /** Highest transaction of any shard: how recent the backup is. */
  txn: number;
  /** Bytes of this backup's own files. */
  bytes: number;
  /** Why its chain is broken (a base missing or changed), or null. */
  chainProblem: string | null;
}

/** A directory that looks like a backup but whose manifest does not read or check. */
export interface UnreadableBackup {
  dir: string;
  problem: string;
}

/** What {@link listBackups} found, oldest first. */
export interface BackupList {
  backups: BackupEntry[];
  unreadable: UnreadableBackup[];
}

/** What {@link cleanupBackups} kept and removed. */
export interface BackupCleanupReport {
  kept: string[];
  /** Kept only because a kept incremental backup needs them. */
  keptAsBase: string[];
  removed: string[];
  bytesFreed: number;
  dryRun: boolean;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) total += fs.statSync(path.join(e.parentPath, e.name)).size;
  }
  return total;
}

/** Lists the backups directly inside `parent` (and `parent` itself, if it is one), oldest first. */
export function listBackups(parent: string): BackupList {
  if (typeof parent !== 'string' || parent.length === 0) throw new ValidationError('the backups directory must be a non-empty string path');
  const root = path.resolve(parent);
  if (!fs.existsSync(root)) throw new NotFoundError(`${root} does not exist; name the directory your backups are written into`);
  if (!fs.statSync(root).isDirectory()) throw new ValidationError(`${root} is not a directory; name the directory your backups are written into`);
  const candidates = [root, ...fs.readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(root, e.name))];
  const backups: BackupEntry[] = [];
  const unreadable: UnreadableBackup[] = [];
  for (const dir of candidates) {
    if (!fs.existsSync(path.join(dir, BACKUP_MANIFEST))) continue;
    const loaded = readBackupManifest(dir);
    if (typeof loaded === 'string') {
      unreadable.push({ dir, problem: loaded });
      continue;
    }
    const m = loaded.manifest;
    const chain = loadBackupChain(dir);
    backups.push({
      dir,
      name: path.relative(root, dir) || '.',
      kind: m.kind,
      createdAt: m.createdAt,
      base: chain.links[1]?.dir ?? (m.base ? path.resolve(dir, m.base.path) : null),
      needs: chain.links.slice(1).map((l) => l.dir),
      shardCount: m.shardCount,
      txn: m.shards.reduce((n, s) => Math.max(n, s.txn), 0),
      bytes: dirBytes(dir),
      chainProblem: chain.issues[0] ?? null,
    });
  }
  backups.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.dir < b.dir ? -1 : 1));
  return { backups, unreadable };
}

/**
 * Keeps the `keep` newest backups in `parent` and every base their chains need; removes the other
 * backups (with `dryRun`, only says which). Directories that are not readable backups are left alone.
 */
export function cleanupBackups(parent: string, options: { keep: number; dryRun?: boolean }): BackupCleanupReport {
  const keep = options?.keep;
  if (!Number.isInteger(keep) || keep < 1) throw new ValidationError(`keep must be an integer of at least 1, got ${JSON.stringify(keep)}; cleanup never removes every backup`);
  const dryRun = options.dryRun === true;
  const { backups } = listBackups(parent);
  const newest = backups.slice(-keep);
  const kept = new Set(newest.map((b) => b.dir));
  const keptAsBase = new Set<string>();
  for (const b of newest) for (const need of b.needs) if (!kept.has(need)) keptAsBase.add(need);
  const removed: string[] = [];
  let bytesFreed = 0;
  for (const b of backups) {
    if (kept.has(b.dir) || keptAsBase.has(b.dir)) continue;
    if (b.dir === path.resolve(parent)) continue;
    removed.push(b.dir);
    bytesFreed += b.bytes;
    if (dryRun) continue;
    fs.rmSync(path.join(b.dir, BACKUP_MANIFEST));
    fsyncDir(b.dir);
    fs.rmSync(b.dir, { recursive: true, force: true });
  }
  if (!dryRun && removed.length > 0) fsyncDir(path.resolve(parent));
  return { kept: [...kept], keptAsBase: [...keptAsBase], removed, bytesFreed, dryRun };
}
