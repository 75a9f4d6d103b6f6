/**
 * A list of block refs (or nulls), three numbers per ref in one array: offset, length, checksum. A
 * null has length 0, which no stored block has (every extent is at least BLOCK_ALIGN bytes). Used
 * for a branch's children (null: a child not stored yet) and for long lists of refs held a while.
 *
 * Why not an object per ref: a BlockRef object takes about 80 bytes of JS heap (the object, plus a
 * heap number each for an offset past 1 GiB and for a checksum beyond V8's small integers), while an
 * array of numbers only keeps them unboxed, 8 bytes each. Branches stay in memory (btree/search.ts),
 * and a checkpoint running beside commits holds the branches of two or three versions: after 10M
 * random puts, a heap snapshot found 1.2M ref objects and 2.4M heap numbers, 96 MB of live heap.
 *
 * Refs handed out by get() are new objects: compare them by offset, not by identity.
 */
import type { BlockRef } from './layout.js';

const NUMBERS = 3;

export class BlockRefList implements Iterable<BlockRef | null> {
  private constructor(private v: number[]) {}

  static empty(): BlockRefList {
    return new BlockRefList([]);
  }

  /** A list of `n` nulls. */
  static nulls(n: number): BlockRefList {
    return new BlockRefList(new Array<number>(n * NUMBERS).fill(0));
  }

  /** A list of the given refs. */
  static from(refs: Iterable<BlockRef | null>): BlockRefList {
    const list = BlockRefList.empty();
    for (const r of refs) list.push(r);
    return list;
  }

  push(ref: BlockRef | null): void {
    if (ref) this.v.push(ref.offset, ref.length, ref.crc);
    else this.v.push(0, 0, 0);
  }

  /** Appends ref `i` of `other`. */
  pushFrom(other: BlockRefList, i: number): void {
    const o = i * NUMBERS;
    this.v.push(other.v[o]!, other.v[o + 1]!, other.v[o + 2]!);
  }

  /** This list followed by `other`. */
  concat(other: BlockRefList): BlockRefList {
    return new BlockRefList(this.v.concat(other.v));
  }

  /** Number of refs. */
  get length(): number {
    return this.v.length / NUMBERS;
  }

  /** Ref i; null for a null (or i out of range). */
  get(i: number): BlockRef | null {
    const o = i * NUMBERS;
    const length = this.v[o + 1];
    if (length === undefined || length === 0) return null;
    return { offset: this.v[o]!, length, crc: this.v[o + 2]! };
  }

  /** Offset of ref i (0 for a null), without making the ref. */
  offsetAt(i: number): number {
    return this.v[i * NUMBERS]!;
  }

  /** Length of ref i (0 for a null), without making the ref. */
  lengthAt(i: number): number {
    return this.v[i * NUMBERS + 1]!;
  }

  /** Whether ref i is not null. */
  stored(i: number): boolean {
    const length = this.v[i * NUMBERS + 1];
    return length !== undefined && length !== 0;
  }

  set(i: number, ref: BlockRef | null): void {
    const o = i * NUMBERS;
    const v = this.v;
    if (ref) {
      v[o] = ref.offset;
      v[o + 1] = ref.length;
      v[o + 2] = ref.crc;
    } else {
      v[o] = 0;
      v[o + 1] = 0;
      v[o + 2] = 0;
    }
  }

  /** Replaces `count` refs from `at` with `added` nulls. */
  splice(at: number, count: number, added: number): void {
    const zeros = new Array<number>(added * NUMBERS).fill(0);
    this.v.splice(at * NUMBERS, count * NUMBERS, ...zeros);
  }

  /** Refs [from, to). */
  slice(from = 0, to = this.length): BlockRefList {
    return new BlockRefList(this.v.slice(from * NUMBERS, to * NUMBERS));
  }

  /** Keeps the first `n` refs. */
  truncate(n: number): void {
    this.v.length = n * NUMBERS;
  }

  *[Symbol.iterator](): Iterator<BlockRef | null> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }
}
