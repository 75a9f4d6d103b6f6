/** Descending a tree: child resolution and the leaf that holds a key. */
import { childIndex } from './branch.js';
import type { BranchNode, LeafNode, Node } from './node.js';
import type { NodeStore } from './node-store.js';

/**
 * The i-th child of a branch, in memory or loaded through the store. A loaded branch stays linked
 * from its parent, so later descents skip the cache lookup: branches are few (about one per hundred
 * leaves) and every descent passes through them. Leaves are left to the cache, which may evict them.
 */
export function childAt(branch: BranchNode, i: number, store: NodeStore): Node {
  const kid = branch.kids[i];
  if (kid) return kid;
  const node = store.load(branch.refs.get(i)!);
  if (!node.isLeaf) branch.kids[i] = node;
  return node;
}

/** The leaf that would hold `key`. */
export function findLeaf(root: Node, key: Uint8Array, store: NodeStore): LeafNode {
  let node = root;
  while (!node.isLeaf) node = childAt(node, childIndex(node, key), store);
  return node;
}
