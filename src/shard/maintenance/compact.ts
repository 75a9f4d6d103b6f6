/**
 * compact(): rewrites the latest version into a new, dense page file and swaps it in atomically.
 *
 *   1. Every table is rebuilt bottom-up into `data.redb.compact` (full leaves, no free space), with
 *      both header slots describing it and the current WAL position, then fdatasync'd.
 *   2. rename over `data.redb`, fsync the directory. Before the rename the old file and the WAL are
 *      the truth; after it the new file and the same WAL: a crash at any point opens one or the other,
 *      and open deletes a leftover `data.redb.compact`.
 *   3. In memory the new file becomes current. Snapshots that were open keep the old file's
 *      descriptor and read it (the renamed-over inode stays readable) until they close.
 *
 * Compaction needs room for a second copy of the live data while it runs. Close compacts only when
 * the disk has that room plus a reserve (`compactionHeadroom`), so that maintenance never takes the
 * space the next open and its first commits need; a compaction that fails anyway removes its file and
 * leaves the old page file and the WAL as they were.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ioError } from '../../errors.js';
import { NodeCache } from '../../btree/node-cache.js';
import { NodeStore } from '../../btree/node-store.js';
import { ExtentAllocator } from '../../pagefile/allocator.js';
import type { HeaderSlot } from '../../pagefile/header-slot.js';
import { HEADER_SIZE } from '../../pagefile/layout.js';
import { PageFile } from '../../pagefile/page-file.js';
import type { TableState } from '../data/catalog.js';
import { deleteWalSegments } from '../durability/checkpoint.js';
import { keyFields, txSettings, type ShardCore } from '../core.js';
import { LeafRatio } from '../data/leaf-ratio.js';
import { FreeSpace } from '../durability/free-space.js';
import { copyDense, runToEnd } from './dense-copy.js';
import { foldMemtables } from '../txn/fold.js';
import { DATA_FILE } from '../durability/open-shard.js';
import { Version } from '../data/version.js';

/** What compact() did. */
export interface CompactInfo {
  /** Page file size before and after, in bytes. */
  bytesBefore: number;
  bytesAfter: number;
  entries: number;
  durationMs: number;
}

/** Free space close-time compaction leaves untouched: the next open and its first commits need it. */
export const COMPACTION_RESERVE_BYTES = 64 << 20;

/** Whether the disk has room to compact: free bytes, and what compaction would need. */
export function compactionHeadroom(core: ShardCore): { ok: boolean; freeBytes: number; neededBytes: number } {
  // The new file holds the live blocks only: the file minus its free and soon-free space.
  const live = Math.max(0, core.file.size() - core.space.allocator.freeBytes - core.space.pendingBytes);
  const neededBytes = live + COMPACTION_RESERVE_BYTES;
  let freeBytes: number;
  try {
    freeBytes = core.io.freeBytes ? core.io.freeBytes(core.dir) : statfsFree(core.dir);
  } catch {
    // Without knowing, assume there is no room: skipping maintenance is always safe.
    return { ok: false, freeBytes: 0, neededBytes };
  }
  return { ok: freeBytes >= neededBytes, freeBytes, neededBytes };
}

function statfsFree(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Cache left to a replaced file's snapshots. */
const RETIRED_CACHE_BYTES = 16 << 20;

export function compactShard(core: ShardCore): CompactInfo {
  const started = performance.now();
  foldMemtables(core);
  const version = core.durable;
  const txn = version.txn;
  const bytesBefore = core.file.size();
  const tmpPath = path.join(core.dir, `${DATA_FILE}.compact`);
  if (core.io.exists(tmpPath)) core.io.unlink(tmpPath);
  const placeholder: HeaderSlot = { ...core.slots.active, catalog: null, freelist: null, fileEnd: HEADER_SIZE, flags: 0 };
  const generation = core.file.generation + 1;
  let file: PageFile;
  try {
    file = PageFile.create(core.io, tmpPath, core.codec, [placeholder, { ...placeholder, seq: 0 }], generation);
  } catch (err) {
    // A file left half created would hold disk space until the next open removes it.
    removeQuietly(core, tmpPath);
    throw err;
  }
  const store = new NodeStore(file, new NodeCache(core.budget));
  let entries = 0;
  let newTables: Map<string, TableState>;
  let slot: HeaderSlot;
  try {
    core.leafRatio = LeafRatio.sample(version.tables, version.store, core.codec);
    const copy = runToEnd(copyDense(version, file, core.codec, txSettings(core), txn));
    entries = copy.entries;
    // Start a fresh WAL segment: the new file holds everything before it, so no older one is needed.
    core.wal.rotate();
    const walPos = core.wal.position;
    slot = {
      ...core.slots.active,
      seq: core.slots.active.seq + 1,
      checkpointTxn: txn,
      fileEnd: copy.fileEnd,
      catalog: copy.catalog,
      freelist: copy.freelist,
      walSegment: walPos.segment,
      walOffset: walPos.offset,
      flags: 0,
      ...keyFields(core),
    };
    file.writeSlot(0, slot);
    file.writeSlot(1, { ...slot, seq: slot.seq + 1 });
    file.sync();
    // Roots are loaded back from the new file so the new version shares nothing with the old one.
    newTables = new Map();
    for (const t of version.tables.values()) {
      const ref = copy.roots.get(t.name) ?? null;
      newTables.set(t.name, { name: t.name, count: t.count, root: ref ? store.readNode(ref) : null });
    }
    try {
      core.io.rename(tmpPath, core.dataPath);
    } catch (err) {
      throw ioError('rename', tmpPath, err);
    }
  } catch (err) {
    file.close();
    removeQuietly(core, tmpPath);
    throw err;
  }
  // The directory now names the new file, so the swap must happen in memory whatever the directory
  // fsync does: carrying on with the old, unlinked file would lose every later checkpoint and delete
  // WAL segments the new file needs. A failed fsync is still reported, after the swap.
  file.renamed(core.dataPath);
  let dirSyncError: unknown = null;
  try {
    core.io.syncDir(core.dir);
  } catch (err) {
    dirSyncError = ioError('fsync directory', core.dir, err);
  }

  const oldFile = core.file;
  version.store.cache.detach(RETIRED_CACHE_BYTES);
  const fresh = new Version(txn, newTables, store);
  core.file = file;
  core.store = store;
  core.space = new FreeSpace(new ExtentAllocator(slot.fileEnd));
  core.slots = { activeIndex: 1, active: { ...slot, seq: slot.seq + 1 }, other: slot };
  core.fallbackIntact = true;
  core.latest = fresh;
  core.durable = fresh;
  core.walBytesAtCheckpoint = core.wal.bytesWritten;
  core.counters.compactions++;
  oldFile.retire();
  // Until the rename is known durable the old file may come back after a power loss, and it needs
  // the older segments; the next checkpoint deletes them.
  if (dirSyncError) throw dirSyncError;
  deleteWalSegments(core, core.wal.segment);
  return { bytesBefore, bytesAfter: file.size(), entries, durationMs: performance.now() - started };
}

function removeQuietly(core: ShardCore, file: string): void {
  try {
    if (core.io.exists(file)) core.io.unlink(file);
  } catch {
    // Open deletes a leftover compaction file.
  }
}
