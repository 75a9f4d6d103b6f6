/**
 * Close-time trim: gives the free space inside the page file back to the file system without
 * rebuilding the file, by moving the live blocks that lie past where a dense file would end into holes
 * below that point and then cutting the file after its last live block.
 *
 * Why: a checkpoint never overwrites what the newest durable slot reaches, so the blocks the close's
 * own checkpoint replaced stay behind as holes (a quarter of the file after a long ingest). Compaction
 * removes them too, but it rewrites every table; the trim rewrites only the blocks past the cut and
 * their parents, so close can afford it whenever the holes are worth it.
 *
 * Steps, once the close's clean checkpoint (C1) is in both slots and no snapshot is open:
 *   1. The free map is C1's. The cut is where the file would end if dense, plus slack for the blocks
 *      the trim rewrites; the trim runs only if the free space is a worthwhile share of the file.
 *   2. Blocks starting at or past the cut move into holes below it, largest first (best fit).
 *      Unencrypted ones keep their stored bytes (only the offset-seeded checksum changes); encrypted
 *      ones are opened and sealed again, since the offset is authenticated. A block that finds no
 *      hole stays where it is. Parents of moved blocks (branches, the leaves holding moved
 *      out-of-line values) and a new catalog are rewritten into holes as well.
 *   3. The new checkpoint C2 ends after its last block: its freelist goes into a hole and lists every
 *      extent below that end that C2 does not reach (the extents C1 used for what moved included).
 *   4. fdatasync; C2 into the slot the close wrote first; fdatasync; C2 into the other slot;
 *      fdatasync; then the truncate.
 *
 * Crash safety: until the first slot write both slots hold C1, and the trim wrote only into space C1
 * leaves free. After it the newest slot is C2, whose blocks are durable, and the other is still C1,
 * intact since nothing was overwritten or cut. The truncate comes only once both slots hold C2, which
 * reaches nothing past the new end, so whichever slot open falls back on is whole. A truncate lost to
 * a crash leaves the file longer than its checkpoint says, which open ignores.
 *
 * Moved blocks are stamped with the checkpoint's txn. An incremental backup reuses a block of its
 * base when offset, checksum and that txn all match, which relies on an extent being rewritten only
 * with a newer txn than the block it held. So the trim runs only when the checkpoint's txn is newer
 * than the one this session opened from: every hole then last held a block of an older txn (freed by
 * a commit of this session or before, or by the trim of an earlier session).
 */
import { CorruptionError } from '../../errors.js';
import { encodeBranch } from '../../btree/node-codec.js';
import { valueRefAt, valueRefOffset, valueTagAt } from '../../btree/leaf.js';
import { ValueTag, type BranchNode, type LeafNode, type Node } from '../../btree/node.js';
import { ExtentAllocator, type Extent } from '../../pagefile/allocator.js';
import { writeBlockRef } from '../../pagefile/block-ref-codec.js';
import { BlockRefList } from '../../pagefile/block-ref-list.js';
import { prepareBlock, prepareMove, sealBlock, type PreparedMove } from '../../pagefile/block.js';
import { encodeFreelist } from '../../pagefile/freelist-codec.js';
import type { HeaderSlot } from '../../pagefile/header-slot.js';
import { alignUp, BLOCK_REF_SIZE, BlockKind, HEADER_SIZE, type BlockKindValue, type BlockRef } from '../../pagefile/layout.js';
import { encodeCatalog, type StoredTable, type TableState } from '../data/catalog.js';
import { Version } from '../data/version.js';
import { SLOT_FLAG_CLEAN } from '../durability/checkpoint.js';
import { FreeSpace, mergedExtents } from '../durability/free-space.js';
import { uninitializedBytes } from '../../util/bytes.js';
import type { ShardCore } from '../core.js';

/**
 * The trim runs when the file holds at least this share of free space, and at least TRIM_MIN_BYTES:
 * its cost (the bytes it moves) grows with the gain, but three fdatasyncs and a walk of every branch
 * are paid whatever the gain, and a file a tenth free is within the slack a busy store refills soon.
 */
const TRIM_MIN_SHARE = 0.1;
const TRIM_MIN_BYTES = 1 << 20;

/**
 * Room kept below the cut for the blocks the trim rewrites (branches, catalog, freelist) and for
 * packing moved blocks into holes of other sizes: 1/128 of the live bytes, at least 256 KiB. Measured
 * on the audit benchmark (200k events, 46 MB live, 563 holes), best fit placed every moved block with
 * 256 KiB.
 */
function slackFor(liveBytes: number): number {
  return alignUp(Math.max(256 << 10, liveBytes / 128));
}

/** Moved blocks are read, sealed and written in batches of about this many bytes. */
const BATCH_BYTES = 8 << 20;

/** Tries at placing the freelist before giving up (its size depends on where it goes). */
const FREELIST_PLACEMENTS = 8;

/** What a trim did. */
export interface TrimInfo {
  /** Page file size before and after, in bytes. */
  bytesBefore: number;
  bytesAfter: number;
  /** Blocks moved as they were, and blocks rewritten (parents, catalog, freelist). */
  blocksMoved: number;
  blocksRewritten: number;
  durationMs: number;
}

/** What a walk of the trees found. */
interface Scan {
  /** Per table, its leaves (for finding out-of-line values past the cut), packed: there may be millions. */
  leaves: Map<string, BlockRefList>;
  leafBytes: Map<string, number>;
  /**
   * Leaves at or past the cut, packed: after a long ingest of random keys the close's checkpoint
   * leaves most of the tree there, hundreds of thousands of leaves.
   */
  leavesPastCut: BlockRefList;
  /** Out-of-line values at or past the cut, by offset. */
  valuesToMove: Map<number, BlockRef>;
  /** Bytes at or past the cut of the blocks the walk found. */
  bytesPastCut: number;
  /** Leaves holding values past the cut, by leaf offset: entry index and value ref. */
  valuesPastCut: Map<number, { index: number; ref: BlockRef }[]>;
}

/** Whether two slots describe the same checkpoint (the close wrote both). */
function sameCheckpoint(a: HeaderSlot, b: HeaderSlot | null): boolean {
  return (
    b !== null &&
    a.checkpointTxn === b.checkpointTxn &&
    a.fileEnd === b.fileEnd &&
    a.catalog?.offset === b.catalog?.offset &&
    a.freelist?.offset === b.freelist?.offset &&
    (a.flags & SLOT_FLAG_CLEAN) !== 0 &&
    (b.flags & SLOT_FLAG_CLEAN) !== 0
  );
}


/** Whether a block reaches past the cut (and so has to move for the file to end there). */
function pastCut(ref: BlockRef, cut: number): boolean {
  return ref.offset + ref.length > cut;
}

/** Bytes of a block at or past the cut. */
function bytesPastCut(ref: BlockRef, cut: number): number {
  return Math.max(0, ref.offset + ref.length - Math.max(ref.offset, cut));
}

/**
 * Free extents at or past the cut, lowest first. A block goes here only when no hole below the cut
 * holds it, and only below where it would otherwise stay.
 */
class HolesPastCut {
  constructor(private readonly list: Extent[]) {}

  /** The lowest extent that holds `length` and ends by `limit`; null when none does. */
  take(length: number, limit: number): number | null {
    for (let i = 0; i < this.list.length; i++) {
      const e = this.list[i]!;
      if (e.offset + length > limit) return null;
      if (e.length < length) continue;
      const offset = e.offset;
      if (e.length === length) this.list.splice(i, 1);
      else this.list[i] = { offset: offset + length, length: e.length - length };
      return offset;
    }
    return null;
  }

  giveBack(offset: number, length: number): void {
    const all = mergedExtents([...this.list, { offset, length }]);
    this.list.splice(0, this.list.length, ...all);
  }

  get extents(): readonly Extent[] {
    return this.list;
  }
}

/** Places, seals and queues the blocks of one trim; remembers what C2 no longer reaches. */
class TrimWriter {
  private queue: { offset: number; bytes: Uint8Array }[] = [];
  private queued = 0;
  /** Extents of C1 that C2 does not reach: free for C2, but not to be written before C2 is durable. */
  readonly released: Extent[] = [];
  blocksMoved = 0;
  blocksRewritten = 0;

  constructor(
    private readonly core: ShardCore,
    private readonly txn: number,
    private readonly below: ExtentAllocator,
    private readonly past: HolesPastCut,
  ) {}

  /** A hole for `length` bytes below the cut, else past it but below `limit`; null when none. */
  place(length: number, limit: number): number | null {
    return this.below.allocateInHole(length) ?? this.past.take(length, limit);
  }

  giveBack(offset: number, length: number): void {
    if (offset < this.below.end) this.below.free(offset, length);
    else this.past.giveBack(offset, length);
  }

  /** Moves a block as it is when a hole takes it; returns its new ref, or null when it stays. */
  move(old: BlockRef, p: PreparedMove): BlockRef | null {
    const offset = this.place(p.extentLength, old.offset);
    if (offset === null) return null;
    const { bytes, ref } = p.seal(offset, this.txn);
    this.push(offset, bytes, old);
    this.blocksMoved++;
    return ref;
  }

  /** Writes a rewritten block (replacing `old`, if any) into a hole; null when no hole holds it. */
  rewrite(kind: BlockKindValue, payload: Uint8Array, old: BlockRef | null): BlockRef | null {
    const { codec } = this.core;
    const prepared = prepareBlock(kind, payload, codec);
    const offset = this.place(prepared.extentLength, Infinity);
    if (offset === null) return null;
    const { bytes, ref } = sealBlock(prepared, offset, this.txn, codec);
    this.push(offset, bytes, old);
    this.blocksRewritten++;
    return ref;
  }

  private push(offset: number, bytes: Uint8Array, old: BlockRef | null): void {
    if (old) this.released.push({ offset: old.offset, length: old.length });
    this.queue.push({ offset, bytes });
    this.queued += bytes.length;
    if (this.queued >= BATCH_BYTES) this.flush();
  }

  flush(): void {
    if (this.queue.length === 0) return;
    this.core.file.writeExtents(this.queue);
    this.queue = [];
    this.queued = 0;
  }
}

/** Height of a tree: 0 for a leaf root. Leaves all sit at one depth, so the leftmost path tells. */
function heightOf(core: ShardCore, root: Node): number {
  let h = 0;
  for (let n = root; !n.isLeaf; h++) n = n.kids[0] ?? core.store.load(n.refs.get(0)!);
  return h;
}

function loadBranch(core: ShardCore, node: Node | null, ref: BlockRef): BranchNode {
  const n = node ?? core.store.load(ref);
  if (n.isLeaf) throw new CorruptionError(core.file.path, ref.offset, 'a leaf where the tree has branches (leaves at different depths)');
  return n;
}

/** Walks every table's branches (not its leaves), noting what lies at or past the cut. */
function scanTrees(core: ShardCore, cut: number): Scan {
  const scan: Scan = { leaves: new Map(), leafBytes: new Map(), leavesPastCut: BlockRefList.empty(), valuesToMove: new Map(), bytesPastCut: 0, valuesPastCut: new Map() };
  // Leaves are noted from their parent's packed refs, making no object per leaf.
  const noteLeaf = (name: string, refs: BlockRefList, i: number): void => {
    const offset = refs.offsetAt(i);
    const length = refs.lengthAt(i);
    scan.leaves.get(name)!.pushFrom(refs, i);
    scan.leafBytes.set(name, scan.leafBytes.get(name)! + length);
    if (offset + length > cut) {
      scan.bytesPastCut += offset + length - Math.max(offset, cut);
      scan.leavesPastCut.pushFrom(refs, i);
    }
  };
  const visit = (name: string, node: Node | null, ref: BlockRef, height: number): void => {
    scan.bytesPastCut += bytesPastCut(ref, cut);
    const branch = loadBranch(core, node, ref);
    for (let i = 0; i < branch.refs.length; i++) {
      if (height === 1) noteLeaf(name, branch.refs, i);
      else visit(name, branch.kids[i] ?? null, branch.refs.get(i)!, height - 1);
    }
  };
  for (const t of core.durable.tables.values()) {
    if (!t.root) continue;
    scan.leaves.set(t.name, BlockRefList.empty());
    scan.leafBytes.set(t.name, 0);
    const height = heightOf(core, t.root);
    if (height === 0) noteLeaf(t.name, BlockRefList.from([t.root.ref!]), 0);
    else visit(t.name, t.root, t.root.ref!, height);
  }
  return scan;
}

/**
 * Finds the out-of-line values at or past the cut. Only leaves name them, so leaves are read, table
 * by table from the one with the fewest leaf bytes (values live out of line where leaves are small),
 * until the values found account for every allocated byte past the cut the walk did not explain.
 */
function findValues(core: ShardCore, scan: Scan, cut: number, unexplained: number): void {
  const tables = [...scan.leafBytes].sort((a, b) => a[1] - b[1]).map(([name]) => name);
  for (const name of tables) {
    const leaves = scan.leaves.get(name)!;
    for (let k = 0; k < leaves.length; k++) {
      if (unexplained <= 0) return;
      const leafRef = leaves.get(k)!;
      const leaf = core.store.load(leafRef) as LeafNode;
      for (let i = 0; i < leaf.count; i++) {
        if (valueTagAt(leaf, i) !== ValueTag.OutOfLine) continue;
        const ref = valueRefAt(leaf, i);
        if (!ref || !pastCut(ref, cut)) continue;
        let entries = scan.valuesPastCut.get(leafRef.offset);
        if (!entries) scan.valuesPastCut.set(leafRef.offset, (entries = []));
        entries.push({ index: i, ref });
        scan.valuesToMove.set(ref.offset, ref);
        unexplained -= bytesPastCut(ref, cut);
      }
    }
  }
}

/** The new refs of the blocks the trim moved, by old offset; packed, as there may be hundreds of thousands. */
class Moves {
  private readonly index = new Map<number, number>();
  private readonly refs = BlockRefList.empty();

  set(oldOffset: number, ref: BlockRef): void {
    this.index.set(oldOffset, this.refs.length);
    this.refs.push(ref);
  }

  get(oldOffset: number): BlockRef | undefined {
    const i = this.index.get(oldOffset);
    return i === undefined ? undefined : this.refs.get(i)!;
  }
}

/**
 * Moves every block past the cut it can, largest first: the leaves none of whose values move (a leaf
 * whose values move is rewritten anyway), and the values. Returns the new refs by old offset.
 */
function moveBlocks(core: ShardCore, w: TrimWriter, scan: Scan): Moves {
  const blocks = BlockRefList.empty();
  const kinds: BlockKindValue[] = [];
  const leaves = scan.leavesPastCut;
  for (let k = 0; k < leaves.length; k++) {
    if (scan.valuesPastCut.has(leaves.offsetAt(k))) continue;
    blocks.pushFrom(leaves, k);
    kinds.push(BlockKind.Leaf);
  }
  for (const ref of scan.valuesToMove.values()) {
    blocks.push(ref);
    kinds.push(BlockKind.Value);
  }
  const order = new Int32Array(blocks.length);
  for (let k = 0; k < order.length; k++) order[k] = k;
  order.sort((a, b) => blocks.lengthAt(b) - blocks.lengthAt(a) || blocks.offsetAt(a) - blocks.offsetAt(b));
  const moved = new Moves();
  let staging: Uint8Array = new Uint8Array(0);
  let i = 0;
  while (i < order.length) {
    const first = i;
    let bytes = 0;
    while (i < order.length && (i === first || bytes + blocks.lengthAt(order[i]!) <= BATCH_BYTES)) bytes += blocks.lengthAt(order[i++]!);
    // One buffer holds the whole batch, reused for the next once the batch is written: a buffer per
    // block (a long ingest's close moves tens of thousands) is garbage that raised the close's peak.
    if (staging.length < bytes) staging = uninitializedBytes(bytes);
    let at = 0;
    for (let k = first; k < i; k++) {
      const old = blocks.get(order[k]!)!;
      const extent = core.file.readExtentInto(staging.subarray(at, at + old.length), old.offset);
      at += old.length;
      const ref = w.move(old, prepareMove(extent, old.offset, core.file.path, old.crc, kinds[order[k]!]!, core.codec));
      if (ref) moved.set(old.offset, ref);
    }
    w.flush();
  }
  return moved;
}

/**
 * Rewrites what leads to a moved block, children first: a leaf whose values moved, a branch whose
 * children did, and any of them at or past the cut. Returns the node's ref in C2, or null when no
 * hole holds a block that has to be rewritten (the trim then gives up).
 */
function rewriteTree(core: ShardCore, w: TrimWriter, scan: Scan, moved: Moves, cut: number, node: Node | null, ref: BlockRef, height: number): BlockRef | null {
  if (height === 0) {
    const values = scan.valuesPastCut.get(ref.offset);
    if (!values) return moved.get(ref.offset) ?? ref;
    const leaf = (node ?? core.store.load(ref)) as LeafNode;
    const payload = leaf.data.slice(0, leaf.size);
    let changed = pastCut(ref, cut);
    for (const v of values) {
      const to = moved.get(v.ref.offset);
      if (!to) continue;
      writeBlockRef(payload, valueRefOffset(leaf, v.index), to);
      changed = true;
    }
    return changed ? w.rewrite(BlockKind.Leaf, payload, ref) : ref;
  }
  const branch = loadBranch(core, node, ref);
  const refs: BlockRef[] = [];
  let changed = pastCut(ref, cut);
  for (let i = 0; i < branch.refs.length; i++) {
    const old = branch.refs.get(i)!;
    const child = rewriteTree(core, w, scan, moved, cut, branch.kids[i] ?? null, old, height - 1);
    if (!child) return null;
    refs.push(child);
    if (child !== old) changed = true;
  }
  if (!changed) return ref;
  const payload = encodeBranch(branch);
  refs.forEach((r, i) => writeBlockRef(payload, 2 + i * BLOCK_REF_SIZE, r));
  return w.rewrite(BlockKind.Branch, payload, ref);
}

/**
 * The free extents of C2 (`free`, merged) minus a free tail, and where C2 then ends: after its last
 * block, or at `end` when the last extent does not reach it.
 */
function c2FreeList(free: Extent[], end: number): { list: Extent[]; fileEnd: number } {
  const list = mergedExtents(free);
  const last = list[list.length - 1];
  if (last && last.offset + last.length === end) return { list: list.slice(0, -1), fileEnd: last.offset };
  return { list, fileEnd: end };
}

/**
 * Places C2's freelist in a hole. The list depends on where the block goes (it does not list its own
 * extent, and the file end follows the last block), and its encoded size on the list, so placing is
 * repeated with the size the last try encoded until the two agree.
 */
function placeFreelist(core: ShardCore, w: TrimWriter, below: ExtentAllocator, past: HolesPastCut, end: number, txn: number): { ref: BlockRef; fileEnd: number } | null {
  const freeNow = (): Extent[] => [...below.extents(), ...past.extents, ...w.released];
  let length = prepareBlock(BlockKind.Freelist, encodeFreelist(c2FreeList(freeNow(), end).list), core.codec).extentLength;
  for (let attempt = 0; attempt < FREELIST_PLACEMENTS; attempt++) {
    const offset = w.place(length, Infinity);
    if (offset === null) return null;
    const { list, fileEnd } = c2FreeList(freeNow(), end);
    const prepared = prepareBlock(BlockKind.Freelist, encodeFreelist(list), core.codec);
    if (prepared.extentLength === length) {
      const { bytes, ref } = sealBlock(prepared, offset, txn, core.codec);
      core.file.writeExtents([{ offset, bytes }]);
      return { ref, fileEnd };
    }
    w.giveBack(offset, length);
    length = prepared.extentLength;
  }
  return null;
}

/**
 * Trims the page file after close's clean checkpoint; see the file comment. `sessionTxn` is the
 * checkpoint txn this session opened from. Returns null when there is nothing worth trimming or the
 * trim cannot run (a snapshot is open, the slots differ); then nothing that matters was written.
 * After it throws, the files are consistent (see above) but the core only fit for closing.
 */
export function trimOnClose(core: ShardCore, sessionTxn: number): TrimInfo | null {
  const started = performance.now();
  const version = core.durable;
  const txn = version.txn;
  const active = core.slots.active;
  if (core.readers.size > 0 || version !== core.latest || txn !== active.checkpointTxn || txn <= sessionTxn) return null;
  if (!sameCheckpoint(active, core.slots.other)) return null;
  for (const t of version.tables.values()) if (t.mem || (t.root && !t.root.ref)) return null;

  // Both slots hold C1 and nobody reads an older version: everything C1 does not reach is free.
  const end = active.fileEnd;
  const free = mergedExtents(core.space.persistedFreeList([]));
  const freeBytes = free.reduce((n, e) => n + e.length, 0);
  const bytesBefore = core.file.size();
  const liveEnd = end - freeBytes;
  const reclaimable = bytesBefore - liveEnd;
  if (reclaimable < TRIM_MIN_BYTES || reclaimable < bytesBefore * TRIM_MIN_SHARE) return null;
  const cut = liveEnd + slackFor(liveEnd - HEADER_SIZE);
  if (cut >= end) return null;

  const below = new ExtentAllocator(cut);
  const pastList: Extent[] = [];
  for (const e of free) {
    if (e.offset < cut) below.free(e.offset, Math.min(e.length, cut - e.offset));
    if (e.offset + e.length > cut) pastList.push({ offset: Math.max(e.offset, cut), length: e.offset + e.length - Math.max(e.offset, cut) });
  }
  const past = new HolesPastCut(pastList);

  const scan = scanTrees(core, cut);
  for (const root of [active.catalog, active.freelist]) if (root) scan.bytesPastCut += bytesPastCut(root, cut);
  const allocatedPastCut = end - cut - pastList.reduce((n, e) => n + e.length, 0);
  // Whatever the walk did not explain is out-of-line values (verify proves the tiling exact).
  if (allocatedPastCut > scan.bytesPastCut) findValues(core, scan, cut, allocatedPastCut - scan.bytesPastCut);

  const w = new TrimWriter(core, txn, below, past);
  const moved = moveBlocks(core, w, scan);
  const stored: StoredTable[] = [];
  for (const t of version.tables.values()) {
    const root = t.root ? rewriteTree(core, w, scan, moved, cut, t.root, t.root.ref!, heightOf(core, t.root)) : null;
    if (t.root && !root) return null;
    stored.push({ name: t.name, count: t.count, root });
  }
  stored.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const catalog = w.rewrite(BlockKind.Catalog, encodeCatalog(stored), active.catalog);
  if (!catalog) return null;
  if (active.freelist) w.released.push({ offset: active.freelist.offset, length: active.freelist.length });
  w.flush();
  const freelist = placeFreelist(core, w, below, past, end, txn);
  if (!freelist || freelist.fileEnd >= bytesBefore) return null;

  const sync = core.options.durability !== 'none';
  if (sync) core.file.sync();
  const first: HeaderSlot = { ...active, seq: active.seq + 1, fileEnd: freelist.fileEnd, catalog, freelist: freelist.ref, flags: SLOT_FLAG_CLEAN };
  const second: HeaderSlot = { ...first, seq: first.seq + 1 };
  const firstIndex = (1 - core.slots.activeIndex) as 0 | 1;
  core.file.writeSlot(firstIndex, first);
  if (sync) core.file.sync();
  core.file.writeSlot(core.slots.activeIndex, second);
  if (sync) core.file.sync();
  // Both slots now reach nothing past the new end. The cut needs no fdatasync: lost, it leaves a
  // longer file than the checkpoint covers, which open ignores and the next checkpoint cuts.
  core.file.truncate(freelist.fileEnd);

  // The core now describes C2, as a reopen would load it.
  const { list } = c2FreeList([...below.extents(), ...past.extents, ...w.released], end);
  const allocator = new ExtentAllocator(freelist.fileEnd);
  for (const e of list) allocator.free(e.offset, e.length);
  core.space = new FreeSpace(allocator);
  core.slots = { activeIndex: core.slots.activeIndex, active: second, other: first };
  core.store.cache.clear();
  const tables = new Map<string, TableState>();
  for (const s of stored) tables.set(s.name, { name: s.name, count: s.count, root: s.root ? core.store.load(s.root) : null });
  const trimmed = new Version(txn, tables, core.store);
  core.latest = trimmed;
  core.durable = trimmed;
  core.fallbackIntact = true;
  return { bytesBefore, bytesAfter: freelist.fileEnd, blocksMoved: w.blocksMoved, blocksRewritten: w.blocksRewritten + 1, durationMs: performance.now() - started };
}
