/**
 * Merges a sorted run of puts into a tree in one pass: each leaf that receives keys is rebuilt once,
 * merged with them and packed full (LeafPacker), and each branch above is rebuilt over its new
 * children, split into as many branches as its size limit needs; subtrees no key reaches are kept
 * as they are. It never changes a node in place (every node it touches is rebuilt, and a stored one
 * gives its block back), so any version still holding the old root is unaffected.
 *
 * A checkpoint folds a memtable this way: inserting its keys one by one would descend from the root
 * for each and split leaves in halves as they fill. Only puts: a leaf can then only grow, so no
 * branch loses children and the tree stays balanced without rebalancing.
 */
import { compareSepAt, makeBranch, sepAt } from './branch.js';
import { compareKeyAt, keyAt, leafLowerBound, LeafPacker } from './leaf.js';
import { BRANCH_HEADER_SIZE, LeafNode, type BranchNode, type LeafValue, type Node } from './node.js';
import { BLOCK_REF_SIZE, type BlockRef } from '../pagefile/layout.js';
import { childAt } from './search.js';
import { shortestSeparator, type WriteContext } from './tree-write.js';

/** One level's worth of nodes that replace one node, and the separators between them. */
interface Level {
  nodes: Node[];
  refs: (BlockRef | null)[];
  seps: Uint8Array[];
}

/** Puts to merge, by index, keys ascending and distinct. */
export interface SortedPuts {
  readonly length: number;
  key(i: number): Uint8Array;
  value(i: number): LeafValue;
}

/** Puts every key of `puts` into the tree at `root`; returns the new root and how many keys were new. */
export function mergeSortedPuts(root: Node | null, puts: SortedPuts, ctx: WriteContext): { root: Node | null; added: number } {
  if (puts.length === 0) return { root, added: 0 };
  const m = new SortedMerge(puts, ctx);
  let level = m.node(root ?? LeafNode.empty(ctx.txn), 0, puts.length);
  while (level.nodes.length > 1) level = m.branches(level.nodes, level.refs, level.seps);
  return { root: level.nodes[0]!, added: m.added };
}

class SortedMerge {
  added = 0;
  private readonly packer: LeafPacker;

  constructor(
    private readonly puts: SortedPuts,
    private readonly ctx: WriteContext,
  ) {
    this.packer = new LeafPacker(ctx.maxLeafSize, ctx.txn);
  }

  /** The nodes replacing `node` once keys [lo, hi) (all within its range) are put into it. */
  node(node: Node, lo: number, hi: number): Level {
    if (node.ref) this.ctx.freeBlock(node.ref);
    return node.isLeaf ? this.leaf(node, lo, hi) : this.branch(node, lo, hi);
  }

  /** Packs branches of at most maxNodeSize bytes (and at least two children) over the given children. */
  branches(kids: (Node | null)[], refs: (BlockRef | null)[], seps: Uint8Array[]): Level {
    const out: Level = { nodes: [], refs: [], seps: [] };
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
      const key = this.puts.key(k);
      const at = leafLowerBound(leaf, key, false);
      if (at > i) packer.copyRun(leaf, i, at);
      i = at;
      if (i < leaf.count && compareKeyAt(leaf, i, key) === 0) {
        this.ctx.releaseValue(leaf, i);
        i++;
      } else {
        this.added++;
      }
      packer.add(key, this.puts.value(k));
    }
    if (i < leaf.count) packer.copyRun(leaf, i, leaf.count);
    const nodes = packer.finish();
    const seps: Uint8Array[] = [];
    for (let j = 1; j < nodes.length; j++) {
      const left = nodes[j - 1] as LeafNode;
      seps.push(shortestSeparator(keyAt(left, left.count - 1), keyAt(nodes[j] as LeafNode, 0)));
    }
    return { nodes, refs: nodes.map(() => null), seps };
  }

  private branch(branch: BranchNode, lo: number, hi: number): Level {
    const kids: (Node | null)[] = [];
    const refs: (BlockRef | null)[] = [];
    const seps: Uint8Array[] = [];
    let k = lo;
    const n = branch.sepCount;
    for (let j = 0; j <= n; j++) {
      if (j > 0) seps.push(sepAt(branch, j - 1));
      // Child j holds the keys below separator j.
      let end = k;
      if (j === n) end = hi;
      else while (end < hi && compareSepAt(branch, j, this.puts.key(end)) > 0) end++;
      if (end === k) {
        kids.push(branch.kids[j] ?? null);
        refs.push(branch.refs[j] ?? null);
        continue;
      }
      const sub = this.node(childAt(branch, j, this.ctx.store), k, end);
      for (let x = 0; x < sub.nodes.length; x++) {
        if (x > 0) seps.push(sub.seps[x - 1]!);
        kids.push(sub.nodes[x]!);
        refs.push(sub.refs[x]!);
      }
      k = end;
    }
    return this.branches(kids, refs, seps);
  }
}
