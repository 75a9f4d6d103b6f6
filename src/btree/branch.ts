/**
 * Operations on packed branches (see node.ts). Separators are only ever rebuilt into new buffers,
 * never edited in place, so a copied branch may share its separator buffers with the original; only
 * the child arrays are per copy.
 */
import type { BlockRef } from '../pagefile/layout.js';
import { BranchNode, type Node } from './node.js';
import { comparePackedKey } from './packed-key.js';

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

/** Index of the child whose key range holds `key`: the number of separators <= key. */
export function childIndex(b: BranchNode, key: Uint8Array): number {
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
export function makeBranch(keys: readonly Uint8Array[], kids: (Node | null)[], refs: (BlockRef | null)[], txn: number): BranchNode {
  const { seps, sepOffs, sepBytes } = packSeparators(keys);
  return new BranchNode(seps, sepOffs, sepBytes, kids, refs, txn, null);
}

/** A private copy for transaction `txn` (sharing the immutable separator buffers). */
export function cloneBranch(b: BranchNode, txn: number): BranchNode {
  return new BranchNode(b.seps, b.sepOffs, b.sepBytes, b.kids.slice(), b.refs.slice(), txn, null);
}

/** Replaces an owned branch's separators. */
export function setSeparators(b: BranchNode, keys: readonly Uint8Array[]): void {
  const packed = packSeparators(keys);
  b.seps = packed.seps;
  b.sepOffs = packed.sepOffs;
  b.sepBytes = packed.sepBytes;
}

/** Encoded size of a branch with these separators and `children` children. */
export function branchSizeOf(keys: readonly Uint8Array[], children: number): number {
  let s = 2 + children * 16;
  for (const k of keys) s += 2 + k.length;
  return s;
}
