/**
 * One shard: a directory holding a page file and a WAL, with ACID transactions and MVCC snapshots.
 *
 * Commit path: the callback runs against a private copy-on-write view; its operations become one WAL
 * record, appended and (per durability) fsynced; only then does the new version become the one
 * snapshots see. Concurrent `writeAsync` commits are appended at once and share the next fsync (group
 * commit); if that fsync fails, every commit waiting on it fails and the in-memory state rolls back
 * to the last durable version, so nothing unacknowledged stays visible.
 *
 * Fencing: a commit is appended only while the directory lock is ours, and acknowledged only if it
 * still is after the commit's fsync (DirLock.check, one fstat each; see io/dir-lock.ts for the exact
 * guarantee). Once the lock is lost every call throws LockedError and close() writes nothing.
 *
 * Read-only (`readOnly: true`): no lock, no writes; the core is a snapshot opened by
 * read-only-open.ts, and a read that meets a checksum failure reopens the snapshot and retries once,
 * since a writer beside us may have recycled blocks our snapshot reaches.
 */
import path from 'node:path';
import { ClosedError, CorruptionError, EncryptionKeyError, ReadOnlyError, RedbError, ValidationError } from '../errors.js';
import { resolveKeySource, type KeySource } from '../codec/key-source.js';
import { DirLock } from '../io/dir-lock.js';
import { prepareStoreDir } from '../io/store-dir.js';
import { segmentFileName } from '../wal/segment-format.js';
import type { ExtentList } from '../pagefile/extent-list.js';
import type { HeaderSlot } from '../pagefile/header-slot.js';
import type { PageFile } from '../pagefile/page-file.js';
import type { NodeStore } from '../btree/node-store.js';
import type { StoreCodec } from '../codec/store-codec.js';
import type { KeyRing } from '../codec/key-ring.js';
import { CheckpointRun, writeCheckpoint, type CheckpointInfo } from './durability/checkpoint.js';
import { compactionHeadroom, compactShard, type CompactInfo } from './maintenance/compact.js';
import { foldMemtables, hasMemtables, memtableBytes } from './txn/fold.js';
import { trimOnClose } from './maintenance/trim.js';
import { txSettings, type ShardCore } from './core.js';
import { DATA_FILE, openShard, type RecoveryReport } from './durability/open-shard.js';
import { openShardReadOnly } from './durability/read-only-open.js';
import { resolveDatabaseOptions, type DatabaseOptions, type Durability, type ResolvedDatabaseOptions } from './options.js';
import { ResumingRange } from './data/resuming-range.js';
import { Snapshot, type SnapshotHost } from './snapshot.js';
import { verifySnapshotDir, writeSnapshot, type SnapshotInfo, type SnapshotReport } from './maintenance/snapshot-copy.js';
import { checkStatsOptions, shardStats, type DatabaseStats, type StatsOptions } from './stats.js';
import { Table } from './table.js';
import { RangeIterator, readCount, readGet, readHas, type Entry } from './data/tree-read.js';
import { checkKey, checkRange, checkTableName, DEFAULT_TABLE, type RangeOptions, isReservedTableName } from './validate.js';
import { verifyShard, type VerifyIssue, type VerifyReport } from './maintenance/verify.js';
import type { Version } from './data/version.js';
import { WriteTxn } from './txn/write-txn.js';

/** A checkpoint held still for a backup; see Database.pinCheckpoint. */
export interface PinnedCheckpoint {
  slot: HeaderSlot;
  file: PageFile;
  store: NodeStore;
  codec: StoreCodec;
  txn: number;
  release(): void;
}

/** A commit appended to the WAL and waiting for an fsync. */
interface Unsynced {
  version: Version;
  freed: ExtentList;
  resolve: (() => void) | null;
  reject: ((err: unknown) => void) | null;
}

/**
 * A commit whose WAL payload is at least this large is flushed on the sync thread while it is
 * applied to memory. Handing a flush to the thread and back costs 40-150 µs on a two-core machine,
 * more than a small commit takes to apply: a single-put commit ran 20-50% slower through it.
 */
const OVERLAPPED_FLUSH_BYTES = 64 << 10;

/** Entries a shard directory may hold before its page file exists (left by a crash while creating it). */
function isShardEntry(name: string): boolean {
  return name === 'wal' || name === 'lock' || name.startsWith('lock.owner') || name.startsWith(`${DATA_FILE}.`);
}

/** More than half of a page file over 1 MiB is free (or waiting to be): worth compacting away. */
function mostlyFree(core: ShardCore): boolean {
  const size = core.file.size();
  return size > 1 << 20 && core.space.allocator.freeBytes + core.space.pendingBytes > size / 2;
}

/**
 * Close-time compaction is optional maintenance: it runs only with head-room on the disk, and a
 * failure (a full disk, an IO error) is not the close's failure. compactShard leaves the old page
 * file and the WAL intact when it fails, and the clean checkpoint that follows covers everything.
 */
function compactBeforeClose(core: ShardCore): void {
  if (!compactionHeadroom(core).ok) return;
  try {
    compactShard(core);
  } catch (err) {
    if (!(err instanceof RedbError) || err instanceof CorruptionError) throw err;
  }
}

/**
 * The close-time trim is maintenance like compaction: the clean checkpoint before it already holds
 * everything, and a trim that fails leaves that checkpoint or its own whole (see trim.ts), so only
 * damage it met is the close's failure.
 */
function trimBeforeClose(core: ShardCore, sessionTxn: number): void {
  try {
    trimOnClose(core, sessionTxn);
  } catch (err) {
    if (!(err instanceof RedbError) || err instanceof CorruptionError) throw err;
  }
}

function isThenable(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** Most commits an automatic checkpoint waits after failures in a row (see checkpointBackoff). */
const MAX_CHECKPOINT_BACKOFF = 64;

/**
 * A background checkpoint gets at least a commit's time (a moving average) after each commit, and
 * more when what it has left, spread evenly over the commits left until TARGET_FILL of the memtable
 * or WAL budget is used, needs more. Once the budget is used, it finishes at once (memtables stay
 * within twice their budget). Even steps keep commit latency flat while a checkpoint runs. Before,
 * each step took 1.5 times the even share of what was left, a margin against running late: that
 * front-loaded every run (its commits waited 190 ms early and 60 ms late at 3,000,000 random puts)
 * and ended it a quarter of the way before the budget, leaving those commits without checkpoint
 * work, so commits during checkpoints ran at 7.4 times the median commit; with even shares, 2.3-3.0
 * (docs/performance.md, "Checkpoint pacing").
 */
const TARGET_FILL = 0.97;
/** How much more work a run is taken to need than the last one (tables grow). */
const RUN_GROWTH = 1.05;
/** Progress below which a run's pace says too little to plan by. */
const MIN_PROGRESS = 0.02;
/** The least time a background checkpoint step gets, so that it moves on beside very fast commits. */
const MIN_STEP_MS = 1;
/** A step taken while the event loop is idle (no commit to give it time after). */
const IDLE_STEP_MS = 4;

/** Fresh snapshots a read-only read tries after a checksum failure before reporting corruption. */
const READ_ONLY_RETRIES = 3;

export class Database {
  /** Absolute path of the shard directory. */
  readonly path: string;
  private recoveryReport: RecoveryReport;
  private core: ShardCore | null;
  /** The writer lock; null when opened read-only. */
  private readonly lock: DirLock | null;
  /** Opened with `readOnly: true`: nothing is ever written. */
  readonly readOnly: boolean;
  private writing = false;
  /** Set when applying a durable commit failed; the database then refuses work until reopened. */
  private failure: Error | null = null;
  private unsynced: Unsynced[] = [];
  private flushQueued = false;
  private flushing = false;
  private timer: NodeJS.Timeout | null = null;
  /**
   * Commits to let pass before the next automatic checkpoint after one failed, doubling with each
   * failure in a row (up to MAX_CHECKPOINT_BACKOFF) and reset by any checkpoint that succeeds. A
   * failed checkpoint keeps what it wrote quarantined until a later one succeeds, so retrying at
   * every commit on a failing disk (or after a bug) added a whole tree's worth of file per commit.
   */
  private checkpointBackoff = 0;
  private commitsUntilCheckpoint = 0;
  /** The background checkpoint in progress (see CheckpointRun), worked on between commits. */
  private run: CheckpointRun | null = null;
  private idleStep: NodeJS.Immediate | null = null;
  /** Moving average of commit times, in ms: how much time a background checkpoint step may take. */
  private commitMs = 0;
  /** Commits since the background checkpoint began. */
  private runCommits = 0;
  /** Work of the last background checkpoint that finished, in ms: the next one's first estimate. */
  private lastRunWorkMs = 0;
  private readonly tableHandles = new Map<string, Table>();
  /** The commit logs' arena: each transaction's log starts at logStart, where the last one ended. */
  private logArena: Uint8Array = new Uint8Array(64 * 1024);
  private logStart = 0;
  /** Payload size of the last transaction's log. */
  private logSize = 0;
  /**
   * Whether the next log's buffers are retained memory (CommitLog): while the last commit kept at
   * least three quarters of its writes in the memtable.
   */
  private logRetained = true;
  private readonly host: SnapshotHost;

  private constructor(dir: string, core: ShardCore, lock: DirLock | null, recovery: RecoveryReport) {
    this.path = dir;
    this.core = core;
    this.lock = lock;
    this.readOnly = lock === null;
    this.recoveryReport = recovery;
    const readers = core.readers;
    this.host = {
      acquire: (v) => {
        readers.add(v.txn);
        v.store.file.retain();
      },
      release: (v) => {
        readers.remove(v.txn);
        v.store.file.release();
      },
      assertOpen: () => {
        if (!this.core) throw new ClosedError(`the database at ${this.path}`);
      },
    };
    const interval = core.options.checkpointIntervalMs;
    if (interval > 0 && lock) {
      this.timer = setInterval(() => this.intervalCheckpoint(), interval);
      this.timer.unref();
    }
  }

  /**
   * Opens the shard in `dir`, creating it (and the directory) if missing and recovering it after a
   * crash. Synchronous. Throws LockedError if another process (or this one) has it open,
   * ValidationError for a path that is a file or a non-empty directory holding no store. A failed
   * open leaves the directory as it found it. With `readOnly`, see {@link DatabaseOptions.readOnly}.
   */
  static open(dir: string, options?: DatabaseOptions): Database {
    if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('the database directory must be a non-empty string path');
    return Database.openResolved(dir, resolveDatabaseOptions(options));
  }

  /**
   * @internal Opens with options already resolved (RedbManager resolves its options once and opens
   * every shard with the result; repair reopens with the options it was given).
   */
  static openResolved(dir: string, resolved: ResolvedDatabaseOptions): Database {
    const abs = path.resolve(dir);
    const place = prepareStoreDir(abs, {
      create: !resolved.readOnly,
      what: 'redb-audit database',
      isStore: (names) => names.includes(DATA_FILE),
      isOwnEntry: isShardEntry,
    });
    if (resolved.readOnly) {
      const { core, recovery } = openShardReadOnly(abs, resolved);
      return new Database(abs, core, null, recovery);
    }
    let lock: DirLock | null = null;
    try {
      lock = DirLock.acquire(abs);
      const { core, recovery } = openShard(abs, resolved);
      // A key added at open must be in a durable header slot before anything is sealed under it.
      if (core.ringChanged) writeCheckpoint(core);
      return new Database(abs, core, lock, recovery);
    } catch (err) {
      lock?.unlock();
      // Lock files are the lock's to remove: another opener may be writing its intent right now.
      place.undo((name) => name === 'lock' || name.startsWith('lock.owner'));
      throw err;
    }
  }

  /** The durability this database was opened with. */
  get durability(): Durability {
    return this.live().options.durability;
  }

  /**
   * What opening found: checkpoint used, commits replayed, torn tail cut. For a read-only database
   * whose snapshot was reopened (see readLatest), what the latest of those opens found.
   */
  get recovery(): RecoveryReport {
    return this.recoveryReport;
  }

  get isClosed(): boolean {
    return this.core === null;
  }

  /**
   * Runs `fn` as one atomic transaction and commits it. Returns `fn`'s result once the commit is
   * durable per the `durability` option. If `fn` throws, nothing is written and the error propagates.
   * `fn` must be synchronous; the transaction object is only valid inside it.
   */
  write<T>(fn: (tx: WriteTxn) => T): T {
    if (!this.lock) throw new ReadOnlyError(this.path, 'write()');
    const started = performance.now();
    const { tx, result } = this.runTransaction(fn);
    if (!tx.changed) return result;
    const core = this.live();
    // Everything appended so far becomes durable together, earlier group commits included.
    if (this.appendRecord(tx) >= OVERLAPPED_FLUSH_BYTES) {
      this.applyWhileFlushing(tx, started);
    } else {
      this.flushSync();
      // Readers never see the tree until this returns, so only registered snapshots limit in-place edits.
      const version = this.mergeCommitted(tx, core.readers.newest());
      core.latest = version;
      core.durable = version;
      core.space.addFreed(version.txn, tx.freed);
      this.committed(version, started);
    }
    this.afterCommit();
    return result;
  }

  /**
   * Like {@link write}, but resolves once the commit is durable without blocking the event loop on the
   * fsync; commits made while an fsync runs share the next one (group commit).
   */
  writeAsync<T>(fn: (tx: WriteTxn) => T): Promise<T> {
    try {
      if (!this.lock) throw new ReadOnlyError(this.path, 'writeAsync()');
      const started = performance.now();
      const { tx, result } = this.runTransaction(fn);
      if (!tx.changed) return Promise.resolve(result);
      const core = this.live();
      this.appendRecord(tx);
      // Until its fsync, this commit's version must not share an edited node with one that may become
      // durable first (or with the durable one readers see): only its own new nodes change in place.
      const version = this.mergeCommitted(tx, Math.max(core.readers.newest(), core.latest.txn));
      core.latest = version;
      this.committed(version, started);
      return new Promise<T>((resolve, reject) => {
        this.unsynced.push({ version, freed: tx.freed, resolve: () => resolve(result), reject });
        if (core.options.durability === 'none') this.flushSync();
        else this.scheduleFlush();
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** A snapshot of the latest durable commit. Close it when done. */
  read(): Snapshot {
    return new Snapshot(this.host, this.live().durable);
  }

  /**
   * @internal A snapshot of the latest durable commit that the caller closes in a `finally` of
   * the same synchronous call (never one kept by a generator or handed out): it is not tracked for
   * release at garbage collection.
   */
  readScoped(): Snapshot {
    return new Snapshot(this.host, this.live().durable, true);
  }

  /** The value of `key` in the default table, from the latest durable commit. */
  get(key: Uint8Array): Buffer | undefined {
    const k = checkKey(key);
    return this.readLatest((v) => readGet(v, DEFAULT_TABLE, k));
  }

  has(key: Uint8Array): boolean {
    const k = checkKey(key);
    return this.readLatest((v) => readHas(v, DEFAULT_TABLE, k));
  }

  /** Entries of the default table in key order, read from one snapshot held until the scan ends. */
  range(options?: RangeOptions): IterableIterator<Entry> {
    return this.rangeOf(DEFAULT_TABLE, options);
  }

  /** Number of entries in the default table. */
  count(): number {
    return this.readLatest((v) => readCount(v, DEFAULT_TABLE));
  }

  /** A handle on the named table (created by its first write). */
  table(name: string): Table {
    this.live();
    let t = this.tableHandles.get(name);
    if (!t) {
      t = new Table(this, checkTableName(name));
      this.tableHandles.set(name, t);
    }
    return t;
  }

  /** Names of the tables that exist. */
  tableNames(): string[] {
    return [...this.live().durable.tables.keys()].filter((n) => !isReservedTableName(n)).sort();
  }

  /** Writes every change since the last checkpoint to the page file and trims the WAL. */
  checkpoint(): CheckpointInfo {
    this.assertNotWriting('checkpoint()');
    const core = this.writable('checkpoint()');
    this.completeRun();
    this.flushSync();
    try {
      const info = writeCheckpoint(core);
      this.checkpointSucceeded(core);
      return info;
    } catch (err) {
      core.counters.lastCheckpointError = err as Error;
      throw err;
    }
  }

  /** Checks every block, the tree shapes, space accounting and the WAL; see {@link VerifyReport}. */
  verify(): VerifyReport {
    this.assertNotWriting('verify()');
    const core = this.writable('verify()');
    // Verify checks trees, and the blob counts against the references in them.
    this.flushSync();
    // A fold reads tree blocks: if it meets damage, that is the first finding, and the trees on disk
    // are still checked as they are.
    const prior: VerifyIssue[] = [];
    try {
      this.fold();
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
      prior.push({ area: 'block', file: err.file, offset: err.offset, message: `folding the commits in memory into the trees failed: ${err.message}` });
    }
    return verifyShard(core, prior);
  }

  /**
   * Rewrites the page file densely and gives the free space back to the file system. Snapshots that
   * are open keep reading the old file until they close.
   */
  compact(): CompactInfo {
    this.assertNotWriting('compact()');
    const core = this.writable('compact()');
    this.flushSync();
    this.fold();
    return compactShard(core);
  }

  /**
   * Makes `newKey` the key new data is encrypted with, durably, and returns its key id. Data written
   * before stays readable with the old key, so later opens need both (`previousEncryptionKeys`)
   * until {@link rekey} rewrites everything under the new one.
   */
  rotateKey(newKey: KeySource): number {
    this.assertNotWriting('rotateKey()');
    const core = this.writable('rotateKey()');
    const ring = core.codec.keyRing;
    if (!ring) throw new EncryptionKeyError('this store is not encrypted, so it has no key to rotate; encryption is chosen when a store is created');
    const key = resolveKeySource(newKey, 'new key');
    this.flushSync();
    const before = ring.save();
    const id = ring.add(key);
    if (id === before.current) return id;
    core.ringChanged = true;
    try {
      // The ring must be in a durable header slot before anything is sealed under the new key.
      this.checkpoint();
    } catch (err) {
      ring.restore(before);
      core.ringChanged = false;
      throw err;
    }
    return id;
  }

  /**
   * Rewrites every block and starts a fresh WAL under the current key, then retires every other key:
   * afterwards only the current key opens the store (snapshots and backups taken earlier keep
   * needing the keys they were written with).
   */
  rekey(): CompactInfo {
    this.assertNotWriting('rekey()');
    const core = this.writable('rekey()');
    const ring = core.codec.keyRing;
    if (!ring) throw new EncryptionKeyError('this store is not encrypted, so it has nothing to rekey');
    this.flushSync();
    this.fold();
    const info = compactShard(core);
    ring.retireOthers();
    core.ringChanged = true;
    writeCheckpoint(core);
    return info;
  }

  /**
   * Writes a consistent copy of the latest durable commit into `dir` (new or empty) while writes go
   * on, with a manifest of BLAKE3 digests. `Database.open(dir)` opens it as a normal store and
   * {@link Database.verifySnapshot} checks it.
   */
  async snapshotTo(dir: string): Promise<SnapshotInfo> {
    if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('the snapshot directory must be a non-empty string path');
    const core = this.writable('snapshotTo()');
    const target = path.resolve(dir);
    if (target === this.path || target.startsWith(this.path + path.sep)) throw new ValidationError('a snapshot cannot be written inside the store it copies');
    this.assertNotWriting('snapshotTo()');
    // The copy is of trees: fold the memtables into them first.
    this.flushSync();
    this.fold();
    const snap = this.read();
    try {
      return await writeSnapshot(core, snap.liveVersion(), target);
    } finally {
      snap.close();
    }
  }

  /** Checks a snapshot directory against its manifest (sizes and BLAKE3 digests of every file). */
  static verifySnapshot(dir: string): SnapshotReport {
    if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('the snapshot directory must be a non-empty string path');
    return verifySnapshotDir(path.resolve(dir));
  }

  /**
   * Sizes, counts, cache and checkpoint figures. `{ tables: false }` skips counting each table's
   * entries, the one part whose cost grows with the commits since the last count.
   */
  stats(options?: StatsOptions): DatabaseStats {
    const countTables = checkStatsOptions(options);
    return shardStats(this.live(), this.recoveryReport, countTables);
  }

  /**
   * Flushes pending commits, checkpoints so that the next open replays nothing, and releases the
   * directory. Safe to call twice. Open snapshots become unusable.
   */
  close(): void {
    const core = this.core;
    if (!core) return;
    this.assertNotWriting('close()');
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.idleStep) clearImmediate(this.idleStep);
    this.idleStep = null;
    if (!this.lock) {
      this.core = null;
      core.file.retire();
      return;
    }
    let clean = false;
    try {
      // After a failure, memory is behind the WAL: nothing is written, and the next open replays it.
      // With the lock lost, the files are another process's now: nothing is written either.
      if (!this.failure && this.lock.stillOurs()) {
        this.flushSync();
        this.completeRun();
        // A checkpoint folds the memtables in slices, storing leaves as it goes: folding them all
        // first (this.fold()) held every leaf they touch, for random keys most of the table (+400
        // MiB at 3M puts). What the fold freed still counts towards compacting.
        const folded = hasMemtables(core.latest);
        if (folded) writeCheckpoint(core, true);
        const compacting = core.options.compactOnClose && mostlyFree(core);
        if (compacting) compactBeforeClose(core);
        if (compacting || !folded) writeCheckpoint(core, true);
        clean = true;
        if (core.options.compactOnClose) trimBeforeClose(core, this.recoveryReport.checkpointTxn);
      }
    } finally {
      this.core = null;
      // The lock is released whatever closing the files does: a close that failed must not leave the
      // store unopenable for the next process.
      try {
        core.wal.close();
        if (clean) {
          try {
            core.io.unlink(path.join(core.walDir, segmentFileName(core.wal.segment)));
          } catch {
            // Both slots say the WAL is not needed; a leftover segment is ignored and removed next open.
          }
        }
        core.file.retire();
      } finally {
        this.lock.unlock();
        for (const u of this.unsynced) u.reject?.(new ClosedError(`the database at ${this.path}`));
        this.unsynced = [];
      }
    }
  }

  /**
   * @internal For backups: checkpoints, then pins that checkpoint. Until `release()`, no block the
   * returned header slot reaches is reused, whatever is written, checkpointed or compacted meanwhile.
   */
  pinCheckpoint(): PinnedCheckpoint {
    this.assertNotWriting('a backup');
    const core = this.writable('a backup');
    this.flushSync();
    this.fold();
    writeCheckpoint(core);
    const snapshot = this.read();
    return {
      slot: { ...core.slots.active },
      file: core.file,
      store: core.store,
      codec: core.codec,
      txn: snapshot.txn,
      release: () => snapshot.close(),
    };
  }

  /** @internal The key ring, for the store manifest of a manager. */
  keyRingForManifest(): KeyRing | null {
    return this.live().codec.keyRing;
  }

  /** @internal Range over any table, for Table handles. */
  rangeOf(table: string, options: RangeOptions | undefined): IterableIterator<Entry> {
    const opts = checkRange(options);
    if (!this.lock) return new ResumingRange(opts, (o) => this.scanLatest(table, o), () => this.reopenReadOnly());
    return this.scanLatest(table, opts);
  }

  private scanLatest(table: string, opts: RangeOptions): IterableIterator<Entry> {
    const snap = this.read();
    const v = snap.liveVersion();
    return new RangeIterator(v, table, opts, () => snap.liveVersion(), () => snap.close());
  }

  /** @internal The latest durable version, for Table handles. */
  durableVersion(): Version {
    return this.live().durable;
  }

  /**
   * @internal Runs a read of the latest durable version. Read-only, a checksum failure may be the
   * writer beside us having recycled a block our snapshot reaches: reopen the snapshot and try
   * again, up to READ_ONLY_RETRIES times (a busy writer can recycle again while a long read, such as
   * a count over a large memtable, runs); a failure that survives them is reported.
   */
  readLatest<T>(fn: (v: Version) => T): T {
    if (this.lock) return fn(this.live().durable);
    for (let attempt = 0; ; attempt++) {
      try {
        return fn(this.live().durable);
      } catch (err) {
        if (!(err instanceof CorruptionError) || attempt >= READ_ONLY_RETRIES) throw err;
        this.reopenReadOnly();
      }
    }
  }

  /** Replaces a read-only database's snapshot with a fresh one; open Snapshots keep the old file. */
  private reopenReadOnly(): void {
    const old = this.live();
    const { core, recovery } = openShardReadOnly(this.path, old.options);
    this.core = core;
    this.recoveryReport = recovery;
    old.file.retire();
  }

  private live(): ShardCore {
    if (!this.core) throw new ClosedError(`the database at ${this.path}`);
    if (this.lock?.compromised) throw this.lock.lostError();
    if (this.failure) {
      throw new ClosedError(
        `the database at ${this.path} (it stopped after applying a durable commit failed: ${this.failure.message}; reopen it to recover, and run repair if that reports damage)`,
      );
    }
    return this.core;
  }

  /**
   * The core, for a call that writes: refuses when read-only, and (one fstat) when the directory
   * lock is no longer ours, so that a writer that lost its lock never writes again.
   */
  private writable(what: string): ShardCore {
    if (!this.lock) throw new ReadOnlyError(this.path, what);
    const core = this.live();
    this.lock.check();
    return core;
  }

  private assertNotWriting(what: string): void {
    if (this.writing) throw new ValidationError(`${what} cannot run inside a write transaction; call it after the callback returns`);
  }

  private runTransaction<T>(fn: (tx: WriteTxn) => T): { tx: WriteTxn; result: T } {
    const core = this.live();
    if (typeof fn !== 'function') throw new ValidationError('write() takes a callback: db.write(tx => { tx.put(key, value) })');
    if (this.writing) {
      throw new ValidationError('write() was called inside another write transaction; a shard has one writer, so do all the work in one callback');
    }
    this.writing = true;
    const tx = new WriteTxn(core.latest, core.latest.txn + 1, txSettings(core), this.logArena, this.logStart, this.logSize, this.logRetained);
    try {
      const result = fn(tx);
      this.logArena = tx.log!.arena;
      this.logStart = tx.log!.end;
      this.logSize = tx.log!.payload().length;
      if (isThenable(result)) {
        throw new ValidationError('write callbacks must be synchronous (they returned a promise); nothing was written. Await writeAsync() instead');
      }
      return { tx, result };
    } finally {
      tx.close();
      this.writing = false;
    }
  }

  /**
   * Writes a transaction's WAL record and returns its payload's length; after a failure, rolls back
   * what the WAL no longer holds.
   */
  private appendRecord(tx: WriteTxn): number {
    const core = this.writable('a commit');
    const payload = tx.log!.payload();
    try {
      core.leafRatio.logged(payload.length, core.wal.append(tx.txn, payload));
    } catch (err) {
      this.afterWalFailure(err);
      throw err;
    }
    core.counters.commits++;
    return payload.length;
  }

  /**
   * Folds the memtables into the trees (every commit must be durable). Failing here means the tree
   * could not be read, and the fold may have changed nodes in place: the database stops taking work
   * until it is reopened, as after a failed merge.
   */
  private fold(): void {
    this.completeRun();
    try {
      foldMemtables(this.live());
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
  }

  /**
   * Applies a commit whose WAL record is written. Failing here means the tree could not be read
   * (corruption met while applying): the commit is in the WAL but not in memory, so the database
   * stops taking work until it is reopened (recovery replays the commit, or reports the damage).
   */
  private mergeCommitted(tx: WriteTxn, mutableAfter: number): Version {
    try {
      const version = tx.merge(mutableAfter);
      if (tx.log) this.logRetained = tx.supersededWrites * 4 <= tx.log.length;
      return version;
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
  }

  /**
   * The end of a large commit in write(): the sync thread flushes its record while it is applied to
   * memory, as an unsynced commit that a failed flush rolls back (so it shares no edited node with
   * the durable version, as under writeAsync). It is published to readers only once the flush
   * succeeded.
   */
  private applyWhileFlushing(tx: WriteTxn, started: number): void {
    const core = this.live();
    let flush: { finish(): void };
    try {
      flush = core.wal.startSync();
    } catch (err) {
      this.afterWalFailure(err);
      throw err;
    }
    let version: Version;
    try {
      version = this.mergeCommitted(tx, Math.max(core.readers.newest(), core.latest.txn));
    } catch (err) {
      try {
        flush.finish();
      } catch {
        // The merge's failure is the one reported; the database takes no more work either way.
      }
      throw err;
    }
    core.latest = version;
    this.unsynced.push({ version, freed: tx.freed, resolve: null, reject: null });
    this.committed(version, started);
    this.finishFlush(flush);
  }

  /** Makes every appended commit durable now; throws (after rolling back) if the fsync fails. */
  private flushSync(): void {
    this.finishFlush({ finish: () => this.live().wal.sync() });
  }

  /** Waits for a flush of the WAL; publishes what it made durable, or rolls back and throws. */
  private finishFlush(flush: { finish(): void }): void {
    const core = this.live();
    try {
      flush.finish();
    } catch (err) {
      this.afterWalFailure(err);
      throw err;
    }
    this.fenceAcks();
    this.markDurable(core.wal.durableTxn);
  }

  /**
   * Before acknowledging what the last fsync made durable: the lock must still be ours, or a taker
   * may have read the WAL before these records were in it. If not, every waiting commit fails.
   */
  private fenceAcks(): void {
    try {
      this.lock!.check();
    } catch (err) {
      const waiting = this.unsynced;
      this.unsynced = [];
      for (const u of waiting) u.reject?.(err);
      throw err;
    }
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    const run = (): void => {
      this.flushQueued = false;
      void this.flushAsync();
    };
    const window = this.live().options;
    if (window.durability === 'group' && window.groupCommitWindowMs > 0) setTimeout(run, window.groupCommitWindowMs);
    else queueMicrotask(run);
  }

  private async flushAsync(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.core && this.unsynced.length > 0) {
        const core = this.core;
        try {
          const durableTxn = await core.wal.syncAsync();
          if (this.core !== core) continue;
          try {
            this.fenceAcks();
          } catch {
            // Every waiting commit was rejected with the LockedError.
            break;
          }
          this.markDurable(durableTxn);
        } catch (err) {
          if (this.core === core) this.afterWalFailure(err);
        }
      }
    } finally {
      this.flushing = false;
    }
    if (this.core) this.afterCommit();
  }

  /** Publishes every commit up to `durableTxn` to readers and resolves its promise. */
  private markDurable(durableTxn: number): void {
    const core = this.core!;
    let n = 0;
    while (n < this.unsynced.length && this.unsynced[n]!.version.txn <= durableTxn) {
      const u = this.unsynced[n]!;
      core.durable = u.version;
      core.space.addFreed(u.version.txn, u.freed);
      n++;
    }
    if (n === 0) return;
    const done = this.unsynced.slice(0, n);
    this.unsynced = this.unsynced.slice(n);
    for (const u of done) u.resolve?.();
  }

  /** After a failed WAL write or sync: fail and forget every commit the WAL no longer holds. */
  private afterWalFailure(err: unknown): void {
    const core = this.core!;
    // Fence off what the failed call left in the segment now rather than at the next append: the new
    // segment's header names the end of the last good record, so a crash before the next commit
    // cannot replay a commit that is about to be reported as failed. If the rotation fails too, the
    // writer stays broken and the next append retries it; if its fsync of earlier records fails,
    // `appendedTxn` drops and those commits fail below as well.
    try {
      core.wal.rotate();
    } catch {
      // Reported through `err`; the next append rotates again before writing.
    }
    const kept = core.wal.appendedTxn;
    const lost = this.unsynced.filter((u) => u.version.txn > kept);
    this.unsynced = this.unsynced.filter((u) => u.version.txn <= kept);
    core.latest = this.unsynced[this.unsynced.length - 1]?.version ?? core.durable;
    // The lost commits went into memtables the kept versions share: take them out again.
    for (const t of core.latest.tables.values()) t.mem?.rollback(kept);
    for (const u of lost) u.reject?.(err);
  }

  /** After a commit's version is the newest: times it, and drops a checkpoint run it invalidates. */
  private committed(version: Version, started: number): void {
    const ms = performance.now() - started;
    this.commitMs = this.commitMs === 0 ? ms : 0.9 * this.commitMs + 0.1 * ms;
    if (this.run?.invalidatedBy(version)) {
      const run = this.run;
      this.endRun();
      run.abort();
    }
  }

  private afterCommit(): void {
    const core = this.core!;
    if (this.run) {
      this.advanceRun(this.stepBudget(core, this.run));
      return;
    }
    if (core.wal.bytesWritten - core.walBytesAtCheckpoint >= core.options.checkpointWalBytes || memtableBytes(core.latest) >= core.options.memtableBytes) {
      if (this.commitsUntilCheckpoint > 0) this.commitsUntilCheckpoint--;
      else this.startRun();
    }
  }

  private intervalCheckpoint(): void {
    const core = this.core;
    if (!core || this.writing) return;
    if (this.run) this.advanceRun(IDLE_STEP_MS);
    else if (core.latest.txn !== core.slots.active.checkpointTxn) this.startRun();
  }

  /**
   * How long the background checkpoint may work after this commit: its estimated remaining work
   * spread evenly over the commits left before TARGET_FILL of the memtable or WAL budget (or, once
   * past it, before all of it), at least a commit's time, everything once the budget is used.
   */
  private stepBudget(core: ShardCore, run: CheckpointRun): number {
    const o = core.options;
    const fill = Math.max((memtableBytes(core.latest) - run.memBytesAtStart) / o.memtableBytes, (core.wal.bytesWritten - run.walBytesAtStart) / o.checkpointWalBytes);
    if (fill >= 1) return Infinity;
    this.runCommits++;
    const least = Math.max(MIN_STEP_MS, this.commitMs);
    if (fill <= 0) return least;
    const p = run.progress();
    // What is left: the share of the run not done yet, of the last run's total (which the next one
    // exceeds a little as the table grows). A run's own pace overestimates its early slices, which
    // fold into a cold tree; only the first run, with no last one, goes by it. Before progress says
    // anything, the last run's total less the work done.
    const ownMs = p >= MIN_PROGRESS ? run.workMs / p : 0;
    const totalMs = this.lastRunWorkMs > 0 ? this.lastRunWorkMs * RUN_GROWTH : ownMs;
    const remainingMs = ownMs > 0 ? (1 - p) * totalMs : Math.max(0, totalMs - run.workMs);
    const perCommit = fill / this.runCommits;
    const until = fill < TARGET_FILL ? TARGET_FILL : 1;
    const commitsLeft = Math.max(1, (until - fill) / perCommit);
    return Math.max(least, remainingMs / commitsLeft);
  }

  /** Begins a checkpoint nobody asked for, to run between commits; only once every commit is durable. */
  private startRun(): void {
    const core = this.core!;
    if (this.unsynced.length > 0 || this.failure || !this.lock?.stillOurs()) return;
    try {
      this.run = new CheckpointRun(core, false, true);
      this.runCommits = 0;
      core.counters.checkpointRunningTxn = this.run.txn;
    } catch (err) {
      this.checkpointFailed(core, err);
      return;
    }
    this.advanceRun(Math.max(MIN_STEP_MS, this.commitMs));
  }

  /**
   * Works on the background checkpoint for `budgetMs`, and finishes it when its writes are done and
   * every commit is durable (it is installed over the newest version). Its failure is recorded for
   * stats/health, not thrown: the WAL still holds every commit.
   */
  private advanceRun(budgetMs: number): void {
    const core = this.core!;
    const run = this.run!;
    let ready: boolean;
    try {
      ready = run.step(performance.now() + budgetMs);
      if (ready && this.unsynced.length === 0) {
        this.endRun();
        this.lastRunWorkMs = run.workMs;
        run.finish();
        this.checkpointSucceeded(core);
        return;
      }
    } catch (err) {
      this.endRun();
      run.abort();
      this.checkpointFailed(core, err);
      return;
    }
    // Idle turns of the event loop carry it on; a finished run waits for the next commit or flush.
    if (!ready && !this.idleStep) {
      this.idleStep = setImmediate(() => {
        this.idleStep = null;
        if (this.run && this.core && !this.writing) this.advanceRun(IDLE_STEP_MS);
      });
      this.idleStep.unref();
    }
  }

  /** Finishes the background checkpoint now, for a call that needs it done (or the trees to itself). */
  private completeRun(): void {
    const run = this.run;
    if (!run) return;
    this.endRun();
    const core = this.live();
    try {
      this.flushSync();
      run.finish();
    } catch (err) {
      run.abort();
      this.checkpointFailed(core, err);
      throw err;
    }
    this.checkpointSucceeded(core);
  }

  /** The background checkpoint is over (finished, failed or abandoned). */
  private endRun(): void {
    this.run = null;
    if (this.core) this.core.counters.checkpointRunningTxn = null;
  }

  private checkpointSucceeded(core: ShardCore): void {
    core.counters.lastCheckpointError = null;
    this.checkpointBackoff = 0;
    this.commitsUntilCheckpoint = 0;
  }

  /** Recorded in counters.lastCheckpointError; later automatic attempts back off (see checkpointBackoff). */
  private checkpointFailed(core: ShardCore, err: unknown): void {
    core.counters.lastCheckpointError = err as Error;
    this.checkpointBackoff = Math.min(MAX_CHECKPOINT_BACKOFF, Math.max(1, 2 * this.checkpointBackoff));
    this.commitsUntilCheckpoint = this.checkpointBackoff;
  }
}
