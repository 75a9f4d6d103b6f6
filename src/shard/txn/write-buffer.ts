/**
 * What a write transaction has changed, before it touches the tree: per table, every value (or
 * deletion) it wrote, and whether it cleared or dropped the table. The tree is changed only when the
 * commit is merged (WriteTxn.merge), after its WAL record is written, so an aborted transaction, or one
 * whose WAL write fails, is simply dropped.
 *
 * Writes are kept in the order made, as offsets into the buffers holding their bytes (WriteColumns).
 * A key-to-write index (keyed by the key's latin1 string, which
 * Map hashes quickly) is built only when the transaction first reads its own writes: ingestion that
 * only puts never pays for it. Memtables take the writes in that order; internal tables' merge sorts
 * them and keeps the last write of each key.
 */
import type { LeafValue } from '../../btree/node.js';
import { compareBytes } from '../../util/bytes.js';
import { sortByKey } from '../../util/key-sort.js';
import { W_KEY_LEN, W_KEY_OFF, W_LOC, WriteColumns } from '../data/write-columns.js';

/** A buffered change of one key: its new value, or null for a deletion. */
export interface BufferedEntry {
  key: Uint8Array;
  value: LeafValue | null;
}

export function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
}

/** Changes to one table. */
export class TableBuffer {
  /**
   * Every write, in order, as columns (no object per write: a bulk load makes millions); a later
   * write of a key supersedes an earlier one.
   */
  private writes = new WriteColumns();
  /** The buffer last indexed, as a Buffer (to read keys as latin1 without a view per key). */
  private indexedSrc: Uint8Array | null = null;
  private indexedBuf: Buffer | null = null;
  /** Position of the last write of each key, once something asked. */
  private index: Map<string, number> | null = null;
  private sorted: { entries: BufferedEntry[]; superseded: BufferedEntry[] } | null = null;
  /** Every entry the tree held before this transaction is gone (clear or drop). */
  cleared = false;
  /** The table itself was dropped (and not written since). */
  dropped = false;
  /** A value was put into the table (so it exists after the merge even if it did not before). */
  wrote = false;

  /** Records a write given as views (see WriteColumns.pushViews). */
  set(key: Uint8Array, value: LeafValue | null): void {
    this.writes.pushViews(key, value);
    this.noted(value !== null);
  }

  /**
   * Records a write whose key lies at `src[keyOff, keyOff + keyLen)`; its value is
   * `src[valueOff, valueOff + valueLen)` when `value` is undefined, else `value` (null: a deletion).
   */
  setAt(src: Uint8Array, keyOff: number, keyLen: number, valueOff: number, valueLen: number, value: LeafValue | null | undefined): void {
    this.writes.push(src, keyOff, keyLen, valueOff, valueLen, value);
    this.noted(value !== null);
  }

  /** The writes since the last reset, in the order made (a key may repeat). */
  written(): WriteColumns {
    return this.writes;
  }

  /** Bookkeeping after write number size - 1 was recorded. */
  private noted(put: boolean): void {
    const n = this.writes.size - 1;
    if (this.index) this.index.set(this.keyStringOf(n), n);
    this.sorted = null;
    if (put) {
      this.dropped = false;
      this.wrote = true;
    }
  }

  /** Number of writes since the last reset. */
  get size(): number {
    return this.writes.size;
  }

  /** The last entry written for `key`, if any. */
  get(key: Uint8Array): BufferedEntry | undefined {
    const i = this.lastByKey().get(keyString(key));
    return i === undefined ? undefined : { key: this.writes.key(i), value: this.writes.value(i) };
  }

  /** The last entry of every key written. */
  *latest(): IterableIterator<BufferedEntry> {
    for (const i of this.lastByKey().values()) yield { key: this.writes.key(i), value: this.writes.value(i) };
  }

  /**
   * Forgets every buffered write and masks the tree (clear), or the table (drop). Returns the value
   * objects of the writes forgotten (inline values hold no reference to give back).
   */
  reset(drop: boolean): LeafValue[] {
    const all: LeafValue[] = [];
    for (const v of this.writes.values) if (v !== undefined && v !== null) all.push(v);
    this.writes = new WriteColumns();
    this.index = null;
    this.sorted = null;
    this.cleared = true;
    this.dropped = drop;
    if (drop) this.wrote = false;
    return all;
  }

  /**
   * The last entry of each key in key order, and the entries they superseded (whose values never
   * reach the tree).
   */
  inOrder(): { entries: BufferedEntry[]; superseded: BufferedEntry[] } {
    if (!this.sorted) {
      const list: BufferedEntry[] = [];
      for (let i = 0; i < this.writes.size; i++) list.push({ key: this.writes.key(i), value: this.writes.value(i) });
      // A stable sort keeps the writes of one key in order, so the last of each run is the latest.
      const all = sortByKey(list);
      const entries: BufferedEntry[] = [];
      const superseded: BufferedEntry[] = [];
      for (let i = 0; i < all.length; i++) {
        const e = all[i]!;
        const next = all[i + 1];
        if (next && compareBytes(next.key, e.key) === 0) superseded.push(e);
        else entries.push(e);
      }
      this.sorted = { entries, superseded };
    }
    return this.sorted;
  }

  private lastByKey(): Map<string, number> {
    if (!this.index) {
      this.index = new Map();
      for (let i = 0; i < this.writes.size; i++) this.index.set(this.keyStringOf(i), i);
    }
    return this.index;
  }

  /** keyString of the key of write `i`, read in place. */
  private keyStringOf(i: number): string {
    const w = this.writes;
    const src = w.buf(i);
    if (src !== this.indexedSrc) {
      this.indexedSrc = src;
      this.indexedBuf = Buffer.from(src.buffer, src.byteOffset, src.length);
    }
    const at = i * W_LOC;
    const o = w.locs[at + W_KEY_OFF]!;
    return this.indexedBuf!.toString('latin1', o, o + w.locs[at + W_KEY_LEN]!);
  }
}

/** Changes of one transaction, per table. */
export class WriteBuffer {
  readonly tables = new Map<string, TableBuffer>();
  /** The table written last: most transactions write one table many times. */
  private lastName = '';
  private last: TableBuffer | null = null;

  table(name: string): TableBuffer {
    if (name === this.lastName && this.last) return this.last;
    let t = this.tables.get(name);
    if (!t) this.tables.set(name, (t = new TableBuffer()));
    this.lastName = name;
    this.last = t;
    return t;
  }
}
