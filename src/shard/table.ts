/**
 * A handle on one named table of a Database. Reads see the latest durable commit; writes are whole
 * transactions on that table alone (use `db.write(tx => tx.table(a)... tx.table(b)...)` to change
 * several tables atomically).
 */
import type { Database } from './database.js';
import { readCount, readGet, readHas, type Entry } from './tree-read.js';
import { checkKey, type RangeOptions } from './validate.js';
import type { TxTable } from './write-txn.js';

export class Table {
  /** @internal */
  constructor(
    private readonly db: Database,
    /** The table's name. */
    readonly name: string,
  ) {}

  get(key: Uint8Array): Buffer | undefined {
    const k = checkKey(key);
    return this.db.readLatest((v) => readGet(v, this.name, k));
  }

  has(key: Uint8Array): boolean {
    const k = checkKey(key);
    return this.db.readLatest((v) => readHas(v, this.name, k));
  }

  /** Entries in key order, read from one snapshot held until the scan ends. */
  range(options?: RangeOptions): IterableIterator<Entry> {
    return this.db.rangeOf(this.name, options);
  }

  count(): number {
    return this.db.readLatest((v) => readCount(v, this.name));
  }

  /** Runs `fn` as one transaction on this table; see {@link Database.write}. */
  write<T>(fn: (table: TxTable) => T): T {
    return this.db.write((tx) => fn(tx.table(this.name)));
  }

  /** Runs `fn` as one transaction on this table; see {@link Database.writeAsync}. */
  writeAsync<T>(fn: (table: TxTable) => T): Promise<T> {
    return this.db.writeAsync((tx) => fn(tx.table(this.name)));
  }
}
