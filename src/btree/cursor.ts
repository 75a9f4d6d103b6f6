/**
 * A position in one tree version, moving forward or backward leaf by leaf. Copy-on-write trees
 * cannot keep sibling links (a changed leaf would force rewriting its neighbours), so the cursor
 * keeps the path from the root and climbs it to cross leaves.
 */
import { compareBytes } from '../util/bytes.js';
import { childIndex } from './branch.js';
import { leafLowerBound } from './leaf.js';
import type { BranchNode, LeafNode, Node } from './node.js';
import type { NodeStore } from './node-store.js';
import { childAt } from './search.js';

export class TreeCursor {
  private readonly path: { node: BranchNode; index: number }[] = [];
  private leaf: LeafNode | null = null;
  private index = 0;

  constructor(
    private root: Node | null,
    private readonly store: NodeStore,
  ) {}

  /** Lets go of the tree: the cursor is at no key and never moves again (it held the version's root). */
  release(): void {
    this.root = null;
    this.path.length = 0;
    this.leaf = null;
  }

  /** The leaf and entry index the cursor is on (valid after a move returned true). */
  get leafNode(): LeafNode {
    return this.leaf!;
  }

  get leafIndex(): number {
    return this.index;
  }

  /** Positions at the first key >= `key` (> when `exclusive`), or the first key when `key` is null. */
  seekForward(key: Uint8Array | null, exclusive: boolean): boolean {
    if (!this.descend(key, 'first')) return false;
    this.index = key ? leafLowerBound(this.leaf!, key, exclusive) : 0;
    return this.index < this.leaf!.count || this.next();
  }

  /** Positions at the last key <= `key` (< when `exclusive`), or the last key when `key` is null. */
  seekBackward(key: Uint8Array | null, exclusive: boolean): boolean {
    if (!this.descend(key, 'last')) return false;
    // First index past the keys we may return, then one back.
    this.index = key ? leafLowerBound(this.leaf!, key, !exclusive) - 1 : this.leaf!.count - 1;
    return this.index >= 0 || this.prev();
  }

  /** Moves to the next key; false at the end. */
  next(): boolean {
    if (!this.leaf) return false;
    if (++this.index < this.leaf.count) return true;
    for (;;) {
      const top = this.climb(+1);
      if (!top) return this.finish();
      this.descendEdge(childAt(top.node, top.index, this.store), 'first');
      this.index = 0;
      if (this.leaf!.count > 0) return true;
    }
  }

  /** Moves to the previous key; false at the start. */
  prev(): boolean {
    if (!this.leaf) return false;
    if (--this.index >= 0) return true;
    for (;;) {
      const top = this.climb(-1);
      if (!top) return this.finish();
      this.descendEdge(childAt(top.node, top.index, this.store), 'last');
      this.index = this.leaf!.count - 1;
      if (this.index >= 0) return true;
    }
  }

  private finish(): false {
    this.leaf = null;
    return false;
  }

  /** Pops the path to the nearest branch with a child in direction `dir`, and steps to it. */
  private climb(dir: 1 | -1): { node: BranchNode; index: number } | null {
    while (this.path.length > 0) {
      const top = this.path[this.path.length - 1]!;
      const next = top.index + dir;
      if (next >= 0 && next < top.node.kids.length) {
        top.index = next;
        return top;
      }
      this.path.pop();
    }
    return null;
  }

  private descend(key: Uint8Array | null, edge: 'first' | 'last'): boolean {
    this.path.length = 0;
    this.leaf = null;
    if (!this.root) return false;
    if (!key) {
      this.descendEdge(this.root, edge);
      return true;
    }
    let node = this.root;
    while (!node.isLeaf) {
      const i = childIndex(node, key);
      this.path.push({ node, index: i });
      node = childAt(node, i, this.store);
    }
    this.leaf = node;
    return true;
  }

  private descendEdge(start: Node, edge: 'first' | 'last'): void {
    let node = start;
    while (!node.isLeaf) {
      const i = edge === 'first' ? 0 : node.kids.length - 1;
      this.path.push({ node, index: i });
      node = childAt(node, i, this.store);
    }
    this.leaf = node;
  }
}

/** Bounds of a range scan; each side optional. */
export interface KeyBounds {
  gte?: Uint8Array | undefined;
  gt?: Uint8Array | undefined;
  lte?: Uint8Array | undefined;
  lt?: Uint8Array | undefined;
}

/** True when `key` is past the far bound of a scan in the given direction. */
export function beyondBound(key: Uint8Array, b: KeyBounds, reverse: boolean): boolean {
  if (!reverse) {
    if (b.lt && compareBytes(key, b.lt) >= 0) return true;
    if (b.lte && compareBytes(key, b.lte) > 0) return true;
  } else {
    if (b.gt && compareBytes(key, b.gt) <= 0) return true;
    if (b.gte && compareBytes(key, b.gte) < 0) return true;
  }
  return false;
}
