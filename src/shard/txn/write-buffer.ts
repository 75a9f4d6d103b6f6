/**
 * What a write transaction has changed, before it touches the tree: per table, every value (or
 * deletion) it wrote, and whether it cleared or dropped the table. The tree is changed only when the
 * commit is merged (WriteTxn.merge), after its WAL record is written, so an aborted transaction, or one
 * whose WAL write fails, is simply dropped.
 *
 * Writes are kept in the order made. A key-to-write index (keyed by the key's latin1 string, which
 * Map hashes quickly) is built only when the transaction first reads its own writes: ingestion that
 * only puts never pays for it. Memtables take the writes in that order; internal tables' merge sorts
 * them and keeps the last write of each key.
 */
import type { LeafValue } from '../../btree/node.js';
import { compareBytes } from '../../util/bytes.js';
import { sortByKey } from '../../util/key-sort.js';

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
   * Every write, in order, as parallel arrays of keys and values (no object per write: a bulk load
   * makes millions); a later write of a key supersedes an earlier one.
   */
  private keys: Uint8Array[] = [];
  private values: (LeafValue | null)[] = [];
  /** Position of the last write of each key, once something asked. */
  private index: Map<string, number> | null = null;
  private sorted: { entries: BufferedEntry[]; superseded: BufferedEntry[] } | null = null;
  /** Every entry the tree held before this transaction is gone (clear or drop). */
  cleared = false;
  /** The table itself was dropped (and not written since). */
  dropped = false;
  /** A value was put into the table (so it exists after the merge even if it did not before). */
  wrote = false;

  set(key: Uint8Array, value: LeafValue | null): void {
    this.index?.set(keyString(key), this.keys.length);
    this.keys.push(key);
    this.values.push(value);
    this.sorted = null;
    if (value !== null) {
      this.dropped = false;
      this.wrote = true;
    }
  }

  /** Keys of every write since the last reset, in the order made (a key may repeat). */
  writtenKeys(): readonly Uint8Array[] {
    return this.keys;
  }

  /** Values of those writes, null for deletions. */
  writtenValues(): readonly (LeafValue | null)[] {
    return this.values;
  }

  /** Number of writes since the last reset. */
  get size(): number {
    return this.keys.length;
  }

  /** The last entry written for `key`, if any. */
  get(key: Uint8Array): BufferedEntry | undefined {
    const i = this.lastByKey().get(keyString(key));
    return i === undefined ? undefined : { key: this.keys[i]!, value: this.values[i]! };
  }

  /** The last entry of every key written. */
  *latest(): IterableIterator<BufferedEntry> {
    for (const i of this.lastByKey().values()) yield { key: this.keys[i]!, value: this.values[i]! };
  }

  /** Forgets every buffered write (returning their values) and masks the tree (clear), or the table (drop). */
  reset(drop: boolean): (LeafValue | null)[] {
    const all = this.values;
    this.keys = [];
    this.values = [];
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
      const list: BufferedEntry[] = this.keys.map((key, i) => ({ key, value: this.values[i]! }));
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
      for (let i = 0; i < this.keys.length; i++) this.index.set(keyString(this.keys[i]!), i);
    }
    return this.index;
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
