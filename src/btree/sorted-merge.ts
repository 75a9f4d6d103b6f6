/**
 * Merges a sorted run of writes (puts and deletions) into a tree in one pass: each leaf that
 * receives keys is rebuilt once, merged with them and packed full (LeafPacker), and each branch
 * above is rebuilt over its new children, split into as many branches as its size limit needs;
 * subtrees no key reaches are kept as they are. It never changes a node in place (every node it
 * touches is rebuilt, and a stored one gives its block back), so any version still holding the old
 * root is unaffected.
 *
 * A checkpoint folds a memtable this way: applying its keys one by one would descend from the root
 * for each, split leaves in halves as they fill, and copy and rebalance around every deletion.
 *
 * Balance: every node the merge builds sits where the node it replaces sat, so all leaves stay at
 * one depth. Puts only grow leaves, so no branch loses children. Deletions can shrink a rebuilt node
 * below a quarter of its limit, empty it (it is then dropped, with a separator), or leave a branch
 * one child: when the run holds deletions, each such rebuilt node is merged with a sibling under the
 * same parent (or, when the two do not fit in one node, they share their entries), and a root branch
 * left with one child gives way to that child. A run of puts alone leaves its nodes as packed: topping
 * up a small remainder from an untouched sibling would rewrite that sibling for nothing.
 */
import { branchSizeOf, compareSepAt, makeBranch, sepAt, sepList } from './branch.js';
import { buildLeaf, compareKeyAt, keyAt, LeafPacker } from './leaf.js';
import { BRANCH_HEADER_SIZE, LEAF_HEADER_SIZE, LeafNode, type BranchNode, type LeafValue, type Node } from './node.js';
import { BlockRefList } from '../pagefile/block-ref-list.js';
import { BLOCK_REF_SIZE, type BlockRef } from '../pagefile/layout.js';
import { childAt } from './search.js';
import { shortestSeparator, type WriteContext } from './tree-write.js';

/** One level's worth of nodes that replace one node, and the separators between them. */
interface Level {
  nodes: Node[];
  /** Packed: a fold copies the refs of every child it leaves as it is into the branch it rebuilds. */
  refs: BlockRefList;
  seps: Uint8Array[];
}

/** Writes to merge, by index, keys ascending and distinct; a null value deletes its key. */
export interface SortedWrites {
  readonly length: number;
  /** Whether any value is null: only then can a node shrink, and the merge rebalances. */
  readonly deletions: boolean;
  key(i: number): Uint8Array;
  value(i: number): LeafValue | null;
}

/**
 * Applies every write of `writes` to the tree at `root`; returns the new root (null when nothing is
 * left) and the change in the number of entries. Merges that follow one another over one tree (a
 * fold done in slices) pass one `packer`, so that the leaves they build share its slabs: a packer
 * per slice left a mostly empty 1 MiB slab behind each, held by the leaves in it.
 */
export function mergeSortedWrites(
  root: Node | null,
  writes: SortedWrites,
  ctx: WriteContext,
  packer = new LeafPacker(ctx.maxLeafSize, ctx.txn),
): { root: Node | null; delta: number } {
  if (writes.length === 0) return { root, delta: 0 };
  const m = new SortedMerge(writes, ctx, packer);
  let level = m.node(root ?? LeafNode.empty(ctx.txn), 0, writes.length);
  // The nodes that replace the root are all rebuilt, and have no parent to rebalance them yet.
  if (writes.deletions && level.nodes.length > 1) m.rebalance(level.nodes, level.refs, level.seps, level.nodes.map((_, i) => i));
  while (level.nodes.length > 1) level = m.branches(level.nodes, level.refs, level.seps);
  let top: Node | null = level.nodes[0] ?? null;
  // A root branch left with one child: the child is the root (its depth is every leaf's depth less one).
  while (top && !top.isLeaf && top.kids.length === 1) top = top.kids[0] ?? ctx.store.load(top.refs.get(0)!);
  if (top && top.isLeaf && top.count === 0) top = null;
  return { root: top, delta: m.delta };
}

/**
 * leafLowerBound(leaf, key, false) for a key whose lower bound is known to be at or past `from`:
 * the writes arrive ascending, so each one's place in the leaf is at or after the last one's. It
 * gallops from `from` (1, 2, 4... entries on) and then searches the span it lands in: a run of
 * writes landing near each other, or appending past the leaf's keys, costs a comparison or two each
 * instead of a search of the whole leaf.
 */
function lowerBoundFrom(leaf: LeafNode, key: Uint8Array, from: number): number {
  const n = leaf.count;
  let lo = from;
  let step = 1;
  let hi = n;
  // Every entry before lo is below key.
  while (lo < n) {
    const probe = Math.min(lo + step - 1, n - 1);
    if (compareKeyAt(leaf, probe, key) >= 0) {
      hi = probe;
      break;
    }
    lo = probe + 1;
    step *= 2;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeyAt(leaf, mid, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class SortedMerge {
  /** Entries added less entries removed. */
  delta = 0;
  constructor(
    private readonly writes: SortedWrites,
    private readonly ctx: WriteContext,
    private readonly packer: LeafPacker,
  ) {}

  /** The nodes replacing `node` once keys [lo, hi) (all within its range) are written into it. */
  node(node: Node, lo: number, hi: number): Level {
    this.replaced(node.ref);
    return node.isLeaf ? this.leaf(node, lo, hi) : this.branch(node, lo, hi);
  }

  /** Packs branches of at most maxNodeSize bytes (and at least two children) over the given children. */
  branches(kids: (Node | null)[], refs: BlockRefList, seps: Uint8Array[]): Level {
    const out: Level = { nodes: [], refs: BlockRefList.empty(), seps: [] };
    const limit = this.ctx.maxNodeSize;
    // Encoded size as in branchSizeOf: a header, a ref per child, a length and bytes per separator.
    const first = BRANCH_HEADER_SIZE + BLOCK_REF_SIZE;
    let a = 0;
    let size = first;
    for (let c = 1; c < kids.length; c++) {
      const s = 2 + seps[c - 1]!.length + BLOCK_REF_SIZE;
      if (size + s > limit && c - a >= 2 && kids.length - c >= 2) {
        out.nodes.push(makeBranch(seps.slice(a, c - 1), kids.slice(a, c), refs.slice(a, c), this.ctx.txn));
        out.refs.push(null);
        out.seps.push(seps[c - 1]!);
        a = c;
        size = first;
      } else {
        size += s;
      }
    }
    out.nodes.push(makeBranch(seps.slice(a), kids.slice(a), refs.slice(a), this.ctx.txn));
    out.refs.push(null);
    return out;
  }

  private leaf(leaf: LeafNode, lo: number, hi: number): Level {
    const packer = this.packer;
    let i = 0;
    for (let k = lo; k < hi; k++) {
      const key = this.writes.key(k);
      const at = lowerBoundFrom(leaf, key, i);
      if (at > i) packer.copyRun(leaf, i, at);
      i = at;
      const value = this.writes.value(k);
      if (i < leaf.count && compareKeyAt(leaf, i, key) === 0) {
        this.ctx.releaseValue(leaf, i);
        i++;
        if (value === null) this.delta--;
      } else if (value !== null) {
        this.delta++;
      }
      if (value !== null) packer.add(key, value);
    }
    if (i < leaf.count) packer.copyRun(leaf, i, leaf.count);
    const nodes = packer.finish();
    const seps: Uint8Array[] = [];
    for (let j = 1; j < nodes.length; j++) {
      const left = nodes[j - 1] as LeafNode;
      seps.push(shortestSeparator(keyAt(left, left.count - 1), keyAt(nodes[j] as LeafNode, 0)));
    }
    return { nodes, refs: BlockRefList.nulls(nodes.length), seps };
  }

  private branch(branch: BranchNode, lo: number, hi: number): Level {
    const kids: (Node | null)[] = [];
    const refs = BlockRefList.empty();
    const seps: Uint8Array[] = [];
    // Rebuilt children that deletions may have left too small, by their index in `kids`.
    const rebuilt: number[] | null = this.writes.deletions ? [] : null;
    let k = lo;
    const n = branch.sepCount;
    for (let j = 0; j <= n; j++) {
      // Separator j-1 divides child j from the last child kept before it (none when all were emptied).
      const sepPushed = j > 0 && kids.length > 0;
      if (sepPushed) seps.push(sepAt(branch, j - 1));
      // Child j holds the keys below separator j.
      const end = j === n ? hi : this.firstAtOrAbove(branch, j, k, hi);
      if (end === k) {
        kids.push(branch.kids[j] ?? null);
        refs.pushFrom(branch.refs, j);
        continue;
      }
      const sub = this.node(childAt(branch, j, this.ctx.store), k, end);
      k = end;
      if (sub.nodes.length === 0) {
        // Every entry below child j was deleted: it goes, with the separator before it.
        if (sepPushed) seps.pop();
        continue;
      }
      for (let x = 0; x < sub.nodes.length; x++) {
        if (x > 0) seps.push(sub.seps[x - 1]!);
        rebuilt?.push(kids.length);
        kids.push(sub.nodes[x]!);
        refs.pushFrom(sub.refs, x);
      }
    }
    if (kids.length === 0) return { nodes: [], refs: BlockRefList.empty(), seps: [] };
    if (rebuilt && rebuilt.length > 0) this.rebalance(kids, refs, seps, rebuilt);
    return this.branches(kids, refs, seps);
  }

  /**
   * The first write in [lo, hi) whose key is at or above separator j of `branch` (hi when none). It
   * gallops from lo like lowerBoundFrom: most children of a branch get no key or a short run, and a
   * branch of a few hundred children used to compare (and make a view of) every key it passed.
   */
  private firstAtOrAbove(branch: BranchNode, j: number, lo: number, hi: number): number {
    let step = 1;
    while (lo < hi) {
      const probe = Math.min(lo + step - 1, hi - 1);
      if (compareSepAt(branch, j, this.key(probe)) <= 0) {
        hi = probe;
        break;
      }
      lo = probe + 1;
      step *= 2;
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareSepAt(branch, j, this.key(mid)) > 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The key of write i; the last one asked for is kept (each child's search starts at the same write). */
  private key(i: number): Uint8Array {
    if (i !== this.lastKeyAt) {
      this.lastKey = this.writes.key(i);
      this.lastKeyAt = i;
    }
    return this.lastKey!;
  }

  private lastKeyAt = -1;
  private lastKey: Uint8Array | null = null;

  private isUnderfull(node: Node): boolean {
    if (node.isLeaf) return node.size < this.ctx.maxLeafSize / 4;
    return node.kids.length < 2 || node.size < this.ctx.maxNodeSize / 4;
  }

  /**
   * Merges each rebuilt child of one parent that is under a quarter full with a sibling (the next
   * one, or the previous one for the last child); when the two do not fit in one node they share
   * their entries evenly. `rebuilt` holds ascending indexes into `kids`; the arrays change in place.
   */
  rebalance(kids: (Node | null)[], refs: BlockRefList, seps: Uint8Array[], rebuilt: number[]): void {
    // Walk from the right, so that merging at x never moves the indexes still to visit.
    for (let r = rebuilt.length - 1; r >= 0; r--) {
      let x = rebuilt[r]!;
      while (x < kids.length && kids.length >= 2 && this.isUnderfull(kids[x]!)) {
        const l = x + 1 < kids.length ? x : x - 1;
        const left = this.load(kids, refs, l);
        const right = this.load(kids, refs, l + 1);
        const merged = left.isLeaf ? this.pairLeaves(left, right as LeafNode) : this.pairBranches(left, right as BranchNode, seps[l]!);
        kids.splice(l, 2, ...merged.nodes);
        // Nodes a pairing returns are all new: none is stored yet.
        refs.splice(l, 2, merged.nodes.length);
        seps.splice(l, 1, ...merged.seps);
        // One node out of two may still be too small (two tiny leaves): it tries its next sibling.
        if (merged.nodes.length !== 1) break;
        x = l;
      }
    }
  }

  /** Child i of an assembled child list, loaded; a stored one gives its block back (it is rebuilt). */
  private load(kids: (Node | null)[], refs: BlockRefList, i: number): Node {
    const node = kids[i] ?? this.ctx.store.load(refs.get(i)!);
    this.replaced(refs.get(i) ?? node.ref);
    return node;
  }

  /**
   * The node stored at `ref` is being rebuilt: its block (if stored) is freed as of this version, and it leaves the
   * cache. A snapshot of an older version that still reads it loads it again from its block, which
   * stays intact while such a snapshot is open; the latest version will never ask for it, and left
   * cached, every leaf a fold replaced would stay in memory until the cache swept it out: a fold of
   * random keys replaces nearly every leaf, so the store's memory grew by the whole tree per fold.
   */
  private replaced(ref: BlockRef | null): void {
    if (!ref) return;
    this.ctx.freeBlock(ref);
    this.ctx.store.cache.delete(ref.offset);
  }

  /** Two neighbouring leaves as one, or as two of about equal size when they do not fit in one. */
  private pairLeaves(a: LeafNode, b: LeafNode): Level {
    const txn = this.ctx.txn;
    if (a.size + b.size - LEAF_HEADER_SIZE <= this.ctx.maxLeafSize || a.count + b.count < 2) {
      return { nodes: [buildLeaf([[a, 0, a.count], [b, 0, b.count]], txn)], refs: BlockRefList.nulls(1), seps: [] };
    }
    const half = (a.size + b.size - LEAF_HEADER_SIZE + LEAF_HEADER_SIZE) / 2;
    const n = a.count + b.count;
    // Bytes up to global entry k (exclusive), counting the header once.
    const bytesBefore = (k: number): number => (k <= a.count ? a.offs[k]! : a.size + b.offs[k - a.count]! - LEAF_HEADER_SIZE);
    let cut = 1;
    while (cut < n - 1 && bytesBefore(cut + 1) <= half) cut++;
    const first = cut <= a.count ? buildLeaf([[a, 0, cut]], txn) : buildLeaf([[a, 0, a.count], [b, 0, cut - a.count]], txn);
    const second = cut < a.count ? buildLeaf([[a, cut, a.count], [b, 0, b.count]], txn) : buildLeaf([[b, cut - a.count, b.count]], txn);
    const sep = shortestSeparator(keyAt(first, first.count - 1), keyAt(second, 0));
    return { nodes: [first, second], refs: BlockRefList.nulls(2), seps: [sep] };
  }

  /** Two neighbouring branches as one, or repacked into as many as their size needs. */
  private pairBranches(a: BranchNode, b: BranchNode, between: Uint8Array): Level {
    const keys = [...sepList(a), between, ...sepList(b)];
    const kids = a.kids.concat(b.kids);
    const refs = a.refs.concat(b.refs);
    // A branch was underfull because deletions shrank its children: the small ones rebuilt here
    // (this merge's txn) may now have siblings to join.
    const rebuilt: number[] = [];
    for (let i = 0; i < kids.length; i++) if (kids[i]?.txn === this.ctx.txn) rebuilt.push(i);
    if (rebuilt.length > 0) this.rebalance(kids, refs, keys, rebuilt);
    if (branchSizeOf(keys, kids.length) <= this.ctx.maxNodeSize || kids.length < 4) {
      return { nodes: [makeBranch(keys, kids, refs, this.ctx.txn)], refs: BlockRefList.nulls(1), seps: [] };
    }
    return this.branches(kids, refs, keys);
  }
}
