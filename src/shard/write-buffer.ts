/**
 * What a write transaction has changed, before it touches the tree: per table, the last value (or a
 * deletion) of every key it wrote, and whether it cleared or dropped the table. The tree is changed
 * only when the commit is merged (tree-merge in write-txn.ts), after its WAL record is written, so an
 * aborted transaction, or one whose WAL write fails, is simply dropped.
 *
 * Keys are indexed by their latin1 string (one char per byte), which Map hashes quickly.
 */
import type { LeafValue } from '../btree/node.js';
import { compareBytes } from '../util/bytes.js';

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
  readonly entries = new Map<string, BufferedEntry>();
  /** Every entry the tree held before this transaction is gone (clear or drop). */
  cleared = false;
  /** The table itself was dropped (and not written since). */
  dropped = false;
  /** A value was put into the table (so it exists after the merge even if it did not before). */
  wrote = false;
  private sorted: BufferedEntry[] | null = null;

  set(key: Uint8Array, value: LeafValue | null): BufferedEntry | undefined {
    const k = keyString(key);
    const previous = this.entries.get(k);
    this.entries.set(k, { key, value });
    this.sorted = null;
    if (value !== null) {
      this.dropped = false;
      this.wrote = true;
    }
    return previous;
  }

  get(key: Uint8Array): BufferedEntry | undefined {
    return this.entries.get(keyString(key));
  }

  /** Forgets every buffered entry and masks the tree (clear), or the table (drop). */
  reset(drop: boolean): BufferedEntry[] {
    const dropped = [...this.entries.values()];
    this.entries.clear();
    this.sorted = null;
    this.cleared = true;
    this.dropped = drop;
    if (drop) this.wrote = false;
    return dropped;
  }

  /** Entries in key order. */
  inOrder(): BufferedEntry[] {
    this.sorted ??= [...this.entries.values()].sort((a, b) => compareBytes(a.key, b.key));
    return this.sorted;
  }
}

/** Changes of one transaction, per table. */
export class WriteBuffer {
  readonly tables = new Map<string, TableBuffer>();

  table(name: string): TableBuffer {
    let t = this.tables.get(name);
    if (!t) this.tables.set(name, (t = new TableBuffer()));
    return t;
  }

  get isEmpty(): boolean {
    return this.tables.size === 0;
  }
}
