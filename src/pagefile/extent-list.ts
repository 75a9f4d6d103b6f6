/**
 * A list of extents packed into one growable Float64Array (offset, length, offset, length, ...).
 * The blocks a transaction frees, a checkpoint writes, and the frees waiting for readers are kept
 * this way: checkpoints of random keys rewrite most of the tree, and as `{ offset, length }`
 * objects (plus a heap number for each value past 2^30) these lists held hundreds of thousands of
 * objects each, a JS heap growing with the table.
 */
import type { Extent } from './allocator.js';

export class ExtentList {
  private data = new Float64Array(16);
  private n = 0;

  /** Number of extents. */
  get length(): number {
    return this.n;
  }

  offsetAt(i: number): number {
    return this.data[2 * i]!;
  }

  lengthAt(i: number): number {
    return this.data[2 * i + 1]!;
  }

  push(offset: number, length: number): void {
    if (2 * this.n + 2 > this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[2 * this.n] = offset;
    this.data[2 * this.n + 1] = length;
    this.n++;
  }

  /** Appends every extent of `from`. */
  append(from: ExtentList | readonly Extent[]): void {
    if (from instanceof ExtentList) {
      for (let i = 0; i < from.n; i++) this.push(from.offsetAt(i), from.lengthAt(i));
    } else {
      for (const e of from) this.push(e.offset, e.length);
    }
  }

  /** Removes the extents from `start` on and returns them. */
  splice(start: number): ExtentList {
    const tail = new ExtentList();
    for (let i = start; i < this.n; i++) tail.push(this.offsetAt(i), this.lengthAt(i));
    this.n = Math.min(this.n, start);
    return tail;
  }

  /** Sum of the lengths. */
  bytes(): number {
    let total = 0;
    for (let i = 0; i < this.n; i++) total += this.data[2 * i + 1]!;
    return total;
  }

  /** The extents as objects, for the callers that sort or encode them. */
  toArray(): Extent[] {
    const out = new Array<Extent>(this.n);
    for (let i = 0; i < this.n; i++) out[i] = { offset: this.data[2 * i]!, length: this.data[2 * i + 1]! };
    return out;
  }
}
