/**
 * Copy-on-write insert and delete on packed nodes. A writer never changes a node another version can
 * see: it copies the node first (`own`), unless its own transaction created it or no reader can see
 * it any more (`mutableAfter`), so one transaction copies each node at most once however many keys it
 * touches, and a run of commits with no reader in between copies almost nothing. Every stored block that drops out of
 * the new version is reported through `freeBlock`, and every value about to be replaced or deleted
 * through `releaseValue`.
 *
 * Balancing rules:
 * - A node splits when its encoded size exceeds its limit (`maxLeafSize` or `maxNodeSize`) and it
 *   holds at least two entries (four children for a branch). When the insert went to the end of the
 *   node (time-ordered keys), the left half keeps everything but the new entry, so sequential appends
 *   leave full nodes behind.
 * - After a delete, a child under a quarter of its limit merges with a sibling when the two fit
 *   in one node (or are too few to share), and otherwise the two share their entries evenly.
 * - Leaf splits promote the shortest separator between the halves, not a whole key.
 */
import { BLOCK_REF_SIZE, type BlockRef } from '../pagefile/layout.js';
import { branchSizeOf, childIndexForWrite, cloneBranch, insertSeparator, makeBranch, replaceSeparators, sepAt, sepList, sliceSeparators } from './branch.js';
import { buildLeaf, cloneLeaf, insertEntry, keyAt, leafFind, removeEntry, replaceValue, truncateLeaf } from './leaf.js';
import { BranchNode, LEAF_HEADER_SIZE, LeafNode, type LeafValue, type Node } from './node.js';
import type { NodeStore } from './node-store.js';
import { childAt } from './search.js';

/** What a tree edit needs from the transaction running it. */
export interface WriteContext {
  /** The writing transaction's id; nodes carrying it may be changed in place. */
  readonly txn: number;
  /**
   * A node whose txn is above this may also be changed in place: no reader can see it, and no other
   * version that anyone will read holds it. Other nodes are copied. Nodes read from disk carry txn 0,
   * so they qualify only when nothing at all reads an older version (-Infinity).
   */
  readonly mutableAfter: number;
  readonly store: NodeStore;
  /** Split threshold of branches: the page size. */
  readonly maxNodeSize: number;
  /**
   * Split threshold of leaves: the page size times the compression ratio leaves achieve (up to 4x),
   * so that a compressed leaf fills about a page on disk instead of leaving it half empty.
   */
  readonly maxLeafSize: number;
  /** A stored block is no longer part of the version being built. */
  freeBlock(ref: BlockRef): void;
  /** Entry i of `leaf` is about to be replaced or deleted. */
  releaseValue(leaf: LeafNode, i: number): void;
  /** The transaction created this node (so it can tidy it when the transaction ends). */
  created(node: Node): void;
}

function own<T extends Node>(node: T, ctx: WriteContext): T {
  if (node.txn === ctx.txn) return node;
  if (node.txn > ctx.mutableAfter) {
    // Nobody can see this node any more but the version being built: take it over, no copy. A stored
    // node leaves its block, freed as of this transaction, and the cache, which must not hand the
    // changed node out for that block.
    if (node.ref) {
      ctx.freeBlock(node.ref);
      ctx.store.cache.delete(node.ref.offset);
      node.ref = null;
    }
    node.txn = ctx.txn;
    ctx.created(node);
    return node;
  }
  if (node.ref) ctx.freeBlock(node.ref);
  const copy = (node.isLeaf ? cloneLeaf(node, ctx.txn) : cloneBranch(node, ctx.txn)) as T;
  ctx.created(copy);
  return copy;
}

/** A new array holding the shortest key s with a < s <= b, given a < b. */
export function shortestSeparator(a: Uint8Array, b: Uint8Array): Uint8Array {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return b.slice(0, Math.min(i + 1, b.length));
}

interface Split {
  separator: Uint8Array;
  right: Node;
}

// Module-level results keep the hot insert path free of per-call allocations.
let splitResult: Split | null = null;
let insertedNew = false;
let removedFlag = false;

/** Inserts or replaces `key`. Returns the new root and whether the key was new. */
export function treePut(root: Node | null, key: Uint8Array, value: LeafValue, ctx: WriteContext): { root: Node; added: boolean } {
  if (!root) {
    const leaf = LeafNode.empty(ctx.txn);
    ctx.created(leaf);
    insertEntry(leaf, 0, key, value);
    return { root: leaf, added: true };
  }
  splitResult = null;
  insertedNew = false;
  const node = insert(root, key, value, ctx);
  const split = splitResult as Split | null;
  splitResult = null;
  if (!split) return { root: node, added: insertedNew };
  const newRoot = makeBranch([split.separator], [node, split.right], [null, null], ctx.txn);
  ctx.created(newRoot);
  return { root: newRoot, added: insertedNew };
}

function insert(node: Node, key: Uint8Array, value: LeafValue, ctx: WriteContext): Node {
  if (node.isLeaf) {
    const found = leafFind(node, key);
    const leaf = own(node, ctx);
    let at: number;
    if (found >= 0) {
      ctx.releaseValue(leaf, found);
      replaceValue(leaf, found, value);
      at = found;
    } else {
      at = -found - 1;
      insertEntry(leaf, at, key, value);
      insertedNew = true;
    }
    if (leaf.size > ctx.maxLeafSize && leaf.count > 1) splitLeaf(leaf, at === leaf.count - 1, ctx);
    return leaf;
  }
  const i = childIndexForWrite(node, key);
  const newChild = insert(childAt(node, i, ctx.store), key, value, ctx);
  const split = splitResult as Split | null;
  splitResult = null;
  const branch = own(node, ctx);
  setChild(branch, i, newChild);
  if (split) {
    insertSeparator(branch, i, split.separator);
    branch.kids.splice(i + 1, 0, split.right);
    branch.refs.splice(i + 1, 0, 1);
    if (branch.size > ctx.maxNodeSize && branch.kids.length > 3) splitBranch(branch, i + 1 === branch.kids.length - 1, ctx);
  }
  return branch;
}

function setChild(branch: BranchNode, i: number, child: Node): void {
  if (branch.kids[i] === child && !branch.refs.stored(i)) return;
  branch.kids[i] = child;
  branch.refs.set(i, null);
}

/** Splits an owned, oversized leaf: it keeps the left part and the right part is recorded. */
function splitLeaf(leaf: LeafNode, appended: boolean, ctx: WriteContext): void {
  const n = leaf.count;
  let cut = n - 1;
  if (!appended || leaf.offs[n - 1]! > ctx.maxLeafSize) {
    const half = (leaf.size + LEAF_HEADER_SIZE) / 2;
    cut = 1;
    while (cut < n - 1 && leaf.offs[cut + 1]! <= half) cut++;
  }
  const right = buildLeaf([[leaf, cut, n]], ctx.txn, ctx.maxLeafSize + 512);
  ctx.created(right);
  truncateLeaf(leaf, cut);
  splitResult = { separator: shortestSeparator(keyAt(leaf, cut - 1), keyAt(right, 0)), right };
}

/** Splits an owned, oversized branch, promoting one separator. */
function splitBranch(branch: BranchNode, appended: boolean, ctx: WriteContext): void {
  const nk = branch.sepCount;
  // Separator m is promoted: the left keeps separators [0, m) and children [0, m], the right the rest.
  let m: number;
  if (appended) {
    m = nk - 2;
  } else {
    m = 1;
    const half = branch.size / 2;
    const sepLen = (i: number): number => branch.sepOffs[i + 1]! - branch.sepOffs[i]!;
    let leftSize = 2 + 2 * BLOCK_REF_SIZE + sepLen(0);
    while (m < nk - 2) {
      const s = sepLen(m) + BLOCK_REF_SIZE;
      if (leftSize + s > half) break;
      leftSize += s;
      m++;
    }
  }
  const promoted = sepAt(branch, m).slice();
  const { seps, sepOffs, sepBytes } = sliceSeparators(branch, m + 1, nk);
  const right = new BranchNode(seps, sepOffs, sepBytes, branch.kids.slice(m + 1), branch.refs.slice(m + 1), ctx.txn, null);
  ctx.created(right);
  branch.kids.length = m + 1;
  branch.refs.truncate(m + 1);
  replaceSeparators(branch, m, nk - m, []);
  splitResult = { separator: promoted, right };
}

/** Deletes `key`. Returns the new root (null when the tree became empty) and whether it existed. */
export function treeDelete(root: Node | null, key: Uint8Array, ctx: WriteContext): { root: Node | null; removed: boolean } {
  if (!root) return { root, removed: false };
  removedFlag = false;
  let node = remove(root, key, ctx);
  if (!removedFlag) return { root, removed: false };
  // Collapse a root branch left with one child, and drop an empty root leaf.
  while (!node.isLeaf && node.kids.length === 1) {
    const only = childAt(node, 0, ctx.store);
    if (node.ref) ctx.freeBlock(node.ref);
    node = only;
  }
  if (node.isLeaf && node.count === 0) {
    if (node.ref) ctx.freeBlock(node.ref);
    return { root: null, removed: true };
  }
  return { root: node, removed: true };
}

function remove(node: Node, key: Uint8Array, ctx: WriteContext): Node {
  if (node.isLeaf) {
    const at = leafFind(node, key);
    if (at < 0) return node;
    const leaf = own(node, ctx);
    ctx.releaseValue(leaf, at);
    removeEntry(leaf, at);
    removedFlag = true;
    return leaf;
  }
  const i = childIndexForWrite(node, key);
  const newChild = remove(childAt(node, i, ctx.store), key, ctx);
  if (!removedFlag) return node;
  const branch = own(node, ctx);
  setChild(branch, i, newChild);
  if (isUnderfull(newChild, ctx)) rebalance(branch, i, ctx);
  return branch;
}

function isUnderfull(node: Node, ctx: WriteContext): boolean {
  if (node.isLeaf) return node.count === 0 || node.size < ctx.maxLeafSize / 4;
  return node.kids.length < 2 || node.size < ctx.maxNodeSize / 4;
}

/** Fixes an underfull child `i` of an owned branch by merging with or sharing with a sibling. */
function rebalance(parent: BranchNode, i: number, ctx: WriteContext): void {
  if (parent.kids.length < 2) return;
  const l = i > 0 ? i - 1 : i;
  const left = childAt(parent, l, ctx.store);
  const right = childAt(parent, l + 1, ctx.store);
  if (left.ref) ctx.freeBlock(left.ref);
  if (right.ref) ctx.freeBlock(right.ref);
  if (left.isLeaf && right.isLeaf) {
    const fits = left.size + right.size - LEAF_HEADER_SIZE <= ctx.maxLeafSize;
    if (fits || left.count + right.count < 2) {
      replacePair(parent, l, [mergeLeaves(left, right, ctx)], []);
    } else {
      const [a, b] = shareLeaves(left, right, ctx);
      replacePair(parent, l, [a, b], [shortestSeparator(keyAt(a, a.count - 1), keyAt(b, 0))]);
    }
    return;
  }
  if (left.isLeaf || right.isLeaf) throw new Error('siblings at different depths');
  const keys = [...sepList(left), sepAt(parent, l).slice(), ...sepList(right)];
  const kids = left.kids.concat(right.kids);
  const refs = left.refs.concat(right.refs);
  if (branchSizeOf(keys, kids.length) <= ctx.maxNodeSize || kids.length < 4) {
    const merged = makeBranch(keys, kids, refs, ctx.txn);
    ctx.created(merged);
    replacePair(parent, l, [merged], []);
    return;
  }
  // Children [0, m] go left, separator m moves up, the rest go right; both keep >= 2 children.
  const half = branchSizeOf(keys, kids.length) / 2;
  let m = 1;
  let leftSize = branchSizeOf(keys.slice(0, 1), 2);
  while (m < kids.length - 3) {
    const s = 2 + keys[m]!.length + 16;
    if (leftSize + s > half) break;
    leftSize += s;
    m++;
  }
  const a = makeBranch(keys.slice(0, m), kids.slice(0, m + 1), refs.slice(0, m + 1), ctx.txn);
  const b = makeBranch(keys.slice(m + 1), kids.slice(m + 1), refs.slice(m + 1), ctx.txn);
  ctx.created(a);
  ctx.created(b);
  replacePair(parent, l, [a, b], [keys[m]!]);
}

/** Replaces children l and l+1 (and separator l) of an owned parent. */
function replacePair(parent: BranchNode, l: number, nodes: Node[], newSeps: Uint8Array[]): void {
  replaceSeparators(parent, l, 1, newSeps);
  parent.kids.splice(l, 2, ...nodes);
  parent.refs.splice(l, 2, nodes.length);
}

function mergeLeaves(left: LeafNode, right: LeafNode, ctx: WriteContext): LeafNode {
  const merged = buildLeaf([[left, 0, left.count], [right, 0, right.count]], ctx.txn);
  ctx.created(merged);
  return merged;
}

/** Splits the entries of two leaves into two new leaves of about equal size. */
function shareLeaves(left: LeafNode, right: LeafNode, ctx: WriteContext): [LeafNode, LeafNode] {
  const total = left.size + right.size - LEAF_HEADER_SIZE;
  const half = (total + LEAF_HEADER_SIZE) / 2;
  const n = left.count + right.count;
  // Bytes up to global entry k (exclusive), counting the header once.
  const bytesBefore = (k: number): number => (k <= left.count ? left.offs[k]! : left.size + right.offs[k - left.count]! - LEAF_HEADER_SIZE);
  let cut = 1;
  while (cut < n - 1 && bytesBefore(cut + 1) <= half) cut++;
  const partsA: [LeafNode, number, number][] = cut <= left.count ? [[left, 0, cut]] : [[left, 0, left.count], [right, 0, cut - left.count]];
  const partsB: [LeafNode, number, number][] = cut < left.count ? [[left, cut, left.count], [right, 0, right.count]] : [[right, cut - left.count, right.count]];
  const a = buildLeaf(partsA, ctx.txn);
  const b = buildLeaf(partsB, ctx.txn);
  ctx.created(a);
  ctx.created(b);
  return [a, b];
}
