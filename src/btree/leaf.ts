/**
 * Operations on packed leaves (see node.ts). Reads work on any leaf; the functions that change a
 * leaf in place require that the calling transaction owns it.
 *
 * Entry layout inside `data` (the leaf payload format, node-codec.ts):
 *   u16 key length, key bytes, u8 value tag, u32 value length, value bytes (tag 0) or a 16-byte
 *   block ref (tag 1; zero while the value is pending in `pending`).
 */
import { readBlockRef } from '../pagefile/block-ref-codec.js';
import { BLOCK_REF_SIZE, type BlockRef } from '../pagefile/layout.js';
import { copyInto, uninitializedBytes } from '../util/bytes.js';
import { retainedSlab } from '../util/retained-memory.js';
import { comparePackedKey, comparePrefix, probeWord, sharedPrefix } from './packed-key.js';
import { BLOB_HASH_SIZE, BlobValue, LEAF_HEADER_SIZE, leafEntrySize, LeafNode, LeafSlab, OutOfLineValue, valueBodySize, ValueTag, type LeafValue } from './node.js';

export function keyLengthAt(leaf: LeafNode, i: number): number {
  const o = leaf.offs[i]!;
  return leaf.data[o]! | (leaf.data[o + 1]! << 8);
}

/** Compares entry i's key with `key`, without allocating. */
export function compareKeyAt(leaf: LeafNode, i: number, key: Uint8Array): number {
  return comparePackedKey(leaf.data, leaf.offs[i]!, key);
}

/** A view of entry i's key; only valid while the leaf does not change. */
export function keyAt(leaf: LeafNode, i: number): Uint8Array {
  const o = leaf.offs[i]!;
  return leaf.data.subarray(o + 2, o + 2 + keyLengthAt(leaf, i));
}

/** Offset of entry i's value tag. */
function tagOffset(leaf: LeafNode, i: number): number {
  return leaf.offs[i]! + 2 + keyLengthAt(leaf, i);
}

export function valueTagAt(leaf: LeafNode, i: number): number {
  return leaf.data[tagOffset(leaf, i)]!;
}

export function valueLengthAt(leaf: LeafNode, i: number): number {
  const p = tagOffset(leaf, i) + 1;
  const d = leaf.data;
  return (d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16)) + d[p + 3]! * 0x1000000;
}

/** A view of an inline value; only valid while the leaf does not change. */
export function inlineValueAt(leaf: LeafNode, i: number): Uint8Array {
  const p = tagOffset(leaf, i) + 5;
  return leaf.data.subarray(p, p + valueLengthAt(leaf, i));
}

/** The BLAKE3 hash of a deduplicated value (a view; only valid while the leaf does not change). */
export function blobHashAt(leaf: LeafNode, i: number): Uint8Array {
  const p = tagOffset(leaf, i) + 5;
  return leaf.data.subarray(p, p + BLOB_HASH_SIZE);
}

/** Entry i's value part as stored (tag, length and body), for copying it elsewhere unchanged. */
export function valuePartAt(leaf: LeafNode, i: number): Uint8Array {
  return leaf.data.subarray(tagOffset(leaf, i), leaf.offs[i + 1]!);
}

/** The stored block of an out-of-line value, or null while it is pending (not stored yet). */
export function valueRefAt(leaf: LeafNode, i: number): BlockRef | null {
  if (leaf.pending?.[i]) return null;
  return readBlockRef(leaf.data, tagOffset(leaf, i) + 5) ?? null;
}

/** Offset in `data` where entry i's out-of-line ref is written. */
export function valueRefOffset(leaf: LeafNode, i: number): number {
  return tagOffset(leaf, i) + 5;
}

/** Index of `key`, or -(insertion point) - 1 when absent. */
export function leafFind(leaf: LeafNode, key: Uint8Array): number {
  let lo = 0;
  let hi = leaf.count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeyAt(leaf, mid, key);
    if (c < 0) lo = mid + 1;
    else if (c > 0) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}

function buildProbe(leaf: LeafNode): Uint32Array {
  const n = leaf.count;
  const data = leaf.data;
  const cp = sharedPrefix(data, leaf.offs[0]!, leaf.offs[n - 1]!);
  const probe = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const o = leaf.offs[i]!;
    probe[i] = probeWord(data, o + 2 + cp, o + 2 + (data[o]! | (data[o + 1]! << 8)));
  }
  leaf.probePrefix = cp;
  leaf.probe = probe;
  return probe;
}

/**
 * {@link leafFind} for readers: compares the probe words first and whole keys only on ties, so a
 * search touches one small array instead of one cache line per probed entry. Not for leaves being
 * edited (every edit would rebuild the index).
 */
export function leafSearch(leaf: LeafNode, key: Uint8Array): number {
  const n = leaf.count;
  if (n === 0) return -1;
  const probe = leaf.probe ?? buildProbe(leaf);
  const cp = leaf.probePrefix;
  if (cp > 0) {
    const side = comparePrefix(leaf.data, leaf.offs[0]! + 2, cp, key);
    if (side !== 0) return side < 0 ? -1 : -n - 1;
  }
  const kp = probeWord(key, cp, key.length);
  let lo = 0;
  let hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const p = probe[mid]!;
    const c = p < kp ? -1 : p > kp ? 1 : compareKeyAt(leaf, mid, key);
    if (c < 0) lo = mid + 1;
    else if (c > 0) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}

/** Index of the first key >= `key` (> when `exclusive`); count when none. */
export function leafLowerBound(leaf: LeafNode, key: Uint8Array, exclusive: boolean): number {
  let lo = 0;
  let hi = leaf.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeyAt(leaf, mid, key);
    if (c < 0 || (exclusive && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---- changes (owned leaves only) ----

/** Spare bytes and entry slots a copied leaf gets, so a few edits need no reallocation. */
const SPARE_BYTES = 384;
const SPARE_ENTRIES = 8;

/**
 * Offsets and payload of one leaf share one backing store: one allocation per copy instead of two,
 * which matters because copy-on-write allocates for every leaf a transaction touches. The store is
 * not zeroed: only bytes [0, size) and offsets [0, count] are ever read or written out, and every
 * caller fills those.
 */
function allocateLeaf(dataBytes: number, entries: number): { data: Uint8Array; offs: Int32Array } {
  const offsBytes = (entries + 1) * 4;
  const { buffer } = uninitializedBytes(offsBytes + dataBytes);
  return { offs: new Int32Array(buffer, 0, entries + 1), data: new Uint8Array(buffer, offsBytes, dataBytes) };
}

/** A private copy of `leaf` for transaction `txn`, with room to grow. */
export function cloneLeaf(leaf: LeafNode, txn: number): LeafNode {
  const { data, offs } = allocateLeaf(leaf.size + SPARE_BYTES, leaf.count + SPARE_ENTRIES);
  data.set(leaf.data.subarray(0, leaf.size));
  offs.set(leaf.offs.subarray(0, leaf.count + 1));
  return new LeafNode(data, offs, leaf.count, leaf.size, leaf.pending ? leaf.pending.slice() : null, txn, null);
}

function ensureCapacity(leaf: LeafNode, bytes: number, entries: number): void {
  if (leaf.data.length >= bytes && leaf.offs.length >= entries + 1) return;
  const grown = allocateLeaf(
    Math.max(bytes, leaf.data.length + (leaf.data.length >> 1)),
    Math.max(entries, leaf.offs.length + (leaf.offs.length >> 1)),
  );
  grown.data.set(leaf.data.subarray(0, leaf.size));
  grown.offs.set(leaf.offs.subarray(0, leaf.count + 1));
  leaf.data = grown.data;
  leaf.offs = grown.offs;
  leaf.slab = null;
}

function writeCount(leaf: LeafNode): void {
  leaf.data[0] = leaf.count & 0xff;
  leaf.data[1] = leaf.count >>> 8;
}

/** Encoded size of the value part of an entry (tag, length, then bytes, ref or hash). */
function valuePartSize(value: LeafValue): number {
  return 5 + valueBodySize(value);
}

/** Writes an entry's bytes at `o`; returns the offset after it. */
function writeEntry(data: Uint8Array, o: number, key: Uint8Array, value: LeafValue): number {
  data[o] = key.length & 0xff;
  data[o + 1] = key.length >>> 8;
  copyInto(data, o + 2, key);
  return writeValuePart(data, o + 2 + key.length, value);
}

/** Writes tag, length and value bytes (or a zero ref, or a hash) at `o`; returns the offset after them. */
function writeValuePart(data: Uint8Array, o: number, value: LeafValue): number {
  const tag = value instanceof OutOfLineValue ? ValueTag.OutOfLine : value instanceof BlobValue ? ValueTag.Blob : ValueTag.Inline;
  const vl = value instanceof OutOfLineValue ? value.data.length : value.length;
  data[o] = tag;
  data[o + 1] = vl & 0xff;
  data[o + 2] = (vl >>> 8) & 0xff;
  data[o + 3] = (vl >>> 16) & 0xff;
  data[o + 4] = (vl >>> 24) & 0xff;
  o += 5;
  if (value instanceof OutOfLineValue) {
    data.fill(0, o, o + BLOCK_REF_SIZE);
    return o + BLOCK_REF_SIZE;
  }
  if (value instanceof BlobValue) {
    data.set(value.hash, o);
    return o + BLOB_HASH_SIZE;
  }
  copyInto(data, o, value);
  return o + value.length;
}

/** Moves bytes [from, size) by `delta` and shifts the offsets of entries after `i` to match. */
function shiftTail(leaf: LeafNode, from: number, delta: number, firstEntry: number): void {
  if (delta === 0) return;
  leaf.data.copyWithin(from + delta, from, leaf.size);
  for (let j = firstEntry; j <= leaf.count; j++) leaf.offs[j] = leaf.offs[j]! + delta;
  leaf.size += delta;
}

/** Inserts an entry at index i (which must keep keys ascending). */
export function insertEntry(leaf: LeafNode, i: number, key: Uint8Array, value: LeafValue): void {
  const es = leafEntrySize(key.length, value);
  ensureCapacity(leaf, leaf.size + es, leaf.count + 1);
  const at = leaf.offs[i]!;
  leaf.data.copyWithin(at + es, at, leaf.size);
  for (let j = leaf.count; j >= i; j--) leaf.offs[j + 1] = leaf.offs[j]! + es;
  leaf.count++;
  leaf.size += es;
  leaf.probe = null;
  writeEntry(leaf.data, at, key, value);
  writeCount(leaf);
  if (value instanceof OutOfLineValue || leaf.pending) {
    leaf.pending ??= new Array<OutOfLineValue | undefined>(leaf.count - 1);
    leaf.pending.splice(i, 0, value instanceof OutOfLineValue ? value : undefined);
  }
}

/** Replaces the value of entry i. */
export function replaceValue(leaf: LeafNode, i: number, value: LeafValue): void {
  const tag = tagOffset(leaf, i);
  const end = leaf.offs[i + 1]!;
  const delta = valuePartSize(value) - (end - tag);
  ensureCapacity(leaf, leaf.size + delta, leaf.count);
  shiftTail(leaf, end, delta, i + 1);
  writeValuePart(leaf.data, tag, value);
  if (value instanceof OutOfLineValue || leaf.pending) {
    leaf.pending ??= new Array<OutOfLineValue | undefined>(leaf.count);
    leaf.pending[i] = value instanceof OutOfLineValue ? value : undefined;
  }
}

/** Removes entry i. */
export function removeEntry(leaf: LeafNode, i: number): void {
  const start = leaf.offs[i]!;
  const es = leaf.offs[i + 1]! - start;
  leaf.data.copyWithin(start, start + es, leaf.size);
  for (let j = i; j < leaf.count; j++) leaf.offs[j] = leaf.offs[j + 1]! - es;
  leaf.count--;
  leaf.size -= es;
  leaf.probe = null;
  writeCount(leaf);
  leaf.pending?.splice(i, 1);
}

/**
 * Builds a new leaf from consecutive entry ranges [from, to) of existing leaves, in order, with room
 * to grow to `capacity` bytes in place (a split half will take inserts until it splits again).
 */
export function buildLeaf(parts: readonly [LeafNode, number, number][], txn: number, capacity = 0): LeafNode {
  let bytes = LEAF_HEADER_SIZE;
  let count = 0;
  let anyPending = false;
  for (const [leaf, from, to] of parts) {
    bytes += leaf.offs[to]! - leaf.offs[from]!;
    count += to - from;
    if (leaf.pending) anyPending = true;
  }
  const room = Math.max(bytes + SPARE_BYTES, capacity);
  const { data, offs } = allocateLeaf(room, count + SPARE_ENTRIES + Math.ceil((room - bytes) / 64));
  const pending: (OutOfLineValue | undefined)[] | null = anyPending ? [] : null;
  let o = LEAF_HEADER_SIZE;
  let n = 0;
  for (const [leaf, from, to] of parts) {
    const a = leaf.offs[from]!;
    const b = leaf.offs[to]!;
    data.set(leaf.data.subarray(a, b), o);
    for (let j = from; j < to; j++) offs[n++] = leaf.offs[j]! - a + o;
    if (pending) for (let j = from; j < to; j++) pending.push(leaf.pending?.[j]);
    o += b - a;
  }
  offs[n] = o;
  const node = new LeafNode(data, offs, count, o, pending, txn, null);
  writeCount(node);
  return node;
}

/** Cuts an owned leaf to its first `cut` entries (the rest must have been copied elsewhere). */
export function truncateLeaf(leaf: LeafNode, cut: number): void {
  leaf.size = leaf.offs[cut]!;
  leaf.count = cut;
  leaf.probe = null;
  leaf.pending?.splice(cut);
  writeCount(leaf);
}

/**
 * Tidies a leaf once its transaction is done with it: drops an all-empty pending list, and gives back
 * spare capacity when it exceeds twice the leaf itself (after many deletes), or any spare at all when
 * `exact` (a leaf a checkpoint just stored: it will only ever be read, or copied, from now on).
 * Otherwise slack is kept: the next commit may grow the leaf in place. (A split half has about its
 * own size spare; trimming that only to grow it again on the next insert doubled the allocations of
 * a bulk load.)
 */
export function trimLeaf(leaf: LeafNode, exact = false): void {
  if (leaf.pending && !leaf.pending.some((v) => v !== undefined)) leaf.pending = null;
  const slack = leaf.data.length - leaf.size;
  if (exact ? slack > 0 : slack > Math.max(4 * SPARE_BYTES, 2 * leaf.size)) {
    const { data, offs } = allocateLeaf(leaf.size, leaf.count);
    data.set(leaf.data.subarray(0, leaf.size));
    offs.set(leaf.offs.subarray(0, leaf.count + 1));
    leaf.data = data;
    leaf.offs = offs;
    leaf.slab = null;
  }
}

/**
 * Leaves a packer builds share buffers of this size: allocating a buffer costs several microseconds
 * here (and counts towards the garbage collector's external memory), one per leaf made a fold spend a
 * quarter of its time allocating. A slab lives as long as any leaf in it. Where folds replace most of
 * the leaves an earlier fold built together (random keys), slabs die whole; where they leave most of
 * them (time-ordered keys, the audit indexes), a few cached leaves could keep many slabs alive, so
 * the node cache charges a slab whole while it holds any of its leaves ({@link LeafSlab}).
 * (Copying each stored leaf out of its slab instead bounded the audit ingest as well, but on random
 * keys it cost 11% of the throughput and 80 MiB more RSS: one malloc per leaf fragments the heap.)
 */
const SLAB_BYTES = 1 << 20;

/**
 * Packs entries, given in ascending key order, into new leaves of at most `maxSize` bytes each (a
 * single entry may exceed it): the one-pass build of a sorted merge. Entries are copied in runs from
 * existing leaves, as stored, or written from a key and a value. Each leaf is allocated once, at its
 * exact size, from a scratch buffer the packer reuses for every leaf it builds.
 */
export class LeafPacker {
  private scratch: Uint8Array;
  /** Entry offsets of the leaf being built, [0, count); reused from leaf to leaf. */
  private offs = new Int32Array(256);
  private count = 0;
  /** Out-of-line values of the leaf being built by entry index; made only when it has one. */
  private pending: (OutOfLineValue | undefined)[] | null = null;
  private size = LEAF_HEADER_SIZE;
  private leaves: LeafNode[] = [];
  private slab: SharedArrayBuffer | null = null;
  private slabInfo: LeafSlab | null = null;
  private slabUsed = 0;

  constructor(
    private readonly maxSize: number,
    private readonly txn: number,
  ) {
    this.scratch = uninitializedBytes(maxSize + 4096);
  }

  /** Copies entries [from, to) of `leaf`. */
  copyRun(leaf: LeafNode, from: number, to: number): void {
    const src = leaf.offs;
    while (from < to) {
      if (this.count > 0 && this.size + (src[from + 1]! - src[from]!) > this.maxSize) this.flush();
      // As many entries as fit (at least one).
      let end = from + 1;
      const base = src[from]!;
      while (end < to && this.size + (src[end + 1]! - base) <= this.maxSize) end++;
      const bytes = src[end]! - base;
      this.reserve(bytes, end - from);
      this.scratch.set(leaf.data.subarray(base, base + bytes), this.size);
      const shift = this.size - base;
      const offs = this.offs;
      let n = this.count;
      for (let j = from; j < end; j++) offs[n++] = src[j]! + shift;
      if (leaf.pending) {
        for (let j = from; j < end; j++) {
          const p = leaf.pending[j];
          if (p) this.pendingList()[this.count + j - from] = p;
        }
      }
      this.count = n;
      this.size += bytes;
      from = end;
    }
  }

  /** Writes an entry. */
  add(key: Uint8Array, value: LeafValue): void {
    const es = leafEntrySize(key.length, value);
    if (this.count > 0 && this.size + es > this.maxSize) this.flush();
    this.reserve(es, 1);
    this.offs[this.count] = this.size;
    if (value instanceof OutOfLineValue) this.pendingList()[this.count] = value;
    this.count++;
    this.size = writeEntry(this.scratch, this.size, key, value);
  }

  /** The leaves built since the last finish, in key order; the packer is then ready for more. */
  finish(): LeafNode[] {
    if (this.count > 0) this.flush();
    const out = this.leaves;
    this.leaves = [];
    return out;
  }

  private pendingList(): (OutOfLineValue | undefined)[] {
    return (this.pending ??= []);
  }

  /** Room for `bytes` more payload bytes and `entries` more offsets. */
  private reserve(bytes: number, entries: number): void {
    if (this.count + entries > this.offs.length) {
      const grown = new Int32Array(Math.max(this.offs.length * 2, this.count + entries));
      grown.set(this.offs.subarray(0, this.count));
      this.offs = grown;
    }
    if (this.size + bytes <= this.scratch.length) return;
    const grown = new Uint8Array(this.size + bytes + 4096);
    grown.set(this.scratch.subarray(0, this.size));
    this.scratch = grown;
  }

  /** Carves a leaf's offsets and data out of the current slab (a new one when it is used up). */
  private allocate(dataBytes: number, entries: number): { data: Uint8Array; offs: Int32Array; slab: LeafSlab } {
    const offsBytes = (entries + 1) * 4;
    const need = offsBytes + dataBytes;
    if (this.slab === null || this.slabUsed + need > this.slab.byteLength) {
      // Retained memory (util/retained-memory.ts): the node cache reports the slab's end.
      this.slab = need <= SLAB_BYTES ? retainedSlab(SLAB_BYTES, true) : retainedSlab(need);
      this.slabInfo = new LeafSlab(this.slab.byteLength);
      this.slabUsed = 0;
    }
    const at = this.slabUsed;
    // The next leaf's offsets must start 4-byte aligned.
    this.slabUsed = (at + need + 7) & ~7;
    return { offs: new Int32Array(this.slab, at, entries + 1), data: new Uint8Array(this.slab, at + offsBytes, dataBytes), slab: this.slabInfo! };
  }

  private flush(): void {
    const count = this.count;
    const { data, offs, slab } = this.allocate(this.size, count);
    data.set(this.scratch.subarray(0, this.size));
    offs.set(this.offs.subarray(0, count));
    offs[count] = this.size;
    const pending = this.pending;
    if (pending) pending.length = count;
    const leaf = new LeafNode(data, offs, count, this.size, pending, this.txn, null);
    leaf.slab = slab;
    writeCount(leaf);
    this.leaves.push(leaf);
    this.count = 0;
    this.pending = null;
    this.size = LEAF_HEADER_SIZE;
  }
}
