/**
 * RedbManager: a base directory of N shards, routed by tenant, with the operations the seed guides
 * describe (health, metrics, backup, restore, repair). Layout:
 *
 *   <baseDir>/redb.manifest.json   shard count, routing, codec settings, key-check values
 *   <baseDir>/lock, lock.owner     one process at a time (see io/dir-lock.ts)
 *   <baseDir>/shards/<NNN>/        one shard directory each (see docs/format.md)
 *   <baseDir>/shards/<NNN>.damaged-<time>/   a shard repair set aside
 *
 * Opening checks the options against the manifest before any shard is touched, then opens every
 * shard (crash recovery is part of opening one), repairs a corrupt one when autoRecovery is on, and
 * with checksumVerification verifies each.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ClosedError, CorruptionError, PartialCommitError, ReadOnlyError, ValidationError } from '../errors.js';
import { resolveKeySource, type KeySource } from '../codec/key-source.js';
import { DirLock } from '../io/dir-lock.js';
import { prepareStoreDir } from '../io/store-dir.js';
import { Database } from '../shard/database.js';
import type { RecoveryReport } from '../shard/open-shard.js';
import { checkKey, checkTableName, checkValue, DEFAULT_TABLE } from '../shard/validate.js';
import type { VerifyReport } from '../shard/verify.js';
import { rollUp, shardHealth, type HealthReport, type VerifyRecord } from './health.js';
import { MANIFEST_NAME, readManifest, reconcileManifest, updateManifestKeys } from './manifest.js';
import { renderMetrics } from './metrics.js';
import { resolveRedbOptions, shardOptions, type RedbOptions, type ResolvedRedbOptions } from './options.js';
import { routeTenant } from './routing.js';
import { repairShard, type ShardRepairReport } from '../shard/repair.js';
import { writeBackup, type BackupOptions, type BackupReport } from './backup.js';
import { verifyBackupDir, type BackupVerifyReport } from './backup-verify.js';
import { restoreBackup, type RestoreOptions, type RestoreReport } from './restore.js';

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
  /** What the last repair of each shard lost, for health(); empty when nothing was lost. */
  private readonly repairNotes: string[][];
  /** The store's lock; null when opened read-only. */
  private readonly lock: DirLock | null;
  private readonly openedAt = Date.now();
  private closed = false;

  private constructor(options: ResolvedRedbOptions, lock: DirLock | null) {
    this.options = options;
    this.lock = lock;
    this.shards = new Array<Database | null>(options.shardCount).fill(null);
    this.verifyRecords = new Array<VerifyRecord | null>(options.shardCount).fill(null);
    this.repairNotes = Array.from({ length: options.shardCount }, () => []);
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
        shardHealth(i, this.closed ? null : db, fs.existsSync(this.shardDir(i)) ? this.shardDir(i) : this.options.baseDir, this.verifyRecords[i]!, this.options, this.openedAt, this.repairNotes[i]!),
      ),
    );
  }

  /** Every shard's counters and gauges in the Prometheus text exposition format. */
  metrics(): string {
    const health = this.health().shards;
    return renderMetrics(
      this.shards.map((db) => (db && !db.isClosed ? db.stats() : null)),
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
   * the damaged files aside), reopens them all and reports what was recovered and what was lost.
   */
  repair(): ShardRepairReport[] {
    this.assertWritable('repair()');
    this.closeShards();
    const reports: ShardRepairReport[] = [];
    try {
      for (let i = 0; i < this.shardCount; i++) {
        const r = repairShard(this.shardDir(i), shardOptions(this.options));
        this.repairNotes[i] = repairLosses(r, 'repaired');
        reports.push(r);
      }
    } finally {
      this.openShards();
    }
    for (let i = 0; i < this.shardCount; i++) this.recordVerify(i);
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
    const shards = Array.from({ length: this.shardCount }, (_, i) => this.shardAt(i));
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
        db = Database.open(dir, shardOptions(this.options));
      } catch (err) {
        if (!(err instanceof CorruptionError) || !this.options.autoRecovery || this.options.readOnly) throw err;
        repaired = repairShard(dir, shardOptions(this.options));
        this.repairNotes[i] = repairLosses(repaired, 'repaired at open');
        db = Database.open(dir, shardOptions(this.options));
      }
      this.shards[i] = db;
      this.openReport.shards.push({ shard: i, recovery: db.recovery, repaired, verify: null });
    }
  }

  private recordVerify(i: number): void {
    const report = this.shardAt(i).verify();
    this.verifyRecords[i] = { ok: report.ok, at: new Date().toISOString(), issues: report.issues.length };
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

/** What a repair lost, in words for health(); empty when it lost nothing. */
function repairLosses(r: ShardRepairReport, when: string): string[] {
  if (r.status === 'clean') return [];
  const notes: string[] = [];
  if (r.status === 'unrecoverable') notes.push(`shard ${when} but nothing could be read: it was rebuilt empty; restore it from a backup (damaged files in ${r.damagedDir})`);
  if (r.lostRanges.length > 0) notes.push(`shard ${when}: ${r.lostRanges.length} key range(s) lost; see the repair report`);
  if (r.lostValues.length > 0) notes.push(`shard ${when}: ${r.lostValues.length} value(s) lost`);
  if (r.walDamage) notes.push(`shard ${when}: commits after a damaged WAL record were lost (${r.walDamage})`);
  return notes;
}

function applyPart(tx: Parameters<Parameters<Database['write']>[0]>[0], part: readonly BatchOp[]): void {
  for (const op of part) {
    const t = op.table === undefined || op.table === DEFAULT_TABLE ? tx : tx.table(op.table);
    if (op.delete) t.delete(op.key);
    else t.put(op.key, op.value!);
  }
}
