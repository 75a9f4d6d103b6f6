/**
 * Builds a tree bottom-up from entries supplied in ascending key order: leaves are filled to
 * `maxLeafSize` and stored as they fill, then each branch level is built over the one below, filled
 * to `maxNodeSize`. Used by compaction, which is why the result is as dense as node sizes allow.
 */
import { writeBlockRef } from '../pagefile/block-ref-codec.js';
import { BLOCK_REF_SIZE, type BlockRef } from '../pagefile/layout.js';
import { writeU16, writeU32 } from '../util/binary.js';
import { copyBytes } from '../util/bytes.js';
import { branchSizeOf, makeBranch } from './branch.js';
import { encodeBranch } from './node-codec.js';
import { LEAF_HEADER_SIZE, ValueTag } from './node.js';
import { shortestSeparator } from './tree-write.js';

/** A stored subtree, as its parent needs it. */
interface Built {
  first: Uint8Array;
  last: Uint8Array;
  ref: BlockRef;
}

/** Where node payloads go: stores one and returns its ref. */
export type NodeSink = (kind: 'leaf' | 'branch', payload: Uint8Array) => BlockRef;

export class TreeBuilder {
  private buf = new Uint8Array(1 << 16);
  private size = LEAF_HEADER_SIZE;
  private count = 0;
  private first: Uint8Array | null = null;
  private last: Uint8Array | null = null;
  private readonly leaves: Built[] = [];

  constructor(
    /** Leaves are filled up to this many bytes. */
    private readonly maxLeafSize: number,
    /** Branches are filled up to this many bytes. */
    private readonly maxNodeSize: number,
    private readonly sink: NodeSink,
  ) {}

  /** Adds the next entry (keys must ascend strictly) whose value is already stored in block `ref`. */
  addStored(key: Uint8Array, ref: BlockRef, length: number): void {
    const o = this.begin(key, 5 + BLOCK_REF_SIZE);
    this.buf[o] = ValueTag.OutOfLine;
    writeU32(this.buf, o + 1, length);
    writeBlockRef(this.buf, o + 5, ref);
  }

  /** Adds the next entry with its value part (tag, length, body) copied as it was stored. */
  addRaw(key: Uint8Array, valuePart: Uint8Array): void {
    const o = this.begin(key, valuePart.length);
    this.buf.set(valuePart, o);
  }

  /** Stores what is left and every branch level; returns the root ref, or null for no entries. */
  finish(): BlockRef | null {
    if (this.count > 0) this.flushLeaf();
    let level = this.leaves;
    while (level.length > 1) level = this.buildLevel(level);
    return level[0]?.ref ?? null;
  }

  /** Writes the key of a new entry and returns where its value part goes. */
  private begin(key: Uint8Array, valuePart: number): number {
    const es = 2 + key.length + valuePart;
    if (this.count > 0 && this.size + es > this.maxLeafSize) this.flushLeaf();
    if (this.size + es > this.buf.length) {
      const grown = new Uint8Array(this.size + es + (1 << 16));
      grown.set(this.buf.subarray(0, this.size));
      this.buf = grown;
    }
    const o = this.size;
    writeU16(this.buf, o, key.length);
    this.buf.set(key, o + 2);
    this.size += es;
    this.count++;
    this.first ??= copyBytes(key);
    this.last = key;
    return o + 2 + key.length;
  }

  private flushLeaf(): void {
    writeU16(this.buf, 0, this.count);
    const ref = this.sink('leaf', this.buf.slice(0, this.size));
    this.leaves.push({ first: this.first!, last: copyBytes(this.last!), ref });
    this.size = LEAF_HEADER_SIZE;
    this.count = 0;
    this.first = null;
    this.last = null;
  }

  /** Groups children into branches of at most maxNodeSize (each with at least two children). */
  private buildLevel(children: Built[]): Built[] {
    const groups: Built[][] = [];
    let group: Built[] = [];
    let size = branchSizeOf([], 0);
    for (const c of children) {
      const sepSize = group.length > 0 ? 2 + shortestSeparator(group[group.length - 1]!.last, c.first).length : 0;
      if (group.length >= 2 && size + sepSize + BLOCK_REF_SIZE > this.maxNodeSize) {
        groups.push(group);
        group = [];
        size = branchSizeOf([], 0);
      }
      size += (group.length > 0 ? sepSize : 0) + BLOCK_REF_SIZE;
      group.push(c);
    }
    // A branch needs two children: a lone last child joins the previous group.
    if (group.length === 1 && groups.length > 0) group.unshift(groups[groups.length - 1]!.pop()!);
    groups.push(group);
    return groups.map((g) => {
      const keys: Uint8Array[] = [];
      for (let i = 1; i < g.length; i++) keys.push(shortestSeparator(g[i - 1]!.last, g[i]!.first));
      const node = makeBranch(keys, g.map(() => null), g.map((c) => c.ref), 0);
      return { first: g[0]!.first, last: g[g.length - 1]!.last, ref: this.sink('branch', encodeBranch(node)) };
    });
  }
}
