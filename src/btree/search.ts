/** Descending a tree: child resolution and the leaf that holds a key. */
import { childIndex } from './branch.js';
import type { BranchNode, LeafNode, Node } from './node.js';
import type { NodeStore } from './node-store.js';

/** The i-th child of a branch, in memory or loaded through the store. */
export function childAt(branch: BranchNode, i: number, store: NodeStore): Node {
  return branch.kids[i] ?? store.load(branch.refs[i]!);
}

/** The leaf that would hold `key`. */
export function findLeaf(root: Node, key: Uint8Array, store: NodeStore): LeafNode {
  let node = root;
  while (!node.isLeaf) node = childAt(node, childIndex(node, key), store);
  return node;
}
