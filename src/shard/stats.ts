/** The figures `Database.stats()` reports. */
import type { ShardCore } from './core.js';
import type { RecoveryReport } from './durability/open-shard.js';
import { readCount } from './data/tree-read.js';
import { listSegments } from '../wal/wal-scan.js';
import path from 'node:path';
import { segmentFileName } from '../wal/segment-format.js';
import { isReservedTableName } from './validate.js';
import { ValidationError } from '../errors.js';

/** What `Database.stats()` counts. */
export interface StatsOptions {
  /**
   * Count each table's entries (default true). Counting commits not yet checkpointed takes a tree
   * lookup per key they wrote since the last count (seconds after a few hundred thousand audit
   * events); `false` leaves `tables` empty and costs nothing that grows with the data.
   */
  tables?: boolean;
}

/** Sizes, counts and activity of one shard. */
export interface DatabaseStats {
  path: string;
  /** Latest committed transaction id. */
  txn: number;
  /** Latest durable transaction id (what snapshots see). */
  durableTxn: number;
  /** Transaction id held by the newest checkpoint. */
  checkpointTxn: number;
  /** Entries per user table, by name; empty when asked not to count (StatsOptions.tables). */
  tables: { name: string; entries: number }[];
  /**
   * Per user table, by name, what costs nothing to report: `foldedEntries`, the entries of its
   * B-tree (everything up to the newest checkpoint), and `pendingWrites`, the writes since, held
   * in its memtable until a checkpoint folds them (a key written by several commits counts once per
   * commit). Always filled: the exact count in `tables` needs a lookup per pending write.
   */
  trees: { name: string; foldedEntries: number; pendingWrites: number }[];
  /** Size of the page file, in bytes. */
  pageFileBytes: number;
  /** Bytes of the page file in free or not-yet-reusable extents. */
  freeBytes: number;
  /** Number of WAL segment files and their total size in bytes (apparent size; segments are sparse). */
  walSegments: number;
  walFileBytes: number;
  /** WAL bytes written since the last checkpoint. */
  walBytesSinceCheckpoint: number;
  cache: { limitBytes: number; usedBytes: number; hits: number; misses: number; hitRatio: number };
  commits: number;
  checkpoints: number;
  /**
   * Time spent in checkpoints, from the start of each to its end: for one that works between
   * commits (see `checkpointRunningTxn`), the commits in between count too.
   */
  checkpointMsTotal: number;
  /**
   * The transaction a checkpoint in progress is storing, or null. Automatic checkpoints work in
   * slices between commits, so that no commit waits for a whole one; until one finishes, the WAL
   * holds everything since the previous one.
   */
  checkpointRunningTxn: number | null;
  lastCheckpointAt: number | null;
  lastCheckpointError: string | null;
  blockBytesWritten: number;
  /** Bytes read from the page file (cache misses, verify) since open. */
  pageBytesRead: number;
  walBytesWritten: number;
  /** Raw bytes per stored byte of leaves, as last measured (1 without compression). */
  compressionRatio: number;
  compactions: number;
  openSnapshots: number;
  recovery: RecoveryReport;
}

export function shardStats(core: ShardCore, recovery: RecoveryReport, countTables: boolean): DatabaseStats {
  const segments = listSegments(core.io, core.walDir);
  let walFileBytes = 0;
  for (const s of segments) {
    try {
      walFileBytes += core.io.fileSize(path.join(core.walDir, segmentFileName(s)));
    } catch {
      // A segment deleted between listing and stat no longer counts.
    }
  }
  const { hits, misses } = core.budget;
  return {
    path: core.dir,
    txn: core.latest.txn,
    durableTxn: core.durable.txn,
    checkpointTxn: core.slots.active.checkpointTxn,
    tables: countTables
      ? [...core.durable.tables.values()]
          .filter((t) => !isReservedTableName(t.name))
          .map((t) => ({ name: t.name, entries: readCount(core.durable, t.name) }))
          .sort((a, b) => (a.name < b.name ? -1 : 1))
      : [],
    trees: [...core.durable.tables.values()]
      .filter((t) => !isReservedTableName(t.name))
      .map((t) => ({ name: t.name, foldedEntries: t.count, pendingWrites: t.mem?.size ?? 0 }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
    pageFileBytes: core.file.size(),
    freeBytes: core.space.allocator.freeBytes + core.space.pendingBytes,
    walSegments: segments.length,
    walFileBytes,
    walBytesSinceCheckpoint: core.wal.bytesWritten - core.walBytesAtCheckpoint,
    cache: { limitBytes: core.budget.limit, usedBytes: core.budget.used, hits, misses, hitRatio: hits + misses === 0 ? 1 : hits / (hits + misses) },
    commits: core.counters.commits,
    checkpoints: core.counters.checkpoints,
    checkpointMsTotal: core.counters.checkpointMsTotal,
    checkpointRunningTxn: core.counters.checkpointRunningTxn,
    lastCheckpointAt: core.counters.lastCheckpointAt,
    lastCheckpointError: core.counters.lastCheckpointError?.message ?? null,
    blockBytesWritten: core.counters.blockBytesWritten,
    pageBytesRead: core.file.bytesRead,
    walBytesWritten: core.wal.bytesWritten,
    compressionRatio: core.leafRatio.value,
    compactions: core.counters.compactions,
    openSnapshots: core.readers.size,
    recovery,
  };
}

/** Checks the options of `Database.stats()`; returns whether to count tables. */
export function checkStatsOptions(options: unknown): boolean {
  if (options === undefined) return true;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ValidationError('stats options must be an object such as { tables: false }');
  for (const k in options) {
    if (Object.hasOwn(options, k) && k !== 'tables') throw new ValidationError(`unknown stats option ${k}; the only one is tables`);
  }
  const tables = (options as StatsOptions).tables;
  if (tables !== undefined && typeof tables !== 'boolean') throw new ValidationError(`stats option tables must be a boolean, got ${JSON.stringify(tables)}`);
  return tables ?? true;
}
