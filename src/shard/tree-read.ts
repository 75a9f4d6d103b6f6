/**
 * Point and range reads over one table of one version. Returned keys and values are copies: callers
 * may keep or change them without touching cached nodes.
 */
import { TreeCursor, beyondBound } from '../btree/cursor.js';
import { keyAt, leafSearch } from '../btree/leaf.js';
import type { NodeStore } from '../btree/node-store.js';
import type { LeafNode } from '../btree/node.js';
import { findLeaf } from '../btree/search.js';
import { valueOf } from './blob-table.js';
import type { TableState } from './catalog.js';
import type { RangeOptions } from './validate.js';

/** One key and its value, as returned by range scans. Both are fresh copies. */
export interface Entry {
  key: Buffer;
  value: Buffer;
}

/** Tables of the version being read, to resolve deduplicated values. */
type Tables = ReadonlyMap<string, TableState>;

/** A Buffer copy the caller owns. allocUnsafe then set skips Buffer.from's array-like dispatch: a fifth off a 128-byte copy. */
function bufferCopy(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafe(bytes.length);
  copy.set(bytes);
  return copy;
}

/** A Buffer copy of entry i's value, which the caller owns. */
function valueCopy(leaf: LeafNode, i: number, store: NodeStore, tables: Tables): Buffer {
  return bufferCopy(valueOf(leaf, i, store, tables));
}

/** The value of `key` in table `table` of the given tables, or undefined. */
export function getFromTable(tables: Tables, table: string, key: Uint8Array, store: NodeStore): Buffer | undefined {
  const root = tables.get(table)?.root;
  if (!root) return undefined;
  const leaf = findLeaf(root, key, store);
  const i = leafSearch(leaf, key);
  return i < 0 ? undefined : valueCopy(leaf, i, store, tables);
}

export function hasInTable(tables: Tables, table: string, key: Uint8Array, store: NodeStore): boolean {
  const root = tables.get(table)?.root;
  if (!root) return false;
  return leafSearch(findLeaf(root, key, store), key) >= 0;
}

/**
 * Lazy range scan. `check` runs before every step and throws if the scan may no longer continue
 * (snapshot closed, transaction changed); `onEnd` runs once when the scan ends for any reason.
 */
export class RangeIterator implements IterableIterator<Entry> {
  private readonly cursor: TreeCursor;
  private started = false;
  private done = false;
  private remaining: number;

  constructor(
    private readonly tables: Tables,
    table: string,
    private readonly store: NodeStore,
    private readonly opts: RangeOptions,
    private readonly check: () => void = () => {},
    private readonly onEnd: () => void = () => {},
  ) {
    this.cursor = new TreeCursor(tables.get(table)?.root ?? null, store);
    this.remaining = opts.limit ?? Infinity;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<Entry> {
    if (this.done) return { done: true, value: undefined };
    try {
      this.check();
      if (this.remaining <= 0 || !this.advance()) return this.end();
      const leaf = this.cursor.leafNode;
      const i = this.cursor.leafIndex;
      const key = bufferCopy(keyAt(leaf, i));
      if (beyondBound(key, this.opts, this.opts.reverse === true)) return this.end();
      this.remaining--;
      return { done: false, value: { key, value: valueCopy(leaf, i, this.store, this.tables) } };
    } catch (err) {
      this.end();
      throw err;
    }
  }

  return(): IteratorResult<Entry> {
    return this.end();
  }

  private advance(): boolean {
    const o = this.opts;
    const reverse = o.reverse === true;
    if (this.started) return reverse ? this.cursor.prev() : this.cursor.next();
    this.started = true;
    if (!reverse) return this.cursor.seekForward(o.gte ?? o.gt ?? null, o.gt !== undefined);
    return this.cursor.seekBackward(o.lte ?? o.lt ?? null, o.lt !== undefined);
  }

  private end(): IteratorResult<Entry> {
    if (!this.done) {
      this.done = true;
      this.onEnd();
    }
    return { done: true, value: undefined };
  }
}
