/**
 * RedbManager: a base directory of N shards, routed by tenant, with the operations the seed guides
 * describe (health, metrics, backup, restore, repair). Layout:
 *
 *   <baseDir>/redb.manifest.json   shard count, routing, codec settings, key-check values
 *   <baseDir>/redb.losses.json     what repairs could not bring back (see loss-history.ts)
 *   <baseDir>/lock, lock.owner     one process at a time (see io/dir-lock.ts)
 *   <baseDir>/shards/<NNN>/        one shard directory each (see docs/format.md)
 *   <baseDir>/shards/<NNN>.damaged-<time>/   a shard repair set aside
 *
 * Opening checks the options against the manifest before any shard is touched, then opens every
 * shard (crash recovery is part of opening one), repairs a corrupt one when autoRecovery is on, and
 * with checksumVerification verifies each.
 *
 * Maintenance (repair) leaves the manager either fully open or fully closed: if a shard cannot be
 * reopened afterwards, every shard is closed and the lock released, and isClosed says so.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ClosedError, CorruptionError, PartialCommitError, ReadOnlyError, ValidationError } from '../errors.js';
import { resolveKeySource, type KeySource } from '../codec/key-source.js';
import { DirLock } from '../io/dir-lock.js';
import { prepareStoreDir } from '../io/store-dir.js';
import { Database } from '../shard/database.js';
import type { RecoveryReport } from '../shard/durability/open-shard.js';
import { checkKey, checkTableName, checkValue, DEFAULT_TABLE } from '../shard/validate.js';
import type { VerifyReport } from '../shard/maintenance/verify.js';
import { rollUp, shardHealth, type HealthReport, type VerifyRecord } from './health.js';
import { LossHistory, type LossRecord } from './loss-history.js';
import { MANIFEST_NAME, readManifest, reconcileManifest, updateManifestKeys } from './manifest.js';
import { renderMetrics } from './metrics.js';
import { resolveRedbOptions, shardOptions, type RedbOptions, type ResolvedRedbOptions } from './options.js';
import { routeTenant } from './routing.js';
import { repairShard, type ShardRepairReport } from '../shard/maintenance/repair.js';
import { backupSourceOf } from '../shard/backup-source.js';
import { writeBackup, type BackupOptions, type BackupReport } from '../backup/backup.js';
import { verifyBackupDir, type BackupVerifyReport } from '../backup/backup-verify.js';
import { restoreBackup, type RestoreOptions, type RestoreReport } from '../backup/restore.js';

/** One operation of a cross-shard batch. Exactly one of `value` and `delete` is given. */
export interface BatchOp {
  tenantId: string;
  /** Table within the tenant's shard; default "default". */
  table?: string;
  key: Uint8Array;
  value?: Uint8Array;
  delete?: true;
}

/** What a batch did: the operations committed per shard. */
export interface BatchResult {
  shards: { shard: number; ops: number }[];
}

/** What opening found in each shard. */
export interface OpenReport {
  created: boolean;
  shards: { shard: number; recovery: RecoveryReport | null; repaired: ShardRepairReport | null; verify: VerifyRecord | null }[];
}

export function shardDirName(index: number): string {
  return String(index).padStart(3, '0');
}

export class RedbManager {
  readonly options: ResolvedRedbOptions;
  readonly openReport: OpenReport;
  private readonly shards: (Database | null)[];
  private readonly verifyRecords: (VerifyRecord | null)[];
  /** Every loss a repair could not avoid, kept on disk; health() reports the unacknowledged ones. */
  private losses: LossHistory | null = null;
  /** The store's lock; null when opened read-only. */
  private readonly lock: DirLock | null;
  private readonly openedAt = Date.now();
  private closed = false;

  private constructor(options: ResolvedRedbOptions, lock: DirLock | null) {
    this.options = options;
    this.lock = lock;
    this.shards = new Array<Database | null>(options.shardCount).fill(null);
    this.verifyRecords = new Array<VerifyRecord | null>(options.shardCount).fill(null);
    this.openReport = { created: false, shards: [] };
  }

  /**
   * Opens (or creates) the store described by `options`. Throws LockedError if another process (or
   * this one) has it open, ValidationError if `baseDir` is a file or a non-empty directory holding
   * no store; a failed open leaves `baseDir` as it found it. `readOnly` opens an existing store
   * without the lock and writes nothing (see {@link RedbOptions.readOnly}).
   */
  static open(options?: RedbOptions): RedbManager {
    const o = resolveRedbOptions(options);
    const place = prepareStoreDir(o.baseDir, {
      create: !o.readOnly,
      what: 'redb-audit store',
      isStore: (names) => names.includes(MANIFEST_NAME),
      isOwnEntry: (n) => n === 'shards' || n === 'lock' || n.startsWith('lock.owner') || n.startsWith(MANIFEST_NAME),
    });
    let m: RedbManager | null = null;
    let lock: DirLock | null = null;
    try {
      lock = o.readOnly ? null : DirLock.acquire(o.baseDir);
      m = new RedbManager(o, lock);
      m.openAll();
    } catch (err) {
      try {
        m?.closeShards();
      } catch {
        // The open's own error is the one to report.
      }
      lock?.unlock();
      place.undo((name) => name === 'lock' || name.startsWith('lock.owner'));
      throw err;
    }
    return m;
  }

  /** Number of shards (fixed when the store was created). */
  get shardCount(): number {
    return this.options.shardCount;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Directory of shard `index`. */
  shardDir(index: number): string {
    return path.join(this.options.baseDir, 'shards', shardDirName(index));
  }

  /** The shard a tenant's data lives in (a stable hash; see routing.ts). */
  shardFor(tenantId: string): number {
    if (typeof tenantId !== 'string' || tenantId.length === 0) throw new ValidationError('tenantId must be a non-empty string');
    return routeTenant(tenantId, this.options.shardCount);
  }

  /** The shard (a Database) holding `tenantId`'s data. */
  shard(tenantId: string): Database {
    return this.shardAt(this.shardFor(tenantId));
  }

  /** Shard `index`, 0-based. */
  shardAt(index: number): Database {
    this.assertOpen();
    if (!Number.isInteger(index) || index < 0 || index >= this.options.shardCount) {
      throw new ValidationError(`shard index must be an integer from 0 to ${this.options.shardCount - 1}, got ${index}`);
    }
    const db = this.shards[index];
    if (!db || db.isClosed) throw new ClosedError(`shard ${index} of ${this.options.baseDir}`);
    return db;
  }

  /**
   * Commits operations for several tenants. The whole batch is validated before anything is written;
   * each shard's part then commits atomically, in shard order. If a shard's commit fails, a
   * PartialCommitError says exactly which parts were committed.
   */
  writeBatch(ops: readonly BatchOp[]): BatchResult {
    const groups = this.groupBatch(ops);
    const committed: number[] = [];
    for (const [shard, part] of groups) {
      try {
        this.shardAt(shard).write((tx) => applyPart(tx, part));
      } catch (err) {
        const rest = [...groups.keys()].filter((s) => s !== shard && !committed.includes(s));
        if (committed.length === 0) throw err;
        throw new PartialCommitError(committed, [shard], rest, err);
      }
      committed.push(shard);
    }
    return { shards: [...groups].map(([shard, part]) => ({ shard, ops: part.length })) };
  }

  /** Like {@link writeBatch}, with the shards' parts committed concurrently (group commit). */
  async writeBatchAsync(ops: readonly BatchOp[]): Promise<BatchResult> {
    const groups = this.groupBatch(ops);
    const entries = [...groups];
    const results = await Promise.allSettled(entries.map(([shard, part]) => this.shardAt(shard).writeAsync((tx) => applyPart(tx, part))));
    const failed = entries.filter((_, i) => results[i]!.status === 'rejected').map(([s]) => s);
    if (failed.length > 0) {
      const cause = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
      const committed = entries.filter((_, i) => results[i]!.status === 'fulfilled').map(([s]) => s);
      if (committed.length === 0) throw cause;
      throw new PartialCommitError(committed, failed, [], cause);
    }
    return { shards: entries.map(([shard, part]) => ({ shard, ops: part.length })) };
  }

  /** Overall and per-shard health. */
  health(): HealthReport {
    return rollUp(
      this.shards.map((db, i) =>
        shardHealth(i, this.closed ? null : db, fs.existsSync(this.shardDir(i)) ? this.shardDir(i) : this.options.baseDir, this.verifyRecords[i]!, this.options, this.openedAt, this.lossesOf(i)),
      ),
    );
  }

  /**
   * Every loss repairs of this store could not avoid, oldest first, acknowledged or not. The history
   * is kept in `<baseDir>/redb.losses.json` and survives reopens and later clean repairs.
   */
  lossHistory(): LossRecord[] {
    this.assertOpen();
    return this.history().all();
  }

  /**
   * Acknowledges the losses recorded so far for shard `shard` (or every shard): health() stops
   * reporting them. The records stay in the history. Returns how many records were acknowledged.
   */
  acknowledgeLoss(shard?: number): number {
    this.assertWritable('acknowledgeLoss()');
    if (shard !== undefined && (!Number.isInteger(shard) || shard < 0 || shard >= this.options.shardCount)) {
      throw new ValidationError(`shard index must be an integer from 0 to ${this.options.shardCount - 1}, got ${shard}`);
    }
    return this.history().acknowledge(shard);
  }

  /**
   * Every shard's counters and gauges in the Prometheus text exposition format. Per table it
   * reports the entries folded into the tree and the writes pending since (not exact counts, which
   * `stats()` gives at the price of a lookup per pending write), so a scrape costs about the same
   * whatever the ingest rate.
   */
  metrics(): string {
    const health = this.health().shards;
    return renderMetrics(
      this.shards.map((db) => (db && !db.isClosed ? db.stats({ tables: false }) : null)),
      health,
    );
  }

  /** Checkpoints every shard. */
  checkpoint(): void {
    this.assertWritable('checkpoint()');
    for (let i = 0; i < this.shardCount; i++) this.shardAt(i).checkpoint();
  }

  /** Verifies every shard; the results also feed health(). */
  verify(): { ok: boolean; shards: VerifyReport[] } {
    this.assertWritable('verify()');
    const reports = Array.from({ length: this.shardCount }, (_, i) => {
      const report = this.shardAt(i).verify();
      this.verifyRecords[i] = { ok: report.ok, at: new Date().toISOString(), issues: report.issues.length };
      return report;
    });
    return { ok: reports.every((r) => r.ok), shards: reports };
  }

  /**
   * Offline repair: closes every shard (the store's lock stays held), verifies each, salvages every
   * record that can still be read and authenticated from a damaged one into a fresh shard (keeping
   * the damaged files aside), reopens them all and reports what was recovered and what was lost
   * (losses also go to the loss history and health() until acknowledged). Damage never makes it
   * throw. If a shard cannot be reopened afterwards (repair refused to rebuild it), every shard is
   * closed and the store released: check `isClosed`, and the reports say why.
   */
  repair(): ShardRepairReport[] {
    this.assertWritable('repair()');
    // A shard whose close fails (its final checkpoint met the damage) is closed all the same, and
    // its WAL still holds its commits: the repair below replays them.
    const closeErrors = this.closeShardsCollecting();
    const reports: ShardRepairReport[] = [];
    try {
      for (let i = 0; i < this.shardCount; i++) {
        const r = repairShard(this.shardDir(i), shardOptions(this.options));
        if (closeErrors[i]) r.problems.unshift(`closing the shard for repair failed: ${closeErrors[i]}`);
        this.history().recordRepair(i, r, 'repair');
        reports.push(r);
      }
    } catch (err) {
      this.reopenOrRelease();
      throw err;
    }
    if (this.reopenOrRelease() === null) for (let i = 0; i < this.shardCount; i++) this.recordVerify(i);
    return reports;
  }

  /** Rotates the encryption key of every shard (see Database.rotateKey) and records it in the manifest. */
  rotateKey(newKey: KeySource): void {
    this.assertWritable('rotateKey()');
    resolveKeySource(newKey, 'new key');
    for (let i = 0; i < this.shardCount; i++) this.shardAt(i).rotateKey(newKey);
    this.syncManifestKeys();
  }

  /** Rewrites every shard under the current key and retires the old keys (see Database.rekey). */
  rekey(): void {
    this.assertWritable('rekey()');
    for (let i = 0; i < this.shardCount; i++) this.shardAt(i).rekey();
    this.syncManifestKeys();
  }

  /**
   * Online backup of every shard into `destDir` (new or empty), consistent at one point in time
   * across all shards while writes go on: every shard's checkpoint is pinned in one synchronous step,
   * then its blocks are copied as stored (compressed, and encrypted when the store is), yielding to
   * the event loop as it goes. With `since` (a previous backup's directory), only blocks that backup
   * chain does not already hold are stored; a restore then needs the whole chain. The backup exists
   * once `backup.manifest.json` (BLAKE3 digests of every file) does. See docs/operations.md.
   */
  async backup(destDir: string, options?: BackupOptions): Promise<BackupReport> {
    this.assertWritable('backup()');
    const shards = Array.from({ length: this.shardCount }, (_, i) => backupSourceOf(this.shardAt(i)));
    return writeBackup(this.options.baseDir, shards, destDir, options);
  }

  /**
   * Checks a backup and every base it needs: manifests, the size and BLAKE3 digest of every file, and
   * that every block its indexes name can be found. Never throws for a bad backup; see `issues`.
   */
  static verifyBackup(dir: string): BackupVerifyReport {
    if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('the backup directory must be a non-empty string path');
    return verifyBackupDir(path.resolve(dir));
  }

  /**
   * Rebuilds the store of a backup in `toDir`, after verifying it (BackupCorruptionError if it is
   * damaged or incomplete). Refuses a directory a live store holds (LockedError) and, unless `force`,
   * a non-empty one. Needs no encryption key; opening the result with `RedbManager.open({ baseDir:
   * toDir, ... })` needs the same shard count and keys as the store that was backed up.
   */
  static restore(fromDir: string, toDir: string, options?: RestoreOptions): RestoreReport {
    return restoreBackup(fromDir, toDir, options);
  }

  /** Closes every shard and releases the store. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.closeShards();
    } finally {
      this.lock?.unlock();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`the store at ${this.options.baseDir}`);
    if (this.lock?.compromised) throw this.lock.lostError();
  }

  private assertWritable(what: string): void {
    this.assertOpen();
    if (!this.lock) throw new ReadOnlyError(this.options.baseDir, what);
  }

  private openAll(): void {
    const o = this.options;
    if (o.readOnly) {
      // Nothing may be written: the manifest is only read, and shards open as snapshots.
      const manifest = readManifest(o.baseDir);
      if (!manifest) throw new ValidationError(`there is no redb-audit store in ${o.baseDir} (no ${MANIFEST_NAME}); a read-only open never creates one`);
      if (manifest.shardCount !== o.shardCount) {
        throw new ValidationError(`the store in ${o.baseDir} has ${manifest.shardCount} shard(s) but the options ask for ${o.shardCount}; open it with shardCount: ${manifest.shardCount}`);
      }
      this.openShards();
      return;
    }
    const shardsDir = path.join(o.baseDir, 'shards');
    const hasShards = fs.existsSync(shardsDir) && fs.readdirSync(shardsDir).length > 0;
    const hasManifest = fs.existsSync(path.join(o.baseDir, MANIFEST_NAME));
    if (hasShards && !hasManifest) {
      throw new CorruptionError(path.join(o.baseDir, MANIFEST_NAME), 0, 'the store manifest is missing but shards exist; restore it from a backup');
    }
    reconcileManifest(o, !hasManifest);
    this.openReport.created = !hasManifest;
    this.losses = LossHistory.load(o.baseDir);
    this.openShards();
    if (o.checksumVerification) for (let i = 0; i < this.shardCount; i++) this.recordVerify(i);
    this.openReport.shards.forEach((s, i) => (s.verify = this.verifyRecords[i]!));
  }

  private openShards(): void {
    this.openReport.shards = [];
    for (let i = 0; i < this.shardCount; i++) {
      const dir = this.shardDir(i);
      let repaired: ShardRepairReport | null = null;
      let db: Database;
      try {
        db = Database.openResolved(dir, shardOptions(this.options));
      } catch (err) {
        if (!(err instanceof CorruptionError) || !this.options.autoRecovery || this.options.readOnly) throw err;
        repaired = repairShard(dir, shardOptions(this.options));
        if (repaired.status === 'unrecoverable') {
          throw new CorruptionError(dir, 0, `shard ${i} is damaged and automatic repair refused to rebuild it (${repaired.problems.join('; ')})`);
        }
        this.history().recordRepair(i, repaired, 'open');
        db = Database.openResolved(dir, shardOptions(this.options));
      }
      this.shards[i] = db;
      // What the salvage at open lost belongs to this open's recovery.
      const recovery = repaired ? { ...db.recovery, lostCommits: repaired.lostCommits, lostTxns: repaired.lostTxns } : db.recovery;
      this.openReport.shards.push({ shard: i, recovery, repaired, verify: null });
    }
  }

  private recordVerify(i: number): void {
    const report = this.shardAt(i).verify();
    this.verifyRecords[i] = { ok: report.ok, at: new Date().toISOString(), issues: report.issues.length };
  }

  private history(): LossHistory {
    this.losses ??= LossHistory.load(this.options.baseDir);
    return this.losses;
  }

  /** Health notes for shard `i`'s unacknowledged losses. */
  private lossesOf(i: number): { notes: string[]; lostCommits: number } {
    const h = this.history();
    const records = h.unacknowledged(i);
    const notes = records.map((r) => lossNote(r));
    if (h.unreadable) notes.push(h.unreadable);
    return { notes, lostCommits: records.reduce((n, r) => n + r.lostCommits, 0) };
  }

  /** Closes every shard; never throws. Returns each shard's close error message (null: closed cleanly). */
  private closeShardsCollecting(): (string | null)[] {
    return this.shards.map((db, i) => {
      this.shards[i] = null;
      try {
        db?.close();
        return null;
      } catch (err) {
        return (err as Error).message;
      }
    });
  }

  /**
   * After maintenance: reopens every shard, or, if any cannot be opened, closes them all and releases
   * the store so it is never left half open. Returns the error that forced the release, or null.
   */
  private reopenOrRelease(): unknown {
    try {
      this.openShards();
      return null;
    } catch (err) {
      this.closeShardsCollecting();
      this.closed = true;
      this.lock?.unlock();
      return err;
    }
  }

  private closeShards(): void {
    let first: unknown = null;
    for (let i = 0; i < this.shards.length; i++) {
      try {
        this.shards[i]?.close();
      } catch (err) {
        first ??= err;
      }
      this.shards[i] = null;
    }
    if (first) throw first;
  }

  private syncManifestKeys(): void {
    const ring = this.shardAt(0).keyRingForManifest();
    if (ring) updateManifestKeys(this.options.baseDir, ring);
  }

  /** Validates a whole batch and groups it by shard, in shard order, keeping each part's order. */
  private groupBatch(ops: readonly BatchOp[]): Map<number, BatchOp[]> {
    this.assertOpen();
    if (!Array.isArray(ops)) throw new ValidationError('a batch must be an array of operations');
    const groups = new Map<number, BatchOp[]>();
    ops.forEach((op, i) => {
      if (typeof op !== 'object' || op === null) throw new ValidationError(`batch operation ${i} must be an object`);
      const where = `batch operation ${i}`;
      const shard = this.shardFor(op.tenantId);
      if (op.table !== undefined) checkTableName(op.table);
      checkKey(op.key, `${where}: key`);
      if ((op.value === undefined) === (op.delete !== true)) throw new ValidationError(`${where} must have exactly one of value and delete: true`);
      if (op.value !== undefined) checkValue(op.value);
      let part = groups.get(shard);
      if (!part) groups.set(shard, (part = []));
      part.push(op);
    });
    return new Map([...groups].sort((a, b) => a[0] - b[0]));
  }
}

/** A loss record in words for health(). */
function lossNote(r: LossRecord): string {
  const what: string[] = [];
  if (r.lostCommits > 0) what.push(`${r.lostCommits} acknowledged commit(s)${r.lostTxns ? ` (txns ${r.lostTxns.first}..${r.lostTxns.last})` : ''}`);
  if (r.lostRanges > 0) what.push(`${r.lostRanges} key range(s)`);
  if (r.lostValues > 0) what.push(`${r.lostValues} value(s)`);
  const during = r.during === 'open' ? 'repaired at open' : 'repaired';
  return `shard ${during} (${r.at}) lost ${what.join(', ')} (loss ${r.id}; damaged files in ${r.damagedDir}); restore them from a backup if you can, then call acknowledgeLoss(${r.shard})`;
}

function applyPart(tx: Parameters<Parameters<Database['write']>[0]>[0], part: readonly BatchOp[]): void {
  for (const op of part) {
    const t = op.table === undefined || op.table === DEFAULT_TABLE ? tx : tx.table(op.table);
    if (op.delete) t.delete(op.key);
    else t.put(op.key, op.value!);
  }
}
