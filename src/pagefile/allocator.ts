/**
 * Free-space map of the page file: which extents past the header are free, and where the file ends.
 *
 * Invariants: free extents never overlap or touch (touching extents are merged on free), all are
 * 64-byte aligned, and all lie below `end`. Allocation is best fit (smallest free extent that holds
 * the request), which keeps large holes for large blocks; when nothing fits, the file grows.
 *
 * This map alone does not decide what may be overwritten: the checkpoint hands it only extents that
 * no durable header slot and no open snapshot can still reach (see shard/free-space.ts).
 */
import { BLOCK_ALIGN, HEADER_SIZE } from './layout.js';

export interface Extent {
  offset: number;
  length: number;
}

export class ExtentAllocator {
  private readonly byStart = new Map<number, number>();
  private readonly byEnd = new Map<number, number>();
  private readonly bySize = new Map<number, Set<number>>();
  /** Distinct free extent lengths, ascending, for best-fit search. */
  private readonly sizes: number[] = [];
  private freeTotal = 0;

  constructor(
    /** End of the used region of the file; allocations past every free extent start here. */
    public end: number = HEADER_SIZE,
  ) {}

  /** Bytes in free extents (holes below `end`). */
  get freeBytes(): number {
    return this.freeTotal;
  }

  get extentCount(): number {
    return this.byStart.size;
  }

  /** Free extents in offset order. */
  extents(): Extent[] {
    return [...this.byStart].map(([offset, length]) => ({ offset, length })).sort((a, b) => a.offset - b.offset);
  }

  allocate(length: number): number {
    const inHole = this.allocateInHole(length);
    if (inHole !== null) return inHole;
    // Nothing fits: grow the file, starting inside a free extent that touches the end if there is one.
    const tailStart = this.byEnd.get(this.end);
    let offset = this.end;
    if (tailStart !== undefined) {
      this.remove(tailStart, this.end - tailStart);
      offset = tailStart;
    }
    this.end = offset + length;
    return offset;
  }

  /** Allocates from the smallest free extent that holds `length`; null when none does (the end never moves). */
  allocateInHole(length: number): number | null {
    if (length <= 0 || length % BLOCK_ALIGN !== 0) throw new RangeError(`allocation of ${length} bytes is not aligned`);
    const i = lowerBound(this.sizes, length);
    if (i === this.sizes.length) return null;
    const size = this.sizes[i]!;
    const offset = this.bySize.get(size)!.values().next().value as number;
    this.remove(offset, size);
    if (size > length) this.insert(offset + length, size - length);
    return offset;
  }

  /** Allocates at the end of the file, leaving every free extent as it is. */
  allocateAtEnd(length: number): number {
    if (length <= 0 || length % BLOCK_ALIGN !== 0) throw new RangeError(`allocation of ${length} bytes is not aligned`);
    const offset = this.end;
    this.end += length;
    return offset;
  }

  /** Returns an extent to the free map, merging it with free neighbours. */
  free(offset: number, length: number): void {
    if (length <= 0 || offset < HEADER_SIZE || offset + length > this.end) {
      throw new RangeError(`free of [${offset}, ${offset + length}) is outside the file`);
    }
    let start = offset;
    let len = length;
    const before = this.byEnd.get(start);
    if (before !== undefined) {
      len += start - before;
      this.remove(before, start - before);
      start = before;
    }
    const afterLen = this.byStart.get(offset + length);
    if (afterLen !== undefined) {
      this.remove(offset + length, afterLen);
      len += afterLen;
    }
    this.insert(start, len);
  }

  /** Drops a free extent that touches the end, moving the end down. Returns the new end. */
  trimTail(): number {
    const tailStart = this.byEnd.get(this.end);
    if (tailStart !== undefined) {
      this.remove(tailStart, this.end - tailStart);
      this.end = tailStart;
    }
    return this.end;
  }

  private insert(offset: number, length: number): void {
    this.byStart.set(offset, length);
    this.byEnd.set(offset + length, offset);
    let set = this.bySize.get(length);
    if (!set) {
      set = new Set();
      this.bySize.set(length, set);
      this.sizes.splice(lowerBound(this.sizes, length), 0, length);
    }
    set.add(offset);
    this.freeTotal += length;
  }

  private remove(offset: number, length: number): void {
    this.byStart.delete(offset);
    this.byEnd.delete(offset + length);
    const set = this.bySize.get(length)!;
    set.delete(offset);
    if (set.size === 0) {
      this.bySize.delete(length);
      this.sizes.splice(lowerBound(this.sizes, length), 1);
    }
    this.freeTotal -= length;
  }
}

/** Index of the first element >= x in an ascending array. */
function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
