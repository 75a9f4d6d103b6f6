/**
 * Checkpoint: fold the memtables of the durable version into its trees, store every dirty node
 * copy-on-write, then flip the header slot. Done start to end (writeCheckpoint) or in slices between
 * commits (CheckpointRun; see there for what holds while commits go on).
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
 *   4. Only then does the in-memory state change: the folded trees are installed, nodes learn their
 *      block refs, the blocks the fold dropped and the old catalog and freelist join the pending
 *      frees, and WAL segments neither slot needs are deleted.
 * A failure before step 4 undoes every in-memory change; the extents it wrote are quarantined, since
 * its slot write may have reached the disk.
 */
import path from 'node:path';
import { encodeBranch, encodeLeaf } from '../../btree/node-codec.js';
import { compareSepAt, childIndexForWrite } from '../../btree/branch.js';
import { trimLeaf, valueRefAt, valueRefOffset, valueTagAt } from '../../btree/leaf.js';
import { BranchNode, ValueTag, type LeafNode, type Node, type OutOfLineValue } from '../../btree/node.js';
import { writeBlockRef } from '../../pagefile/block-ref-codec.js';
import type { Extent } from '../../pagefile/allocator.js';
import { prepareBlock, prepareCompressed, sealBlock, type PreparedBlock } from '../../pagefile/block.js';
import { MAX_COMPRESSION_ROUND } from '../../codec/compression-pool.js';
import { encodeFreelist } from '../../pagefile/freelist-codec.js';
import type { HeaderSlot } from '../../pagefile/header-slot.js';
import { ExtentList } from '../../pagefile/extent-list.js';
import { BLOCK_REF_SIZE, BlockKind, type BlockKindValue, type BlockRef } from '../../pagefile/layout.js';
import { encodeFoldReleases } from '../../wal/commit-payload.js';
import { SEGMENT_HEADER_SIZE, segmentFileName } from '../../wal/segment-format.js';
import { listSegments } from '../../wal/wal-scan.js';
import { encodeCatalog, type StoredTable, type TableState } from '../data/catalog.js';
import type { FoldSource, MemTable } from '../data/memtable.js';
import { treeHas } from '../data/tree-read.js';
import { isReservedTableName } from '../validate.js';
import { Version } from '../data/version.js';
import { keyFields, txSettings, type ShardCore } from '../core.js';
import { memtableBytes, nextFoldId } from '../txn/fold.js';
import { WriteTxn } from '../txn/write-txn.js';

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
 * One per thread: a checkpoint writes out what it queued here before it yields (CheckpointRun.step),
 * so two never share it.
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
  readonly allocated = new ExtentList();
  private readonly undo: (() => void)[] = [];
  readonly persisted: Node[] = [];
  blocks = 0;
  bytes = 0;
  /** Leaf bytes before and after compression, to size future leaves. */
  leafRaw = 0;
  leafPacked = 0;
  /**
   * Out-of-line values of the blob tables written so far, by value object: written ahead while the
   * run goes on (writeValue), taken by storeValues in `finish` instead of writing them again.
   */
  readonly directValues = new Map<OutOfLineValue, BlockRef>();

  constructor(
    private readonly core: ShardCore,
    private readonly txn: number,
  ) {}

  write(kind: BlockKindValue, payload: Uint8Array, atEnd = false): BlockRef {
    // Transient: the compressed bytes stay in the codec's scratch until sealBlock copies them out in place().
    return this.place(prepareBlock(kind, payload, this.core.codec, true), atEnd);
  }

  /**
   * Writes blocks of one kind compressed together, on worker threads too (PageCodec.compressAll):
   * in order, each placed as {@link write} would; their refs.
   */
  writeAll(kind: BlockKindValue, payloads: readonly Uint8Array[]): BlockRef[] {
    return this.startAll(kind, payloads).take();
  }

  /**
   * {@link writeAll} in two halves: the payloads are compressed while the caller goes on, and
   * `take()` places them. Nothing may be compressed through compressAll in between.
   */
  private startAll(kind: BlockKindValue, payloads: readonly Uint8Array[]): { take(): BlockRef[] } {
    const codec = this.core.codec;
    // Alone, one at a time through the codec's scratch: no copy of each compressed block.
    if (!codec.compressesInParallel) return { take: () => payloads.map((p) => this.write(kind, p)) };
    const started = codec.startCompressAll(payloads);
    return {
      take: () => {
        const units = started.take();
        const refs = new Array<BlockRef>(payloads.length);
        for (let i = 0; i < payloads.length; i++) refs[i] = this.place(prepareCompressed(kind, payloads[i]!, units[i]!, codec));
        return refs;
      },
    };
  }

  /** Allocates, seals and queues one compressed block. */
  private place(prepared: PreparedBlock, atEnd = false): BlockRef {
    const { codec, space } = this.core;
    const length = prepared.extentLength;
    if (prepared.kind === BlockKind.Leaf) {
      this.leafRaw += prepared.rawLength;
      this.leafPacked += prepared.unit.data.length;
    }
    const offset = atEnd ? space.allocator.allocateAtEnd(length) : space.allocator.allocate(length);
    this.allocated.push(offset, length);
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

  /**
   * Stores dirty nodes in order, each one's dirty children stored already or earlier in `nodes` (see
   * {@link dirtyNodes}), leaves with their pending out-of-line values. Neighbouring leaves are
   * compressed together.
   */
  store(nodes: readonly Node[]): void {
    let leaves: LeafNode[] = [];
    for (const node of nodes) {
      if (node instanceof BranchNode) {
        this.storeLeaves(leaves);
        leaves = [];
        this.storeBranch(node);
      } else {
        leaves.push(node as LeafNode);
      }
    }
    this.storeLeaves(leaves);
  }

  private storeBranch(node: BranchNode): void {
    for (let i = 0; i < node.kids.length; i++) {
      if (node.refs.stored(i)) continue;
      node.refs.set(i, node.kids[i]!.ref);
      this.undo.push(() => node.refs.set(i, null));
    }
    node.ref = this.write(BlockKind.Branch, encodeBranch(node));
    this.persisted.push(node);
    this.undo.push(() => (node.ref = null));
  }

  private storeLeaves(leaves: readonly LeafNode[]): void {
    if (leaves.length === 0) return;
    for (const leaf of leaves) {
      if (!leaf.pending) continue;
      // Readers of the leaf switch from `pending` to the refs only if the whole checkpoint
      // succeeds (undo otherwise).
      const pending = leaf.pending;
      this.storeValues(leaf, (at) => this.undo.push(() => leaf.data.fill(0, at, at + BLOCK_REF_SIZE)));
      this.undo.push(() => (leaf.pending = pending));
    }
    const refs = this.writeAll(BlockKind.Leaf, leaves.map(encodeLeaf));
    for (let i = 0; i < leaves.length; i++) {
      const leaf = leaves[i]!;
      leaf.ref = refs[i]!;
      this.persisted.push(leaf);
      this.undo.push(() => (leaf.ref = null));
    }
  }

  /**
   * Starts storing leaves the fold built and no later slice reaches (see
   * CheckpointRun.findFinishedLeaves): their pending out-of-line values are stored now, the leaves are
   * compressed while the caller goes on, and `take()` places them and sets their refs. Nothing outside
   * the run's own tree holds them, so there is nothing to undo in memory, and they are not kept for
   * the install.
   */
  startFinished(leaves: readonly LeafNode[]): { take(): void } {
    for (const leaf of leaves) if (leaf.pending) this.storeValues(leaf, () => {});
    const started = this.startAll(BlockKind.Leaf, leaves.map(encodeLeaf));
    return {
      take: () => {
        const refs = started.take();
        for (let i = 0; i < leaves.length; i++) leaves[i]!.ref = refs[i]!;
      },
    };
  }

  /**
   * Stores the pending out-of-line values of `leaf` and writes their refs into it (`wrote` learns
   * where each ref went), then clears `pending`.
   */
  private storeValues(leaf: LeafNode, wrote: (at: number) => void): void {
    const pending = leaf.pending!;
    for (let i = 0; i < pending.length; i++) {
      const v = pending[i];
      if (!v) continue;
      const at = valueRefOffset(leaf, i);
      writeBlockRef(leaf.data, at, this.directValues.get(v) ?? this.write(BlockKind.Value, v.data));
      wrote(at);
    }
    leaf.pending = null;
  }

  /** Writes one out-of-line value of a blob table ahead of its leaf (see directValues). */
  writeValue(v: OutOfLineValue): void {
    if (!this.directValues.has(v)) this.directValues.set(v, this.write(BlockKind.Value, v.data));
  }

  rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]!();
    this.undo.length = 0;
  }
}

/**
 * The nodes under `root` not stored yet, children before their parent. A child whose slot holds no
 * ref may still be stored: a commit copied its parent (a blob table's branch) before a checkpoint
 * stored the child. Stored again, its first block would leak; storeBranch takes its ref instead.
 */
function dirtyNodes(root: Node, out: Node[]): void {
  if (root.ref) return;
  const stack: { node: Node; next: number }[] = [{ node: root, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const node = top.node;
    if (node instanceof BranchNode) {
      while (top.next < node.kids.length && (node.refs.stored(top.next) || node.kids[top.next]!.ref)) top.next++;
      if (top.next < node.kids.length) {
        stack.push({ node: node.kids[top.next++]!, next: 0 });
        continue;
      }
    }
    out.push(node);
    stack.pop();
  }
}

/**
 * Keys of a memtable folded per slice, at most and at first. A slice then takes about a millisecond
 * over a small tree; over a large one, random keys rebuild a leaf each, so the slice size follows the
 * leaves each slice finished to hand the compression pool about FINISHED_ROUND_LEAVES at a time.
 */
const FOLD_SLICE_KEYS = 2048;
const MIN_FOLD_SLICE_KEYS = 64;
/**
 * The share of a run's work done while folding, for its progress: the fold stores most leaves as
 * it goes (findFinishedLeaves), leaving the branches and the leaves near the last keys of each
 * table. Measured on 1.5M random puts: with one half, as before that, runs ended early in a few
 * long steps (commit p90 129 ms against 66).
 */
const FOLD_SHARE = 0.9;

/** Bytes of blocks a checkpoint run writes between two fdatasyncs of the page file (see syncAsItGoes). */
const SYNC_EVERY_BYTES = 8 << 20;

/**
 * Nodes stored between two looks at the clock once the fold is done; the leaves among them are
 * compressed together, on the compression pool's workers too.
 */
const STORE_SLICE_NODES = 16;

/** Blobs written ahead between two looks at the clock (each compressed on its own, as a value block). */
const DIRECT_SLICE_VALUES = 64;

/**
 * Finished leaves a fold slice aims to hand over, compressed in one round while the next slice folds
 * (about 4 ms of zstd on one thread for 128 leaves of 4 KiB; more per round: longer commits while a
 * checkpoint runs). A round takes every queued leaf up to the pool's capacity.
 */
const FINISHED_ROUND_LEAVES = 128;

/**
 * How long after it began a checkpoint run waits at most for the helper thread to merge a
 * memtable's runs into one (see waitsForMerge). The merges of all its memtables start with the run
 * and take tens of milliseconds on the other core: about one or two commits of an ingest.
 */
const MAX_MERGE_WAIT_MS = 250;
/**
 * A step given this long or more does not wait for the merge: its commit pays for the run's work
 * either way, and leaving it idle only moved that work to the commits after it. At 10,000,000 random
 * puts the wait left 4-8 commits of every 32 without a step, and the others' steps that much longer.
 */
const LARGE_STEP_MS = 50;

/** A memtable being folded into its table's tree. */
interface FoldTask {
  name: string;
  mem: MemTable;
  source: FoldSource;
  /** The tree so far: the table's root with the slices folded into it. */
  root: Node | null;
  count: number;
  /** The last key of the slice before: leaves below it whose parent lay below it are stored. */
  finishedBelow: Uint8Array | null;
  /** Keys the next slice folds (see FOLD_SLICE_KEYS). */
  sliceKeys: number;
}

/**
 * One checkpoint, done in steps so that it can run between commits: the commit path then only
 * appends to the WAL and the memtables while the checkpoint folds, encodes, compresses and writes
 * (Database gives it a slice of time after each commit, and the event loop's idle turns).
 *
 * It stores the version that was newest and durable when it began (txn T). Commits after T go on
 * into the same memtables; a memtable's versions up to T are folded, a slice of keys at a time,
 * into a tree of the checkpoint's own (no reader sees it until the end, so the slices build on
 * each other's nodes), then the dirty nodes are stored, children first, a few per look at the
 * clock. Nothing the database reads changes until `finish`, which writes the catalog, the freelist
 * and the header slot, and then installs the folded trees in the newest version, under memtables
 * holding only the commits after T. So a checkpoint that fails, or is abandoned (a commit cleared
 * or dropped a table it folds or stores), leaves memory as it was; what it wrote is quarantined as before.
 *
 * While it runs, T is held like a snapshot: commits copy rather than edit the nodes T reaches (the
 * internal blob tables' trees, which commits change directly), and no block T reaches is reused.
 * Blocks that commits after T free stay out of the stored freelist (T's tree still reaches them).
 * Those tables' nodes are stored last, in `finish`, with no commit after them: a commit never sees
 * a block of theirs that the run may still give up. Their out-of-line values (the blobs' bytes, the
 * bulk) are written ahead, as the run goes, but their refs reach a leaf only in `finish` too. T's
 * nodes that a commit copied meanwhile are stored all the same (T's tree holds them), and nothing
 * in memory reaches their blocks afterwards: install frees them. Their values it does not: the
 * copies hold the same value objects, unstored, and install gives them the refs (so the next
 * checkpoint does not write those bytes again), freeing only values no copy holds any more.
 *
 * References a fold releases. Folding drops references to deduplicated values (a tree value
 * replaced or deleted, a memtable version superseded), which lowers their counts in the blob
 * tables; commits after T change those tables too. Run at once, the fold applies its releases to
 * the blob tables it stores. Run between commits, it stores T's blob tables as they were (each
 * count then too high by what the fold released) and logs the releases in a WAL record of their
 * own (WAL op 7, naming T), durable before the header slot is written; install then applies them
 * to the newest version's blob tables. Replay from this checkpoint applies the record, replay from
 * an older one (the slot write failed, or the slot was lost) ignores it, since that tree still
 * holds the references; a later checkpoint starts past it. The record takes the next txn either way.
 */
export class CheckpointRun {
  /** The transaction stored: every commit up to it. */
  readonly txn: number;
  /** Memtable bytes when the run began: what the memtables gain beyond that came after T. */
  readonly memBytesAtStart: number;
  /** WAL bytes written when the run began. */
  readonly walBytesAtStart: number;
  private readonly started = performance.now();
  private readonly version: Version;
  private readonly unchanged: boolean;
  private readonly clean: boolean;
  private readonly walPos: { segment: number; offset: number };
  private readonly tx: WriteTxn | null;
  private readonly folds: FoldTask[] = [];
  private foldIndex = 0;
  /** The tables as stored, once folded. */
  private stored: Map<string, TableState> | null = null;
  /** Blocks the blob-table changes dropped from the stored tables (see applyFoldBlobDeltas). */
  private storedFrees = new ExtentList();
  private order: Node[] = [];
  /** T's unstored nodes of the tables commits change directly (the blob tables): `finish` stores them. */
  private directNodes: Node[] = [];
  /** T's unstored leaves of those tables holding out-of-line values, to write ahead; and how many are done. */
  private directLeaves: LeafNode[] = [];
  private nextDirectLeaf = 0;
  /** The next value to write of the leaf at nextDirectLeaf. */
  private nextDirectValue = 0;
  /** The txn of the WAL record holding the fold's released references (0: none was written). */
  private releasesTxn = 0;
  /**
   * Leaves the fold has finished with, to store before the next slice (each as its parent and index
   * there), and how many of them are stored.
   */
  private finishedLeaves: { parent: BranchNode; index: number }[] = [];
  private finishedNext = 0;
  /** Finished leaves being compressed (see startFinished), with where their parents hold them. */
  private inFlight: { slice: { parent: BranchNode; index: number }[]; leaves: LeafNode[]; started: { take(): void } } | null = null;
  /** Block offsets of the leaves stored while folding, which the node cache holds (see abort). */
  private readonly finished: number[] = [];
  private nextNode = 0;
  private readonly writer: CheckpointWriter;
  private ended = false;
  /** Time spent in steps so far, in ms. */
  workMs = 0;
  /** Bytes the writer had written at the last fdatasync of the page file (see syncAsItGoes). */
  private bytesSynced = 0;
  /** Versions held by the memtables folded (at least their keys): what folding goes through. */
  private foldKeys = 0;
  /**
   * `core.latest` must be durable (the caller flushed the WAL). `between` for a run stepped between
   * commits: its memtables' runs are merged into one on the helper thread first (waitsForMerge),
   * which a run done at once would not wait for, and the references its fold releases are logged
   * rather than stored (see the class comment).
   */
  constructor(
    private readonly core: ShardCore,
    clean = false,
    private readonly between = false,
  ) {
    if (core.latest !== core.durable) throw new Error('internal: a checkpoint starts from a durable version');
    const version = core.durable;
    this.version = version;
    this.txn = version.txn;
    this.clean = clean;
    this.memBytesAtStart = memtableBytes(version);
    this.walBytesAtStart = core.wal.bytesWritten;
    this.walPos = core.wal.position;
    this.writer = new CheckpointWriter(core, this.txn);
    const active = core.slots.active;
    // A checkpoint also rewrites a damaged (torn) other slot, so it runs even with no changes then.
    // A close's checkpoint must also leave the clean flag in the slots.
    this.unchanged =
      this.txn === active.checkpointTxn &&
      version.store === core.store &&
      core.space.pendingBytes === 0 &&
      core.slots.other !== null &&
      !core.ringChanged &&
      (!clean || (active.flags & SLOT_FLAG_CLEAN) !== 0);
    this.tx = null;
    if (this.unchanged) return;
    // From the first block written, the older slot's blocks may be overwritten.
    core.fallbackIntact = false;
    core.space.release(active.checkpointTxn, core.readers.oldest());
    core.space.allocator.trimTail();
    core.readers.add(this.txn);
    for (const t of version.tables.values()) {
      if (!t.mem) continue;
      this.folds.push({ name: t.name, mem: t.mem, source: t.mem.foldSource(between), root: t.root, count: t.count, finishedBelow: null, sliceKeys: FOLD_SLICE_KEYS });
      this.foldKeys += t.mem.size;
    }
    if (this.folds.length > 0) {
      this.tx = new WriteTxn(version, nextFoldId(), txSettings(core), null);
      this.tx.beginSlicedFold(Math.max(core.readers.newest(), this.txn));
    }
  }

  /**
   * Works until `deadline` (a performance.now() time) has passed, at least one slice; true once
   * everything is written but the header slot (then {@link finish}).
   */
  step(deadline: number): boolean {
    if (this.ended) throw new Error('internal: a checkpoint run was stepped after it ended');
    if (this.unchanged) return true;
    const began = performance.now();
    do {
      if (this.finishedNext < this.finishedLeaves.length) {
        // A round of queued leaves at a time; the last one is compressed while the next slice folds.
        this.completeFinished();
        this.startFinished();
      } else if (this.stored === null) {
        if (this.waitsForMerge(deadline)) break;
        this.foldSlice();
      } else if (this.nextDirectLeaf < this.directLeaves.length) {
        this.writeDirectValues();
      } else if (this.nextNode < this.order.length) {
        this.storeSlice();
      } else {
        break;
      }
    } while (performance.now() < deadline);
    // Leaves in flight hold the process's compression pool, and queued blocks lie in the staging
    // buffer every writer of this thread shares (another shard's checkpoint may run before this
    // one's next step): both are finished before yielding.
    this.completeFinished();
    this.writer.flush();
    this.syncAsItGoes();
    this.workMs += performance.now() - began;
    return this.stored !== null && this.nextDirectLeaf === this.directLeaves.length && this.nextNode === this.order.length;
  }

  /**
   * Flushes the page file once the run has written SYNC_EVERY_BYTES since it last did. The header's
   * fdatasync in finish() must come after every block's, and left to it alone the whole run's blocks
   * (200 MB and more for a large table) reached the disk inside that one commit: 150-190 ms at the
   * end of each run of 3,000,000 random puts, the slowest commits of all. Flushed as the run goes,
   * that cost is in the steps, which the commits share evenly (Database.stepBudget).
   */
  private syncAsItGoes(): void {
    if (this.core.options.durability === 'none' || this.writer.bytes - this.bytesSynced < SYNC_EVERY_BYTES) return;
    this.core.file.sync();
    this.bytesSynced = this.writer.bytes;
  }

  /**
   * How much of the work is done, 0 to 1: folding, which also stores the leaves it has finished
   * with, counts for FOLD_SHARE (by keys handed out), storing the rest for what is left (by nodes
   * stored). A guess at first; it steadies as the run goes on.
   */
  progress(): number {
    if (this.stored !== null) {
      const total = this.order.length + this.directLeaves.length;
      return total === 0 ? 1 : FOLD_SHARE + ((1 - FOLD_SHARE) * (this.nextNode + this.nextDirectLeaf)) / total;
    }
    let done = 0;
    for (const f of this.folds) done += f.source.done;
    return this.foldKeys === 0 ? FOLD_SHARE : (FOLD_SHARE * Math.min(done, this.foldKeys)) / this.foldKeys;
  }

  /**
   * Whether `latest` no longer builds on what this run stores (a commit cleared or dropped one of
   * its tables): the run must then be abandoned. That is a table it folds, or one it stores without
   * folding: a user table with no memtable at T whose tree T holds unstored (an in-memory fold, as
   * `verify()` makes, leaves one). The run writes that tree's nodes, but the commit that cleared the
   * table found no blocks to free in it, and once installed over that commit nothing would reach
   * the blocks: they would leak.
   */
  invalidatedBy(latest: Version): boolean {
    for (const f of this.folds) if (latest.tables.get(f.name)?.mem !== f.mem) return true;
    for (const [name, t] of this.version.tables) {
      if (t.root === null || t.root.ref || isReservedTableName(name)) continue;
      if (latest.tables.get(name)?.root !== t.root) return true;
    }
    return false;
  }

  /**
   * Whether to leave the rest of this step to the commits because the helper thread is still
   * merging the runs of the memtable to fold next into one (MemTable.foldSource): folding from one
   * run costs the committing thread a comparison per entry, from the runs a heap's worth. A step
   * that must finish (no deadline) or of LARGE_STEP_MS or more, or a run that has waited
   * MAX_MERGE_WAIT_MS, folds from the runs.
   */
  private waitsForMerge(deadline: number): boolean {
    const task = this.folds[this.foldIndex];
    if (!task || !task.source.merging()) return false;
    const now = performance.now();
    if (deadline - now < LARGE_STEP_MS && now - this.started < MAX_MERGE_WAIT_MS) return true;
    task.source.stopMerging();
    return false;
  }

  private foldSlice(): void {
    const task = this.folds[this.foldIndex];
    if (!task) {
      this.completeFinished();
      this.endFold();
      return;
    }
    const tx = this.tx!;
    const writes = task.source.next(task.sliceKeys, (v) => tx.supersede(v));
    if (!writes) {
      this.foldIndex++;
      return;
    }
    // A slice of puts only adds keys above the last slice's, never reaching a finished leaf; a
    // deletion's rebalancing may join nodes under a branch holding them, so they are stored first,
    // and written out: the node cache may have dropped one it then reads back from the file.
    if (writes.deletions) {
      this.completeFinished();
      this.writer.flush();
    }
    const r = tx.foldSlice(task.root, writes);
    task.root = r.root;
    task.count += r.delta;
    // Leaves in flight have no ref yet: stored before the search below, which skips stored ones.
    this.completeFinished();
    const last = writes.key(writes.length - 1);
    const queued = this.finishedLeaves.length;
    if (task.root && !task.root.isLeaf) this.findFinishedLeaves(task.root, task.finishedBelow, last, false);
    task.finishedBelow = last.slice();
    if (!this.core.codec.compressesInParallel) return;
    // Halfway to the size that would have finished FINISHED_ROUND_LEAVES, to damp the swings.
    const found = this.finishedLeaves.length - queued;
    const aim = found === 0 ? FOLD_SLICE_KEYS : (writes.length * FINISHED_ROUND_LEAVES) / found;
    task.sliceKeys = Math.round(Math.min(FOLD_SLICE_KEYS, Math.max(MIN_FOLD_SLICE_KEYS, (task.sliceKeys + aim) / 2)));
  }

  /**
   * Queues the leaves the fold has built under branches whose whole key range lies below `to`, the
   * last key folded so far: they are stored before the next slice and dropped from the run's tree
   * (their parent keeps the block ref; the node cache may keep the leaf). The keys still to fold are
   * above `to`, so no later slice descends into such a branch, and a deletion's rebalancing only
   * joins a rebuilt node with a sibling under the same parent. Without this, a checkpoint held every
   * leaf it folded until its end: for random keys most of the table (320 MiB at 2.5M puts), growing
   * with the table. `below` says whether `b`'s range lies below `to`; children below `from` (the
   * previous call's `to`) were visited then, unless `b` itself became wholly below only now.
   */
  private findFinishedLeaves(b: BranchNode, from: Uint8Array | null, to: Uint8Array, below: boolean): void {
    const foldTxn = this.tx!.txn;
    const first = from === null || below ? 0 : childIndexForWrite(b, from);
    const last = below ? b.kids.length - 1 : childIndexForWrite(b, to);
    for (let i = first; i <= last; i++) {
      const kid = b.kids[i];
      if (!kid || kid.ref) continue;
      if (!kid.isLeaf) {
        this.findFinishedLeaves(kid, from, to, below || (i < b.sepCount && compareSepAt(b, i, to) <= 0));
      } else if (below && kid.txn === foldTxn && b.txn === foldTxn) {
        // (A branch over a leaf the fold built was rebuilt by it too; T's own nodes are never edited.)
        this.finishedLeaves.push({ parent: b, index: i });
      }
    }
  }

  /**
   * Hands the next round of queued finished leaves (see findFinishedLeaves) to the writer, which
   * compresses them on the compression pool's workers too, while this thread goes on with the next
   * round or fold slice. Every queued leaf is in flight or stored before the next slice folds.
   */
  private startFinished(): void {
    const end = Math.min(this.finishedLeaves.length, this.finishedNext + MAX_COMPRESSION_ROUND);
    const slice = this.finishedLeaves.slice(this.finishedNext, end);
    this.finishedNext = end;
    if (end === this.finishedLeaves.length) {
      this.finishedLeaves = [];
      this.finishedNext = 0;
    }
    const leaves = slice.map(({ parent, index }) => parent.kids[index] as LeafNode);
    this.inFlight = { slice, leaves, started: this.writer.startFinished(leaves) };
  }

  /**
   * Stores the finished leaves handed out by startFinished: their parents take their refs and drop
   * them, and the node cache gets them.
   */
  private completeFinished(): void {
    const f = this.inFlight;
    if (!f) return;
    this.inFlight = null;
    f.started.take();
    const cache = this.version.store.cache;
    for (let i = 0; i < f.slice.length; i++) {
      const { parent, index } = f.slice[i]!;
      const leaf = f.leaves[i]!;
      parent.refs.set(index, leaf.ref);
      parent.kids[index] = null;
      trimLeaf(leaf, true);
      cache.put(leaf.ref!.offset, leaf);
      this.finished.push(leaf.ref!.offset);
    }
  }

  private endFold(): void {
    const tables = new Map(this.version.tables);
    for (const f of this.folds) tables.set(f.name, { name: f.name, root: f.root, count: f.count, mem: null });
    if (this.tx) {
      // Between commits the releases are logged at the end instead (finish, logReleases).
      if (!this.between) this.storedFrees = this.tx.applyFoldBlobDeltas(tables, Math.max(this.core.readers.newest(), this.txn));
      this.tx.endSlicedFold();
    }
    for (const t of tables.values()) if (t.root) dirtyNodes(t.root, isReservedTableName(t.name) ? this.directNodes : this.order);
    for (const node of this.directNodes) if (node.isLeaf && node.pending) this.directLeaves.push(node);
    this.stored = tables;
  }

  /**
   * Writes the next DIRECT_SLICE_VALUES out-of-line values of T's blob-table leaves (see
   * directValues): a leaf of a blob table can name hundreds of blobs, so a slice counts values.
   */
  private writeDirectValues(): void {
    let written = 0;
    while (this.nextDirectLeaf < this.directLeaves.length && written < DIRECT_SLICE_VALUES) {
      const pending = this.directLeaves[this.nextDirectLeaf]!.pending ?? [];
      while (this.nextDirectValue < pending.length && written < DIRECT_SLICE_VALUES) {
        const v = pending[this.nextDirectValue++];
        if (!v) continue;
        this.writer.writeValue(v);
        written++;
      }
      if (this.nextDirectValue < pending.length) break;
      this.nextDirectLeaf++;
      this.nextDirectValue = 0;
    }
  }

  private storeSlice(): void {
    const end = Math.min(this.order.length, this.nextNode + STORE_SLICE_NODES);
    this.writer.store(this.order.slice(this.nextNode, end));
    this.nextNode = end;
  }

  /**
   * Stores the blob tables' nodes, writes the catalog and the freelist, logs the fold's released
   * references (a run between commits) and writes the header slot, then installs the folded trees
   * in the newest version, which must be durable. With `clean` (close), both slots end up describing
   * the checkpoint and the WAL is deleted. On failure the run is abandoned and the error thrown.
   */
  finish(): CheckpointInfo {
    const core = this.core;
    if (!this.step(Infinity)) throw new Error('internal: a checkpoint run finished before its steps');
    if (core.latest !== core.durable) throw new Error('internal: a checkpoint is installed only over a durable version');
    const txn = this.txn;
    const active = core.slots.active;
    if (this.unchanged) {
      this.ended = true;
      if (this.clean) deleteWalSegments(core, Infinity);
      return { txn, wrote: false, blocksWritten: 0, bytesWritten: 0, durationMs: performance.now() - this.started };
    }
    const w = this.writer;
    const sync = core.options.durability !== 'none';
    let retired: Extent[];
    try {
      // T's nodes do not change after the fold (commits copy them), and step() wrote all their values ahead.
      w.store(this.directNodes);
      const stored: StoredTable[] = [];
      for (const t of this.stored!.values()) stored.push({ name: t.name, count: t.count, root: t.root ? t.root.ref! : null });
      stored.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const catalog = w.write(BlockKind.Catalog, encodeCatalog(stored));
      retired = [];
      if (active.catalog) retired.push(active.catalog);
      if (active.freelist) retired.push(active.freelist);
      // The freelist goes at the end of the file so that allocating it changes no free extent.
      // What the fold dropped is free as of this checkpoint (in memory it waits for readers; see install).
      const dropped = new ExtentList();
      dropped.append(retired);
      if (this.tx) {
        dropped.append(this.tx.freed);
        dropped.append(this.storedFrees);
      }
      const freelist = w.write(BlockKind.Freelist, encodeFreelist(core.space.persistedFreeList(dropped, txn)), true);
      w.flush();
      const fileEnd = core.space.allocator.end;
      if (core.file.size() > fileEnd) core.file.truncate(fileEnd);
      if (sync) core.file.sync();
      const walPos = this.clean ? { segment: core.wal.segment + 1, offset: SEGMENT_HEADER_SIZE } : this.walPos;
      const slot: HeaderSlot = {
        pageSize: core.options.pageSize,
        databaseId: core.databaseId,
        seq: active.seq + 1,
        checkpointTxn: txn,
        fileEnd,
        catalog,
        freelist,
        walSegment: walPos.segment,
        walOffset: walPos.offset,
        flags: this.clean ? SLOT_FLAG_CLEAN : 0,
        ...keyFields(core),
      };
      if (this.between) this.logReleases();
      const target = (1 - core.slots.activeIndex) as 0 | 1;
      core.file.writeSlot(target, slot);
      if (sync) core.file.sync();
      if (this.clean) {
        // Both slots must describe the clean state before the WAL may go: either may be the fallback.
        const second = { ...slot, seq: slot.seq + 1 };
        core.file.writeSlot(core.slots.activeIndex, second);
        if (sync) core.file.sync();
        core.slots = { activeIndex: core.slots.activeIndex, active: second, other: slot };
      } else {
        core.slots = { activeIndex: target, active: slot, other: active };
      }
    } catch (err) {
      this.abort();
      throw err;
    }
    this.ended = true;
    this.install();
    core.readers.remove(txn);
    core.space.checkpointSucceeded(txn);
    // The old catalog and freelist are retired as of the next transaction, not this one: a reader of
    // the checkpoint they belong to (a backup pins it and reads them) holds back exactly that. This
    // checkpoint no longer reaches them.
    core.space.addFreed(txn + 1, retired, txn);
    core.ringChanged = false;
    // Enough leaves to say how well they compress: leaves may then grow to fill a page compressed.
    core.leafRatio.stored(w.leafRaw, w.leafPacked);
    const cache = this.version.store.cache;
    for (const node of w.persisted) {
      if (node instanceof BranchNode) for (let i = 0; i < node.kids.length; i++) node.kids[i] = null;
      else trimLeaf(node, true);
      cache.put(node.ref!.offset, node);
    }
    core.walBytesAtCheckpoint = this.walBytesAtStart;
    core.counters.checkpoints++;
    core.fallbackIntact = true;
    core.counters.blockBytesWritten += w.bytes;
    core.counters.lastCheckpointAt = Date.now();
    const durationMs = performance.now() - this.started;
    core.counters.checkpointMsTotal += durationMs;
    deleteWalSegments(core, this.clean ? Infinity : Math.min(core.slots.active.walSegment, core.slots.other?.walSegment ?? Infinity));
    return { txn, wrote: true, blocksWritten: w.blocks, bytesWritten: w.bytes, durationMs };
  }

  /**
   * Logs the references the fold released (see the class comment) as the next txn's WAL record and
   * makes it durable; from then on that txn is taken, applied or not. Nothing when there are none.
   */
  private logReleases(): void {
    const releases = this.tx?.foldReleases() ?? [];
    if (releases.length === 0) return;
    const core = this.core;
    const latest = core.latest;
    const txn = latest.txn + 1;
    core.wal.append(txn, encodeFoldReleases(this.txn, releases));
    core.wal.sync();
    // Until install applies them, memory reads the record as replay over an older checkpoint does: as nothing.
    core.latest = core.durable = new Version(txn, latest.tables, latest.store);
    this.releasesTxn = txn;
  }

  /**
   * Makes the newest version read the folded trees: each folded table gets its stored tree under a
   * memtable of the commits after T (none when the version is T's own), and the blob tables the
   * fold's released references.
   */
  private install(): void {
    const core = this.core;
    const latest = core.latest;
    const tx = this.tx;
    if (!tx) return;
    let tables: Map<string, TableState>;
    if (latest === this.version) {
      tables = this.stored!;
    } else {
      if (!this.between) throw new Error('internal: a checkpoint run at once is installed over later commits');
      tables = new Map(latest.tables);
      // The new memtables' lookups must hold the store and their root only: holding `latest` would
      // chain every older version, and its memtables, to the newest one.
      const store = latest.store;
      for (const f of this.folds) {
        const root = f.root;
        tables.set(f.name, { name: f.name, root, count: f.count, mem: f.mem.since(this.txn, (key) => treeHas(root, key, store)) });
      }
      // Blocks the stored checkpoint reaches, so freed for the checkpoint after it (checkpointTxn latest.txn).
      core.space.addFreed(latest.txn + 1, this.settleDirect(tables), latest.txn);
      if (this.releasesTxn !== 0) {
        core.space.addFreed(latest.txn + 1, tx.applyFoldBlobDeltas(tables, Math.max(core.readers.newest(), latest.txn)), latest.txn);
        tx.endSlicedFold();
      }
    }
    core.latest = core.durable = new Version(latest.txn, tables, latest.store);
    // What the fold dropped stays readable for every reader of a version before this one, T's or later.
    core.space.addFreed(latest.txn + 1, tx.freed, this.txn);
    core.space.addFreed(latest.txn + 1, this.storedFrees, this.txn);
  }

  /**
   * Brings the blob tables of `tables` (the newest version's) in line with what this run stored of
   * T's: an unstored leaf there that holds a value this run wrote takes its ref. Returns the blocks
   * this run wrote that nothing there reaches: nodes T held unstored that a commit after T copied
   * (it had no block to free then), and values no leaf holds any more (a commit deleted the blob).
   */
  private settleDirect(tables: ReadonlyMap<string, TableState>): ExtentList {
    const out = new ExtentList();
    const values = this.writer.directValues;
    if (this.directNodes.length === 0 && values.size === 0) return out;
    const ours = new Set(this.directNodes);
    const reached = new Set<Node>();
    const held = new Set<number>();
    for (const [name, t] of tables) {
      if (!isReservedTableName(name) || !t.root) continue;
      const stack: Node[] = [t.root];
      while (stack.length > 0) {
        const node = stack.pop()!;
        const mine = ours.has(node);
        // A node stored before this run reaches only nodes stored before it.
        if (node.ref && !mine) continue;
        if (mine) reached.add(node);
        if (node instanceof BranchNode) {
          for (const kid of node.kids) if (kid) stack.push(kid);
        } else if (mine) {
          for (let i = 0; i < node.count; i++) if (valueTagAt(node, i) === ValueTag.OutOfLine) held.add(valueRefAt(node, i)!.offset);
        } else if (node.pending) {
          adoptValues(node as LeafNode, values, held);
        }
      }
    }
    for (const node of this.directNodes) if (!reached.has(node)) out.push(node.ref!.offset, node.ref!.length);
    for (const ref of values.values()) if (!held.has(ref.offset)) out.push(ref.offset, ref.length);
    return out;
  }

  /** Abandons the run: memory stays as it was, and what it wrote waits in quarantine. */
  abort(): void {
    if (this.ended) return;
    this.ended = true;
    // The pool's round must be taken before anything else compresses; what it places is quarantined below.
    const inFlight = this.inFlight;
    this.inFlight = null;
    try {
      inFlight?.started.take();
    } catch {
      // Abandoned anyway: its blocks are not used.
    }
    this.writer.rollback();
    // The run's stored leaves sit in the cache at offsets that its quarantine may give out again.
    const cache = this.version.store.cache;
    for (const offset of this.finished) cache.delete(offset);
    this.core.space.quarantine(this.writer.allocated);
    if (!this.unchanged) this.core.readers.remove(this.txn);
  }
}

/**
 * Gives an unstored leaf the refs of the pending values a checkpoint has just stored (the same value
 * objects: the leaf is a commit's copy of one it stored), and adds their offsets to `held`. The
 * bytes read the same either way; the next checkpoint then has nothing to write for them.
 */
function adoptValues(leaf: LeafNode, stored: ReadonlyMap<OutOfLineValue, BlockRef>, held: Set<number>): void {
  const pending = leaf.pending!;
  let left = 0;
  for (let i = 0; i < pending.length; i++) {
    const v = pending[i];
    if (!v) continue;
    const ref = stored.get(v);
    if (!ref) {
      left++;
      continue;
    }
    writeBlockRef(leaf.data, valueRefOffset(leaf, i), ref);
    pending[i] = undefined;
    held.add(ref.offset);
  }
  if (left === 0) leaf.pending = null;
}

/** Writes a checkpoint of `core.durable`, which must equal `core.latest` (the caller flushed the WAL), start to end. */
export function writeCheckpoint(core: ShardCore, clean = false): CheckpointInfo {
  const run = new CheckpointRun(core, clean);
  try {
    run.step(Infinity);
  } catch (err) {
    run.abort();
    throw err;
  }
  return run.finish();
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
