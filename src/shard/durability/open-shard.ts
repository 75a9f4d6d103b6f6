/**
 * Opening a shard directory: create it if new, otherwise recover. Recovery is the same path as a
 * normal open, so there is no "needs fsck" state:
 *   1. Pick the valid header slot with the highest seq; if its checkpoint cannot be loaded, try the
 *      other one (its blocks are intact unless a checkpoint was being written over them).
 *   2. Replay every WAL record after that checkpoint; a torn tail ends the log.
 *   3. Start a new WAL segment whose header names where the old log validly ended, so nothing a
 *      crash left past that point can ever be replayed.
 *
 * Directory layout: `data.redb` (page file), `wal/` (segments), `lock` and `lock.owner`.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { CorruptionError, EncryptionKeyError, FormatError, ioError } from '../../errors.js';
import { KeyRing } from '../../codec/key-ring.js';
import { resolveKeySource } from '../../codec/key-source.js';
import { StoreCodec } from '../../codec/store-codec.js';
import type { FileIO } from '../../io/file-io.js';
import { CacheBudget, NodeCache } from '../../btree/node-cache.js';
import { NodeStore } from '../../btree/node-store.js';
import { ExtentAllocator } from '../../pagefile/allocator.js';
import { decodeFreelist } from '../../pagefile/freelist-codec.js';
import type { HeaderSlot } from '../../pagefile/header-slot.js';
import { BlockKind, FORMAT_VERSION, HEADER_SIZE } from '../../pagefile/layout.js';
import { PageFile } from '../../pagefile/page-file.js';
import { decodeCommit, Op } from '../../wal/commit-payload.js';
import { SEGMENT_HEADER_SIZE, segmentFileName, WAL_DIR } from '../../wal/segment-format.js';
import { listSegments, scanWal, type WalScanResult } from '../../wal/wal-scan.js';
import { WalWriter } from '../../wal/wal-writer.js';
import { copyBytes } from '../../util/bytes.js';
import { decodeCatalog, type TableState } from '../data/catalog.js';
import { deleteWalSegments, SLOT_FLAG_CLEAN } from './checkpoint.js';
import { txSettingsFor, type ShardCore } from '../core.js';
import { FreeSpace } from './free-space.js';
import { LeafRatio } from '../data/leaf-ratio.js';
import type { ResolvedDatabaseOptions } from '../options.js';
import { ReaderRegistry } from '../txn/reader-registry.js';
import { Version } from '../data/version.js';
import { WriteTxn, type TxSettings } from '../txn/write-txn.js';

export const DATA_FILE = 'data.redb';

/** A run of transaction ids, both ends included. */
export interface TxnRange {
  first: number;
  last: number;
}

/** What open found and did; `Database.recovery`. */
export interface RecoveryReport {
  /** The directory was empty and a new database was created. */
  created: boolean;
  /** The last close was clean (no WAL to replay). */
  cleanShutdown: boolean;
  /** Header slot used (0 or 1). */
  slot: 0 | 1;
  /** True when the newest slot could not be used and the older one was. */
  usedFallbackSlot: boolean;
  /** Slots that were not valid, and why. */
  invalidSlots: { index: 0 | 1; reason: string }[];
  /** Transaction id of the checkpoint the open started from. */
  checkpointTxn: number;
  /** Commits replayed from the WAL on top of it. */
  replayedCommits: number;
  /** Transaction id of the last commit after recovery. */
  lastTxn: number;
  /** Where a torn WAL tail was cut off, if there was one. */
  tornTail: { segment: number; offset: number } | null;
  /** WAL segments with an unreadable header at the end of the log, discarded. */
  discardedSegments: number[];
  /**
   * Acknowledged commits that recovery could not bring back. Opening a shard never drops one (damage
   * under an acknowledged commit is a CorruptionError instead), so this is 0 from Database.open; the
   * store's open report carries a repair's count here when autoRecovery salvaged the shard.
   */
  lostCommits: number;
  /** Their transaction ids (null when none were lost). */
  lostTxns: TxnRange | null;
}

/**
 * The header slot of a store with no tables yet: a fresh random database id, the WAL starting at
 * segment 1, and `ring` (if any) recorded so the store can only be opened with its keys.
 */
export function emptyStoreSlot(pageSize: number, checkpointTxn: number, ring: KeyRing | null): HeaderSlot {
  return {
    pageSize,
    databaseId: crypto.randomBytes(6).readUIntLE(0, 6),
    seq: 1,
    checkpointTxn,
    fileEnd: HEADER_SIZE,
    catalog: null,
    freelist: null,
    walSegment: 1,
    walOffset: SEGMENT_HEADER_SIZE,
    flags: SLOT_FLAG_CLEAN,
    keyId: ring?.currentId ?? 0,
    keyRing: ring ? [...ring.entries] : [],
  };
}

/** Reads header slots and creates files; it never decodes a block, so it needs no keys. */
export const PLAIN = new StoreCodec('none', 1, null);

function createShard(dir: string, options: ResolvedDatabaseOptions): void {
  const io = options.io;
  const init = path.join(dir, `${DATA_FILE}.init`);
  const ring = options.encryption ? KeyRing.create(resolveKeySource(options.encryption.key)) : null;
  const slot = emptyStoreSlot(options.pageSize, 0, ring);
  io.mkdirp(path.join(dir, WAL_DIR));
  PageFile.create(io, init, PLAIN, [slot, { ...slot, seq: 0 }], 0).close();
  // Raw FileIO failures must leave open() as typed errors like every other IO failure.
  try {
    io.rename(init, path.join(dir, DATA_FILE));
  } catch (err) {
    throw ioError('rename', init, err);
  }
  try {
    io.syncDir(dir);
  } catch (err) {
    throw ioError('fsync directory', dir, err);
  }
}

/**
 * The codec for a store whose newest slot is `slot`: the configured compression, and the keys matched
 * against the ring the slot records. Throws EncryptionKeyError for a wrong, missing or unwanted key.
 */
export function codecFor(dir: string, slot: HeaderSlot, options: ResolvedDatabaseOptions): { codec: StoreCodec; ringChanged: boolean } {
  const enc = options.encryption;
  if (slot.keyId === 0) {
    if (enc) {
      throw new EncryptionKeyError(`the store in ${dir} was created without encryption, so it cannot be opened with a key; copy its data into a new encrypted store instead`);
    }
    return { codec: new StoreCodec(options.compression, options.compressionLevel, null, options.compressionThreads), ringChanged: false };
  }
  if (!enc) throw new EncryptionKeyError(`the store in ${dir} is encrypted; pass its key as encryptionKey (with encryptionEnabled: true)`);
  const ring = KeyRing.open(slot.keyRing, resolveKeySource(enc.key), (enc.previousKeys ?? []).map((k, i) => resolveKeySource(k, `previous key ${i}`)));
  const ringChanged = ring.currentId !== slot.keyId || ring.entries.length !== slot.keyRing.length;
  return { codec: new StoreCodec(options.compression, options.compressionLevel, ring, options.compressionThreads), ringChanged };
}

export interface LoadedCheckpoint {
  slot: HeaderSlot;
  index: 0 | 1;
  tables: Map<string, TableState>;
  allocator: ExtentAllocator;
}

/**
 * Loads the newest of `candidates` (newest first) whose checkpoint reads intact, setting the file's
 * codec to that slot's, with the CorruptionError of the newest one it passed over (null when none);
 * throws the first CorruptionError when none loads. A key problem is the
 * caller's to fix, not damage: it is thrown at once, never answered by a fallback.
 */
export function loadNewestIntact(
  dir: string,
  file: PageFile,
  store: NodeStore,
  candidates: readonly { slot: HeaderSlot; index: 0 | 1 }[],
  options: ResolvedDatabaseOptions,
): { loaded: LoadedCheckpoint; keyed: { codec: StoreCodec; ringChanged: boolean }; firstError: unknown } {
  let firstError: unknown = null;
  for (const c of candidates) {
    const keyed = codecFor(dir, c.slot, options);
    file.codec = keyed.codec;
    try {
      return { loaded: loadCheckpoint(file, store, c.slot, c.index), keyed, firstError };
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
      firstError ??= err;
      store.cache.clear();
    }
  }
  throw firstError;
}

export function loadCheckpoint(file: PageFile, store: NodeStore, slot: HeaderSlot, index: 0 | 1): LoadedCheckpoint {
  if (file.size() < slot.fileEnd) {
    throw new CorruptionError(file.path, file.size(), `the file ends before the ${slot.fileEnd} bytes its checkpoint covers`);
  }
  const tables = new Map<string, TableState>();
  if (slot.catalog) {
    const { payload } = file.readBlock(slot.catalog, BlockKind.Catalog);
    const entries = decodeCatalog(payload);
    if (typeof entries === 'string') throw new CorruptionError(file.path, slot.catalog.offset, entries);
    for (const e of entries) tables.set(e.name, { name: e.name, count: e.count, root: e.root ? store.load(e.root) : null });
  }
  const allocator = new ExtentAllocator(slot.fileEnd);
  if (slot.freelist) {
    const { payload } = file.readBlock(slot.freelist, BlockKind.Freelist);
    const extents = decodeFreelist(payload, slot.fileEnd);
    if (typeof extents === 'string') throw new CorruptionError(file.path, slot.freelist.offset, extents);
    for (const e of extents) allocator.free(e.offset, e.length);
  }
  return { slot, index, tables, allocator };
}

/** Opens (creating or recovering) the shard in `dir`, which the caller has locked. */
export function openShard(dir: string, options: ResolvedDatabaseOptions): { core: ShardCore; recovery: RecoveryReport } {
  const io = options.io;
  const dataPath = path.join(dir, DATA_FILE);
  const walDir = path.join(dir, WAL_DIR);
  for (const leftover of [`${DATA_FILE}.init`, `${DATA_FILE}.compact`]) {
    const p = path.join(dir, leftover);
    if (io.exists(p)) io.unlink(p);
  }
  let created = false;
  if (!io.exists(dataPath)) {
    if (listSegments(io, walDir).length > 0) {
      throw new CorruptionError(dataPath, 0, 'the page file is missing but WAL segments exist; restore the directory from a backup');
    }
    createShard(dir, options);
    created = true;
  }
  io.mkdirp(walDir);
  const budget = new CacheBudget(options.cacheSizeBytes);
  const file = PageFile.open(io, dataPath, PLAIN, 1);
  try {
    const reads = [file.readSlot(0), file.readSlot(1)] as const;
    const invalidSlots: { index: 0 | 1; reason: string }[] = [];
    const candidates: { slot: HeaderSlot; index: 0 | 1 }[] = [];
    reads.forEach((r, i) => {
      const index = i as 0 | 1;
      if (r.state === 'valid') candidates.push({ slot: r.slot, index });
      else if (r.state === 'invalid') invalidSlots.push({ index, reason: r.reason });
      else if (r.state === 'unsupported') invalidSlots.push({ index, reason: `format version ${r.version} is not supported` });
      else invalidSlots.push({ index, reason: 'slot is empty' });
    });
    candidates.sort((a, b) => b.slot.seq - a.slot.seq);
    if (candidates.length === 0) {
      for (const r of reads) {
        if (r.state === 'unsupported') {
          throw new FormatError(`${dataPath} has format version ${r.version}; this build reads version ${FORMAT_VERSION}. Use a matching redb-audit version`);
        }
      }
      const err = new CorruptionError(dataPath, 0, `neither header slot is valid (${invalidSlots.map((s) => s.reason).join('; ')})`);
      // verify() needs an open store, so the generic advice does not apply: say what can be done.
      err.message =
        `${dataPath} is not a readable redb-audit page file: neither header slot is valid (${invalidSlots.map((s) => s.reason).join('; ')}). ` +
        `If ${dir} is not a store, move ${DATA_FILE} away or open another directory. If it is one, restore it from a backup ` +
        '(RedbManager.restore), or let repair set the damaged files aside and rebuild the shard from what can still be read ' +
        '(RedbManager.open with autoRecovery, the default, or manager.repair())';
      throw err;
    }
    if (candidates.some((c) => c.slot.databaseId !== candidates[0]!.slot.databaseId)) {
      throw new CorruptionError(dataPath, 0, 'the two header slots belong to different databases');
    }
    const store = new NodeStore(file, new NodeCache(budget));
    const { loaded, keyed, firstError } = loadNewestIntact(dir, file, store, candidates, options);
    const slot = loaded.slot;
    const codec = keyed.codec;
    const usedFallbackSlot = loaded.index !== candidates[0]!.index;
    if (usedFallbackSlot) invalidSlots.push({ index: candidates[0]!.index, reason: `its checkpoint does not load: ${(firstError as Error).message}` });

    const leafRatio = LeafRatio.sample(loaded.tables, store, codec);
    const settings = txSettingsFor(options, leafRatio.value);
    const space = new FreeSpace(loaded.allocator);
    const { version, scan } = replayWal(io, walDir, slot, codec, new Version(slot.checkpointTxn, loaded.tables, store), settings, space);
    for (const seg of scan.discardedSegments) io.unlink(path.join(walDir, segmentFileName(seg)));
    const remaining = listSegments(io, walDir);
    const last = remaining[remaining.length - 1] ?? 0;
    const nextSegment = Math.max(last, slot.walSegment - 1) + 1;
    const prevEnd = scan.end && scan.end.segment === last ? scan.end.offset : 0;
    const wal = WalWriter.start(io, walDir, slot.databaseId, nextSegment, prevEnd, version.txn, {
      segmentBytes: options.walSegmentBytes,
      codec,
      sync: options.durability !== 'none',
    });
    const other = candidates.find((c) => c.index !== loaded.index)?.slot ?? null;
    const core: ShardCore = {
      dir,
      walDir,
      dataPath,
      io,
      options,
      codec,
      ringChanged: keyed.ringChanged,
      budget,
      databaseId: slot.databaseId,
      leafRatio,
      file,
      store,
      space,
      wal,
      latest: version,
      durable: version,
      slots: { activeIndex: loaded.index, active: slot, other: usedFallbackSlot ? null : other },
      fallbackIntact: false,
      readers: new ReaderRegistry(),
      walBytesAtCheckpoint: 0,
      counters: {
        commits: 0,
        checkpoints: 0,
        checkpointMsTotal: 0,
        lastCheckpointAt: null,
        lastCheckpointError: null,
        blockBytesWritten: 0,
        compactions: 0,
        checkpointRunningTxn: null,
      },
    };
    deleteWalSegments(core, Math.min(slot.walSegment, core.slots.other?.walSegment ?? Infinity));
    const recovery: RecoveryReport = {
      created,
      cleanShutdown: (slot.flags & SLOT_FLAG_CLEAN) !== 0 && scan.records === 0,
      slot: loaded.index,
      usedFallbackSlot,
      invalidSlots: created ? [] : invalidSlots,
      checkpointTxn: slot.checkpointTxn,
      replayedCommits: scan.records,
      lastTxn: version.txn,
      tornTail: scan.tornTail,
      discardedSegments: scan.discardedSegments,
      lostCommits: 0,
      lostTxns: null,
    };
    return { core, recovery };
  } catch (err) {
    file.close();
    throw err;
  }
}

/**
 * Replays the WAL past `slot`'s checkpoint onto `version`, record by record in txn order, up to the
 * log's valid end (a torn tail ends it; damage before it throws CorruptionError). Blocks each
 * replayed commit frees go to `space` as of its txn. Returns the version reached and the scan.
 */
export function replayWal(
  io: FileIO,
  walDir: string,
  slot: HeaderSlot,
  codec: StoreCodec,
  start: Version,
  settings: TxSettings,
  space: FreeSpace,
): { version: Version; scan: WalScanResult } {
  let version = start;
  const scan = scanWal(
    io,
    walDir,
    {
      databaseId: slot.databaseId,
      position: { segment: slot.walSegment, offset: slot.walOffset },
      firstTxn: slot.checkpointTxn + 1,
      mayBeAbsent: (slot.flags & SLOT_FLAG_CLEAN) !== 0,
    },
    codec,
    (txn, payload, at) => {
      // The memtable keeps views of the payload: it must not share the reader's buffers.
      const ops = decodeCommit(copyBytes(payload));
      if (typeof ops === 'string') throw new CorruptionError(path.join(walDir, segmentFileName(at.segment)), at.offset, ops);
      const tx = new WriteTxn(version, txn, settings, null);
      for (const op of ops) {
        // A fold's released references count only over the checkpoint that fold stored (checkpoint.ts).
        if (op.op === Op.FoldReleases) {
          if (op.checkpointTxn === slot.checkpointTxn) tx.applyFoldReleases(op.releases);
        } else {
          tx.applyDecoded(op);
        }
      }
      // Nobody reads while a store opens: every dirty node may be changed in place.
      version = tx.merge(-Infinity);
      space.addFreed(txn, tx.freed);
    },
  );
  return { version, scan };
}
