/**
 * One commit's writes to one table, in the order made, as columns: where each key (and each value
 * stored inline) lies in a buffer, instead of a view object per key and per value. A transaction
 * logs its writes into the commit log arena and keeps only their offsets here, and the memtable
 * copies the offsets: a bulk commit of thousands of writes then holds no object per write while it
 * runs (objects that would live as long as the commit, long enough to be promoted out of the young
 * generation and marked by every old-generation collection). Views are made only on demand, for the
 * rarer reads of a transaction's own writes.
 *
 * Invariants: the bytes a write points at are never overwritten while anything holds these columns
 * or the memtable entries copied from them (the commit log arena only appends, a replayed payload
 * is kept whole); a value is inline (its bytes in the write's buffer) exactly when its value slot
 * is undefined; a buffer appears once in `bufs` per run of consecutive writes into it.
 */
import type { LeafValue } from '../../btree/node.js';

/** A value, or null for a deletion. */
export type WrittenValue = LeafValue | null;

/** Numbers per write in `locs`: its buffer's index in `bufs`, then key offset and length, value offset and length. */
export const W_BUF = 0;
export const W_KEY_OFF = 1;
export const W_KEY_LEN = 2;
export const W_VALUE_OFF = 3;
export const W_VALUE_LEN = 4;
export const W_LOC = 5;

/** The value of every empty inline value (an index entry's): no view to make for it. */
export const NO_BYTES = new Uint8Array(0);

export class WriteColumns {
  /** Number of writes. */
  size = 0;
  /** The buffers writes lie in, in order of first use. */
  bufs: Uint8Array[] = [];
  /** W_LOC numbers per write. */
  locs = new Int32Array(16 * W_LOC);
  /** Per write: undefined when the value is inline, else the value object, or null for a deletion. */
  values: (WrittenValue | undefined)[] = [];

  /**
   * Adds a write whose key is `src[keyOff, keyOff + keyLen)`; its value is `src[valueOff, valueOff +
   * valueLen)` when `value` is undefined, else `value` (an object, or null for a deletion).
   */
  push(src: Uint8Array, keyOff: number, keyLen: number, valueOff: number, valueLen: number, value: WrittenValue | undefined): void {
    const bufs = this.bufs;
    if (bufs.length === 0 || bufs[bufs.length - 1] !== src) bufs.push(src);
    const n = this.size++;
    if ((n + 1) * W_LOC > this.locs.length) {
      const grown = new Int32Array(this.locs.length * 2);
      grown.set(this.locs);
      this.locs = grown;
    }
    const at = n * W_LOC;
    const locs = this.locs;
    locs[at + W_BUF] = bufs.length - 1;
    locs[at + W_KEY_OFF] = keyOff;
    locs[at + W_KEY_LEN] = keyLen;
    locs[at + W_VALUE_OFF] = valueOff;
    locs[at + W_VALUE_LEN] = valueLen;
    this.values.push(value);
  }

  /**
   * Adds a write given as views: the value is kept inline when it is a view into the key's buffer,
   * as an object otherwise.
   */
  pushViews(key: Uint8Array, value: WrittenValue): void {
    const last = this.bufs.length > 0 ? this.bufs[this.bufs.length - 1]! : null;
    const src = last !== null && last.buffer === key.buffer ? last : new Uint8Array(key.buffer);
    const inline = value instanceof Uint8Array && value.buffer === key.buffer;
    this.push(src, key.byteOffset - src.byteOffset, key.length, inline ? value.byteOffset - src.byteOffset : 0, inline ? value.length : 0, inline ? undefined : value);
  }

  /** The buffer write `i` lies in. */
  buf(i: number): Uint8Array {
    return this.bufs[this.locs[i * W_LOC + W_BUF]!]!;
  }

  /** A view of the key of write `i`. */
  key(i: number): Uint8Array {
    const at = i * W_LOC;
    const o = this.locs[at + W_KEY_OFF]!;
    return this.buf(i).subarray(o, o + this.locs[at + W_KEY_LEN]!);
  }

  /** The value of write `i` (a view when inline). */
  value(i: number): WrittenValue {
    const v = this.values[i];
    if (v !== undefined) return v;
    const at = i * W_LOC;
    const n = this.locs[at + W_VALUE_LEN]!;
    if (n === 0) return NO_BYTES;
    const o = this.locs[at + W_VALUE_OFF]!;
    return this.buf(i).subarray(o, o + n);
  }
}
