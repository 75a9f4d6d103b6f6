/**
 * Checkpoint: store every dirty node of the durable version copy-on-write, then flip the header slot.
 *
 * Order, and why it is crash safe:
 *   1. Blocks that neither the newest durable slot nor any snapshot can reach are handed to the
 *      allocator; a free tail is cut off. New blocks go only into that space, so whatever a crash
 *      leaves half-written, the newest durable slot's tree is intact.
 *   2. Dirty nodes are written children first (a parent records each child's offset and checksum),
 *      then the catalog, then the freelist, at the end of the file.
 *   3. fdatasync, then the slot that is not the newest is written with seq + 1, then fdatasync. Open
 *      picks the newest valid slot: before this write completes that is the old checkpoint (plus the
 *      WAL, which still holds every commit since), after it the new one.
 *   4. Only then does the in-memory state change: nodes learn their block refs, the old catalog and
 *      freelist blocks join the pending frees, and WAL segments neither slot needs are deleted.
 * A failure before step 4 undoes every in-memory change; the extents it wrote are quarantined, since
 * its slot write may have reached the disk.
 */
import path from 'node:path';
import { encodeBranch, encodeLeaf } from '../../btree/node-codec.js';
import { trimLeaf, valueRefOffset } from '../../btree/leaf.js';
import { BranchNode, type Node } from '../../btree/node.js';
import { writeBlockRef } from '../../pagefile/block-ref-codec.js';
import type { Extent } from '../../pagefile/allocator.js';
import { prepareBlock, sealBlock } from '../../pagefile/block.js';
import { encodeFreelist } from '../../pagefile/freelist-codec.js';
import type { HeaderSlot } from '../../pagefile/header-slot.js';
import { BLOCK_REF_SIZE, BlockKind, type BlockKindValue, type BlockRef } from '../../pagefile/layout.js';
import { SEGMENT_HEADER_SIZE, segmentFileName } from '../../wal/segment-format.js';
import { listSegments } from '../../wal/wal-scan.js';
import { encodeCatalog, type StoredTable } from '../data/catalog.js';
import { keyFields, type ShardCore } from '../core.js';
import { foldMemtables } from '../txn/fold.js';

/** Slot flag: written by a clean close; the WAL is not needed. */
export const SLOT_FLAG_CLEAN = 1;

/** Encoded blocks are written out once this many bytes are waiting. */
const FLUSH_BYTES = 8 << 20;

/** Extents up to this size are framed in the staging buffer; a larger one gets an array of its own. */
const STAGED_MAX = 1 << 20;

/**
 * Where checkpoints frame their extents, reused from one flush and one checkpoint to the next: an
 * array per block (and another per run of neighbouring blocks, to write them in one call) made a
 * checkpoint allocate three times the bytes it wrote, every one of them fresh memory to fault in.
 * One per thread: a checkpoint runs start to end without yielding, so two never share it.
 */
let staging = new Uint8Array(0);

/**
 * Joins neighbouring extents that also sit next to each other in one buffer into one view, so that a
 * run of blocks allocated in file order (the usual case) is written with one call and no copy.
 */
function joinAdjacent(extents: { offset: number; bytes: Uint8Array }[]): { offset: number; bytes: Uint8Array }[] {
  extents.sort((a, b) => a.offset - b.offset);
  const out: { offset: number; bytes: Uint8Array }[] = [];
  for (const e of extents) {
    const last = out[out.length - 1];
    if (
      last &&
      last.offset + last.bytes.length === e.offset &&
      last.bytes.buffer === e.bytes.buffer &&
      last.bytes.byteOffset + last.bytes.length === e.bytes.byteOffset
    ) {
      last.bytes = new Uint8Array(e.bytes.buffer, last.bytes.byteOffset, last.bytes.length + e.bytes.length);
    } else {
      out.push({ offset: e.offset, bytes: e.bytes });
    }
  }
  return out;
}

/** What a checkpoint did. */
export interface CheckpointInfo {
  /** The transaction the checkpoint holds (every commit up to it). */
  txn: number;
  /** False when nothing had changed since the previous checkpoint. */
  wrote: boolean;
  blocksWritten: number;
  bytesWritten: number;
  durationMs: number;
}

/** Allocates, encodes and writes blocks for one checkpoint, remembering how to undo it. */
class CheckpointWriter {
  private queue: { offset: number; bytes: Uint8Array }[] = [];
  private queued = 0;
  /** Bytes of `staging` holding queued extents. */
  private staged = 0;
  readonly allocated: Extent[] = [];
  private readonly undo: (() => void)[] = [];
  readonly persisted: Node[] = [];
  blocks = 0;
  bytes = 0;
  /** Leaf bytes before and after compression, to size future leaves. */
  leafRaw = 0;
  leafPacked = 0;

  constructor(
    private readonly core: ShardCore,
    private readonly txn: number,
  ) {}

  write(kind: BlockKindValue, payload: Uint8Array, atEnd = false): BlockRef {
    const { codec, space } = this.core;
    // Transient: the compressed bytes stay in the codec's scratch until sealBlock copies them out below.
    const prepared = prepareBlock(kind, payload, codec, true);
    const length = prepared.extentLength;
    if (kind === BlockKind.Leaf) {
      this.leafRaw += payload.length;
      this.leafPacked += prepared.unit.data.length;
    }
    const offset = atEnd ? space.allocator.allocateAtEnd(length) : space.allocator.allocate(length);
    this.allocated.push({ offset, length });
    let into: Uint8Array | undefined;
    if (length <= STAGED_MAX) {
      if (this.staged + length > staging.length) {
        // Writing what is queued frees the staging buffer; it is made large enough once.
        this.flush();
        if (staging.length < FLUSH_BYTES + STAGED_MAX) staging = new Uint8Array(FLUSH_BYTES + STAGED_MAX);
      }
      into = staging.subarray(this.staged, this.staged + length);
      this.staged += length;
    }
    const { bytes, ref } = sealBlock(prepared, offset, this.txn, codec, into);
    this.queue.push({ offset, bytes });
    this.queued += bytes.length;
    this.blocks++;
    this.bytes += bytes.length;
    if (this.queued >= FLUSH_BYTES) this.flush();
    return ref;
  }

  flush(): void {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.queued = 0;
    this.staged = 0;
    this.core.file.writeExtents(joinAdjacent(batch));
  }

  /** Stores a dirty node (and its dirty descendants and values); returns its ref. */
  persist(node: Node): BlockRef {
    if (node.ref) return node.ref;
    if (node instanceof BranchNode) {
      for (let i = 0; i < node.kids.length; i++) {
        if (node.refs[i]) continue;
        const ref = this.persist(node.kids[i]!);
        node.refs[i] = ref;
        this.undo.push(() => (node.refs[i] = null));
      }
    } else if (node.pending) {
      // Store pending out-of-line values and write their refs into the leaf. Readers of the leaf
      // switch from `pending` to the refs only if the whole checkpoint succeeds (undo otherwise).
      const pending = node.pending;
      for (let i = 0; i < pending.length; i++) {
        const v = pending[i];
        if (!v) continue;
        const at = valueRefOffset(node, i);
        writeBlockRef(node.data, at, this.write(BlockKind.Value, v.data));
        this.undo.push(() => node.data.fill(0, at, at + BLOCK_REF_SIZE));
      }
      node.pending = null;
      this.undo.push(() => (node.pending = pending));
    }
    const ref = this.write(node.isLeaf ? BlockKind.Leaf : BlockKind.Branch, node.isLeaf ? encodeLeaf(node) : encodeBranch(node));
    node.ref = ref;
    this.persisted.push(node);
    this.undo.push(() => (node.ref = null));
    return ref;
  }

  rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]!();
  }
}

/**
 * Writes a checkpoint of `core.durable`, which must equal `core.latest` (the caller flushed the WAL).
 * With `clean`, both slots end up describing it and the WAL is deleted (close).
 */
export function writeCheckpoint(core: ShardCore, clean = false): CheckpointInfo {
  const started = performance.now();
  foldMemtables(core);
  const version = core.durable;
  const txn = version.txn;
  const active = core.slots.active;
  const sync = core.options.durability !== 'none';
  // A checkpoint also rewrites a damaged (torn) other slot, so it runs even with no changes then.
  const unchanged =
    txn === active.checkpointTxn && version.store === core.store && core.space.pendingBytes === 0 && core.slots.other !== null && !core.ringChanged;
  if (unchanged && (!clean || (active.flags & SLOT_FLAG_CLEAN) !== 0)) {
    if (clean) deleteWalSegments(core, Infinity);
    return { txn, wrote: false, blocksWritten: 0, bytesWritten: 0, durationMs: performance.now() - started };
  }

  // From the first block written, the older slot's blocks may be overwritten.
  core.fallbackIntact = false;
  core.space.release(active.checkpointTxn, core.readers.oldest());
  core.space.allocator.trimTail();
  const w = new CheckpointWriter(core, txn);
  let slot: HeaderSlot;
  let retired: Extent[];
  try {
    const stored: StoredTable[] = [];
    for (const t of version.tables.values()) stored.push({ name: t.name, count: t.count, root: t.root ? w.persist(t.root) : null });
    stored.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const catalog = w.write(BlockKind.Catalog, encodeCatalog(stored));
    retired = [];
    if (active.catalog) retired.push(active.catalog);
    if (active.freelist) retired.push(active.freelist);
    // The freelist goes at the end of the file so that allocating it changes no free extent.
    const freelist = w.write(BlockKind.Freelist, encodeFreelist(core.space.persistedFreeList(retired)), true);
    w.flush();
    const fileEnd = core.space.allocator.end;
    if (core.file.size() > fileEnd) core.file.truncate(fileEnd);
    if (sync) core.file.sync();
    const walPos = clean ? { segment: core.wal.segment + 1, offset: SEGMENT_HEADER_SIZE } : core.wal.position;
    slot = {
      pageSize: core.options.pageSize,
      databaseId: core.databaseId,
      seq: active.seq + 1,
      checkpointTxn: txn,
      fileEnd,
      catalog,
      freelist,
      walSegment: walPos.segment,
      walOffset: walPos.offset,
      flags: clean ? SLOT_FLAG_CLEAN : 0,
      ...keyFields(core),
    };
    const target = (1 - core.slots.activeIndex) as 0 | 1;
    core.file.writeSlot(target, slot);
    if (sync) core.file.sync();
    if (clean) {
      // Both slots must describe the clean state before the WAL may go: either may be the fallback.
      const second = { ...slot, seq: slot.seq + 1 };
      core.file.writeSlot(core.slots.activeIndex, second);
      if (sync) core.file.sync();
      core.slots = { activeIndex: core.slots.activeIndex, active: second, other: slot };
    } else {
      core.slots = { activeIndex: target, active: slot, other: active };
    }
  } catch (err) {
    w.rollback();
    core.space.quarantine(w.allocated);
    throw err;
  }

  core.space.checkpointSucceeded(txn);
  // The old catalog and freelist are retired as of the next transaction, not this one: a reader of
  // the checkpoint they belong to (a backup pins it and reads them) holds back exactly that. This
  // checkpoint no longer reaches them.
  core.space.addFreed(txn + 1, retired, txn);
  core.ringChanged = false;
  // Enough leaves to say how well they compress: leaves may then grow to fill a page compressed.
  core.leafRatio.stored(w.leafRaw, w.leafPacked);
  const cache = version.store.cache;
  for (const node of w.persisted) {
    if (node instanceof BranchNode) for (let i = 0; i < node.kids.length; i++) node.kids[i] = null;
    else trimLeaf(node, true);
    cache.put(node.ref!.offset, node);
  }
  core.walBytesAtCheckpoint = core.wal.bytesWritten;
  core.counters.checkpoints++;
  core.fallbackIntact = true;
  core.counters.blockBytesWritten += w.bytes;
  core.counters.lastCheckpointAt = Date.now();
  const durationMs = performance.now() - started;
  core.counters.checkpointMsTotal += durationMs;
  deleteWalSegments(core, clean ? Infinity : Math.min(core.slots.active.walSegment, core.slots.other?.walSegment ?? Infinity));
  return { txn, wrote: true, blocksWritten: w.blocks, bytesWritten: w.bytes, durationMs };
}

/** Deletes WAL segments numbered below `below`, except the one being written. */
export function deleteWalSegments(core: ShardCore, below: number): void {
  for (const seg of listSegments(core.io, core.walDir)) {
    if (seg >= below || seg === core.wal.segment) continue;
    try {
      core.io.unlink(path.join(core.walDir, segmentFileName(seg)));
    } catch {
      // A segment that could not be deleted is below every slot's start: replay skips it, and the
      // next checkpoint tries again.
    }
  }
}
