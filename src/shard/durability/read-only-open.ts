/**
 * Opening a shard read-only, beside a writer that may be running: the newest loadable checkpoint,
 * plus the WAL after it replayed into memory. Nothing is written, created, truncated or removed;
 * no lock is taken.
 *
 * Why a snapshot read this way is never wrong, only sometimes unreadable:
 * - A torn record at the end of the WAL is the writer's append in progress: the log ends there, as
 *   it does for recovery, but nothing is cut.
 * - The writer may, meanwhile, write a new header slot, delete WAL segments a newer checkpoint no
 *   longer needs, and reuse blocks our checkpoint reaches once it no longer needs them itself. Every
 *   block is read through its parent's reference, which holds the block's checksum (BlockRef.crc),
 *   so a reused or half-written block fails the check (CorruptionError); it is never returned.
 * - Such a failure, at open or on a later read, is answered by opening a fresh snapshot and trying
 *   again, a few times (Database does this for reads, and range scans resume after their last
 *   key); only a failure that keeps coming back on fresh snapshots is reported.
 */
import path from 'node:path';
import { CorruptionError, IoError } from '../../errors.js';
import { CacheBudget, NodeCache } from '../../btree/node-cache.js';
import { NodeStore } from '../../btree/node-store.js';
import { PageFile } from '../../pagefile/page-file.js';
import type { HeaderSlot } from '../../pagefile/header-slot.js';
import { WAL_DIR } from '../../wal/segment-format.js';
import type { WalWriter } from '../../wal/wal-writer.js';
import { SLOT_FLAG_CLEAN } from './checkpoint.js';
import { txSettingsFor, type ShardCore } from '../core.js';
import { FreeSpace } from './free-space.js';
import { LeafRatio } from '../data/leaf-ratio.js';
import { DATA_FILE, loadNewestIntact, PLAIN, replayWal, type RecoveryReport } from './open-shard.js';
import type { ResolvedDatabaseOptions } from '../options.js';
import { ReaderRegistry } from '../txn/reader-registry.js';
import { Version } from '../data/version.js';

/** Opens tried before a failure that keeps coming back is reported as corruption. */
const ATTEMPTS = 3;

/**
 * Stands in for the WAL writer of a read-only core: write paths refuse before reaching it, and the
 * figures stats() reads are zero.
 */
const NO_WAL = { bytesWritten: 0, close(): void {} } as unknown as WalWriter;

/** A failure a concurrent writer can cause; anything else (a wrong key, bad options) is final. */
function isTransient(err: unknown): boolean {
  return err instanceof CorruptionError || (err instanceof IoError && err.errno === 'ENOENT');
}

function openOnce(dir: string, options: ResolvedDatabaseOptions): { core: ShardCore; recovery: RecoveryReport } {
  const io = options.io;
  const dataPath = path.join(dir, DATA_FILE);
  const walDir = path.join(dir, WAL_DIR);
  const file = PageFile.open(io, dataPath, PLAIN, 1, true);
  try {
    const candidates: { slot: HeaderSlot; index: 0 | 1 }[] = [];
    const invalidSlots: { index: 0 | 1; reason: string }[] = [];
    for (const index of [0, 1] as const) {
      const r = file.readSlot(index);
      if (r.state === 'valid') candidates.push({ slot: r.slot, index });
      else invalidSlots.push({ index, reason: r.state === 'invalid' ? r.reason : r.state === 'empty' ? 'slot is empty' : `format version ${r.version} is not supported` });
    }
    candidates.sort((a, b) => b.slot.seq - a.slot.seq);
    if (candidates.length === 0) throw new CorruptionError(dataPath, 0, `neither header slot is valid (${invalidSlots.map((s) => s.reason).join('; ')})`);
    const budget = new CacheBudget(options.cacheSizeBytes);
    const store = new NodeStore(file, new NodeCache(budget));
    const { loaded, keyed } = loadNewestIntact(dir, file, store, candidates, options);
    const codec = keyed.codec;
    const slot = loaded.slot;
    const leafRatio = LeafRatio.sample(loaded.tables, store, codec);
    const settings = txSettingsFor(options, leafRatio.value);
    const space = new FreeSpace(loaded.allocator);
    const { version, scan } = replayWal(io, walDir, slot, codec, new Version(slot.checkpointTxn, loaded.tables, store), settings, space);
    const core: ShardCore = {
      dir,
      walDir,
      dataPath,
      io,
      options,
      codec,
      ringChanged: false,
      budget,
      databaseId: slot.databaseId,
      leafRatio,
      file,
      store,
      space,
      wal: NO_WAL,
      latest: version,
      durable: version,
      slots: { activeIndex: loaded.index, active: slot, other: null },
      fallbackIntact: false,
      readers: new ReaderRegistry(),
      walBytesAtCheckpoint: 0,
      counters: { commits: 0, checkpoints: 0, checkpointMsTotal: 0, lastCheckpointAt: null, lastCheckpointError: null, blockBytesWritten: 0, compactions: 0, checkpointRunningTxn: null },
    };
    const recovery: RecoveryReport = {
      created: false,
      cleanShutdown: (slot.flags & SLOT_FLAG_CLEAN) !== 0 && scan.records === 0,
      slot: loaded.index,
      usedFallbackSlot: loaded.index !== candidates[0]!.index,
      invalidSlots,
      checkpointTxn: slot.checkpointTxn,
      replayedCommits: scan.records,
      lastTxn: version.txn,
      tornTail: scan.tornTail,
      discardedSegments: [],
      lostCommits: 0,
      lostTxns: null,
    };
    return { core, recovery };
  } catch (err) {
    file.close();
    throw err;
  }
}

/** Opens a read-only snapshot of the shard in `dir`, retrying what a concurrent writer can cause. */
export function openShardReadOnly(dir: string, options: ResolvedDatabaseOptions): { core: ShardCore; recovery: RecoveryReport } {
  for (let attempt = 1; ; attempt++) {
    try {
      return openOnce(dir, options);
    } catch (err) {
      if (attempt >= ATTEMPTS || !isTransient(err)) throw err;
    }
  }
}
