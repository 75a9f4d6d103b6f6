/**
 * Operations on packed branches (see node.ts). Separators are only ever rebuilt into new buffers,
 * never edited in place, so a copied branch may share its separator buffers with the original; only
 * the child arrays are per copy.
 */
import type { BlockRef } from '../pagefile/layout.js';
import { BlockRefList } from '../pagefile/block-ref-list.js';
import { BranchNode, type Node } from './node.js';
import { uninitializedBytes } from '../util/bytes.js';
import { comparePackedKey, comparePrefix, probeWord, sharedPrefix } from './packed-key.js';

/** Compares separator i with `key`, without allocating. */
export function compareSepAt(b: BranchNode, i: number, key: Uint8Array): number {
  return comparePackedKey(b.seps, b.sepOffs[i]!, key);
}

/** A view of separator i (separator buffers never change, so the view stays valid). */
export function sepAt(b: BranchNode, i: number): Uint8Array {
  const o = b.sepOffs[i]!;
  return b.seps.subarray(o + 2, o + 2 + (b.seps[o]! | (b.seps[o + 1]! << 8)));
}

/** All separators, as views. */
export function sepList(b: BranchNode): Uint8Array[] {
  const out: Uint8Array[] = new Array(b.sepCount);
  for (let i = 0; i < out.length; i++) out[i] = sepAt(b, i);
  return out;
}

/** Builds the probe index: separators are sorted, so their common prefix is the first and last's. */
function buildProbe(b: BranchNode): void {
  const n = b.sepCount;
  const probe = new Uint32Array(n);
  const seps = b.seps;
  const cp = sharedPrefix(seps, b.sepOffs[0]!, b.sepOffs[n - 1]!);
  for (let i = 0; i < n; i++) {
    const o = b.sepOffs[i]!;
    probe[i] = probeWord(seps, o + 2 + cp, o + 2 + (seps[o]! | (seps[o + 1]! << 8)));
  }
  b.probePrefix = cp;
  b.probe = probe;
}

/** Index of the child whose key range holds `key`: the number of separators <= key. */
export function childIndex(b: BranchNode, key: Uint8Array): number {
  const n = b.sepCount;
  if (n === 0) return 0;
  if (!b.probe) buildProbe(b);
  const cp = b.probePrefix;
  if (cp > 0) {
    // Below or above the shared prefix, the key sorts before or after every separator.
    const side = comparePrefix(b.seps, b.sepOffs[0]! + 2, cp, key);
    if (side !== 0) return side < 0 ? 0 : n;
  }
  const probe = b.probe!;
  const kp = probeWord(key, cp, key.length);
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = probe[mid]!;
    if (p < kp || (p === kp && compareSepAt(b, mid, key) <= 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * {@link childIndex} for a writer descending to change the tree: uses the probe index when the branch
 * has one, but does not build it. A branch a merge is splitting children of has its index dropped
 * at every new separator; rebuilding it on each descent cost more than the searches it sped up.
 */
export function childIndexForWrite(b: BranchNode, key: Uint8Array): number {
  if (b.probe) return childIndex(b, key);
  let lo = 0;
  let hi = b.sepCount;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareSepAt(b, mid, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Packs separators into the branch layout: u16 length + bytes each. */
export function packSeparators(keys: readonly Uint8Array[]): { seps: Uint8Array; sepOffs: Int32Array; sepBytes: number } {
  let bytes = 0;
  for (const k of keys) bytes += 2 + k.length;
  const seps = new Uint8Array(bytes);
  const sepOffs = new Int32Array(keys.length + 1);
  let o = 0;
  keys.forEach((k, i) => {
    sepOffs[i] = o;
    seps[o] = k.length & 0xff;
    seps[o + 1] = k.length >>> 8;
    seps.set(k, o + 2);
    o += 2 + k.length;
  });
  sepOffs[keys.length] = o;
  return { seps, sepOffs, sepBytes: o };
}

/** A new branch over the given separators and children. */
export function makeBranch(keys: readonly Uint8Array[], kids: (Node | null)[], refs: BlockRefList | readonly (BlockRef | null)[], txn: number): BranchNode {
  const { seps, sepOffs, sepBytes } = packSeparators(keys);
  return new BranchNode(seps, sepOffs, sepBytes, kids, refs instanceof BlockRefList ? refs : BlockRefList.from(refs), txn, null);
}

/** A private copy for transaction `txn` (sharing the immutable separator buffers and their probe). */
export function cloneBranch(b: BranchNode, txn: number): BranchNode {
  const copy = new BranchNode(b.seps, b.sepOffs, b.sepBytes, b.kids.slice(), b.refs.slice(), txn, null);
  copy.probe = b.probe;
  copy.probePrefix = b.probePrefix;
  return copy;
}

/** Replaces an owned branch's separators. */
export function setSeparators(b: BranchNode, keys: readonly Uint8Array[]): void {
  const packed = packSeparators(keys);
  b.seps = packed.seps;
  b.sepOffs = packed.sepOffs;
  b.sepBytes = packed.sepBytes;
  b.probe = null;
}

/**
 * A new separator buffer equal to `b`'s with separators [from, to) replaced by `insert`: two block
 * copies and an offset shift, no object per separator (child splits and merges are frequent).
 */
function spliceSeparators(b: BranchNode, from: number, to: number, insert: readonly Uint8Array[]): void {
  const offs = b.sepOffs;
  // Count from the offsets, not the children: callers may have changed the child arrays already.
  const n = offs.length - 1;
  const a = offs[from]!;
  const z = offs[to]!;
  let added = 0;
  for (const k of insert) added += 2 + k.length;
  const bytes = b.sepBytes - (z - a) + added;
  const count = n - (to - from) + insert.length;
  // Every byte and offset is written below, so neither needs zeroing (see uninitializedBytes).
  const seps = uninitializedBytes(bytes);
  const sepOffs = new Int32Array(uninitializedBytes(4 * (count + 1)).buffer, 0, count + 1);
  seps.set(b.seps.subarray(0, a), 0);
  for (let i = 0; i < from; i++) sepOffs[i] = offs[i]!;
  let o = a;
  insert.forEach((k, j) => {
    sepOffs[from + j] = o;
    seps[o] = k.length & 0xff;
    seps[o + 1] = k.length >>> 8;
    seps.set(k, o + 2);
    o += 2 + k.length;
  });
  seps.set(b.seps.subarray(z, b.sepBytes), o);
  const shift = o - z;
  for (let i = to; i <= n; i++) sepOffs[i - to + from + insert.length] = offs[i]! + shift;
  b.seps = seps;
  b.sepOffs = sepOffs;
  b.sepBytes = bytes;
  b.probe = null;
}

/** Inserts separator `key` at index i of an owned branch (its child arrays are the caller's). */
export function insertSeparator(b: BranchNode, i: number, key: Uint8Array): void {
  spliceSeparators(b, i, i, [key]);
}

/** Replaces separators [i, i + count) of an owned branch with `keys`. */
export function replaceSeparators(b: BranchNode, i: number, count: number, keys: readonly Uint8Array[]): void {
  spliceSeparators(b, i, i + count, keys);
}

/** Separators [from, to) of `b` as a fresh packed list (for a split-off branch). */
export function sliceSeparators(b: BranchNode, from: number, to: number): { seps: Uint8Array; sepOffs: Int32Array; sepBytes: number } {
  const a = b.sepOffs[from]!;
  const z = b.sepOffs[to]!;
  const sepOffs = new Int32Array(to - from + 1);
  for (let i = from; i <= to; i++) sepOffs[i - from] = b.sepOffs[i]! - a;
  return { seps: b.seps.slice(a, z), sepOffs, sepBytes: z - a };
}

/** Encoded size of a branch with these separators and `children` children. */
export function branchSizeOf(keys: readonly Uint8Array[], children: number): number {
  let s = 2 + children * 16;
  for (const k of keys) s += 2 + k.length;
  return s;
}
