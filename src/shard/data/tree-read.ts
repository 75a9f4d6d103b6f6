/**
 * Point and range reads over one table of one version: its memtable (commits since the last fold)
 * over its tree. Returned keys and values are copies: callers may keep or change them without
 * touching cached nodes or the memtable. Empty values are one shared zero-length Buffer, which
 * holds no byte to change: index-style tables (keys only) then cost no allocation per value.
 *
 * The one exception is a range scan opened in view mode (internal callers only, never user code):
 * it returns views of the bytes where they are held (a decoded leaf, an out-of-line value block just
 * read, a blob, the memtable's log) and one reused entry object. Lifetime: the views and the entry
 * are valid until the next step of that scan (next() or return()), and must not be written to. A
 * decoded node is an in-memory object that a writer never edits while a snapshot can reach it, and
 * the scan's snapshot stays open until the scan ends, so the bytes cannot change before that step;
 * whoever keeps a key or value past it copies it first.
 */
import { TreeCursor, beyondBound } from '../../btree/cursor.js';
import { keyAt, leafSearch, valueLengthAt, valueTagAt } from '../../btree/leaf.js';
import type { NodeStore } from '../../btree/node-store.js';
import { BlobValue, OutOfLineValue, ValueTag, type LeafNode, type LeafValue, type Node } from '../../btree/node.js';
import { findLeaf } from '../../btree/search.js';
import { compareBytes } from '../../util/bytes.js';
import { blobBytes, valueOf } from './blob-table.js';
import type { TableState } from './catalog.js';
import type { MemCursor } from './memtable.js';
import type { RangeOptions } from '../validate.js';

/** One key and its value, as returned by range scans. Both are fresh copies. */
export interface Entry {
  key: Buffer;
  value: Buffer;
}

/** Tables of the version being read, to resolve deduplicated values. */
type Tables = ReadonlyMap<string, TableState>;

/** What a read needs of a version: its txn (which memtable entries it sees), tables and store. */
export interface ReadView {
  readonly txn: number;
  readonly tables: Tables;
  readonly store: NodeStore;
}

/** The default check and end hooks: one function, not a (named, under tsx) closure per scan. */
function nothing(): void {}

/** Every empty value read: zero bytes, so nothing a caller could change in it. */
const EMPTY = Buffer.alloc(0);

/** What an ended scan points at instead of its version (it never reads again): no tables, no store. */
const RELEASED: ReadView = { txn: -1, tables: new Map(), store: null as unknown as NodeStore };

/** A Buffer copy the caller owns. allocUnsafe then set skips Buffer.from's array-like dispatch: a fifth off a 128-byte copy. */
function bufferCopy(bytes: Uint8Array): Buffer {
  if (bytes.length === 0) return EMPTY;
  const copy = Buffer.allocUnsafe(bytes.length);
  copy.set(bytes);
  return copy;
}

/** A Buffer copy of entry i's value, which the caller owns. */
function valueCopy(leaf: LeafNode, i: number, store: NodeStore, tables: Tables): Buffer {
  // An empty inline value needs no view of the leaf either.
  if (valueTagAt(leaf, i) === ValueTag.Inline && valueLengthAt(leaf, i) === 0) return EMPTY;
  return bufferCopy(valueOf(leaf, i, store, tables));
}

/** The bytes of a value held in a memtable (a view: copy before handing out). */
function memValueBytes(value: LeafValue, view: ReadView): Uint8Array {
  if (value instanceof OutOfLineValue) return value.data;
  if (value instanceof BlobValue) return blobBytes(value.hash, view.store, view.tables);
  return value;
}

/** The value of `key` in a table as `view` sees it, or undefined. */
export function readGet(view: ReadView, table: string, key: Uint8Array): Buffer | undefined {
  const t = view.tables.get(table);
  if (!t) return undefined;
  const v = t.mem ? t.mem.find(key, view.txn) : undefined;
  if (v !== undefined) return v === null ? undefined : bufferCopy(memValueBytes(v, view));
  if (!t.root) return undefined;
  const leaf = findLeaf(t.root, key, view.store);
  const i = leafSearch(leaf, key);
  return i < 0 ? undefined : valueCopy(leaf, i, view.store, view.tables);
}

/**
 * readGet in view mode (internal callers only, see the file header): the value's bytes where they
 * are held, no copy. Valid only until the caller's next call into the database, read-only: for a
 * caller that reads the value at once (the audit store parses an event it looked up by key).
 */
export function readGetView(view: ReadView, table: string, key: Uint8Array): Uint8Array | undefined {
  const t = view.tables.get(table);
  if (!t) return undefined;
  const v = t.mem ? t.mem.find(key, view.txn) : undefined;
  if (v !== undefined) return v === null ? undefined : memValueBytes(v, view);
  if (!t.root) return undefined;
  const leaf = findLeaf(t.root, key, view.store);
  const i = leafSearch(leaf, key);
  return i < 0 ? undefined : valueOf(leaf, i, view.store, view.tables);
}

/** Whether a table as `view` sees it holds `key`. */
export function readHas(view: ReadView, table: string, key: Uint8Array): boolean {
  const t = view.tables.get(table);
  if (!t) return false;
  const v = t.mem ? t.mem.find(key, view.txn) : undefined;
  if (v !== undefined) return v !== null;
  return treeHas(t.root, key, view.store);
}

/** Entries in a table as `view` sees it. */
export function readCount(view: ReadView, table: string): number {
  const t = view.tables.get(table);
  if (!t) return 0;
  return t.count + (t.mem ? t.mem.countDelta(view.txn) : 0);
}

/** The value of `key` in the tree of table `table` (memtable aside: for internal tables), or undefined. */
export function getFromTable(tables: Tables, table: string, key: Uint8Array, store: NodeStore): Buffer | undefined {
  const root = tables.get(table)?.root;
  if (!root) return undefined;
  const leaf = findLeaf(root, key, store);
  const i = leafSearch(leaf, key);
  return i < 0 ? undefined : valueCopy(leaf, i, store, tables);
}

/** Whether the tree of table `table` holds `key` (memtable aside). */
export function hasInTable(tables: Tables, table: string, key: Uint8Array, store: NodeStore): boolean {
  return treeHas(tables.get(table)?.root ?? null, key, store);
}

/** Whether the tree at `root` holds `key`. */
export function treeHas(root: Node | null, key: Uint8Array, store: NodeStore): boolean {
  return root !== null && leafSearch(findLeaf(root, key, store), key) >= 0;
}

/**
 * Lazy range scan over a table's memtable and tree together: where both hold a key, the memtable's
 * (newer) version wins, and a deletion there hides the tree's entry. `check` runs before every step
 * and throws if the scan may no longer continue (snapshot closed, transaction changed); `onEnd` runs
 * once when the scan ends for any reason.
 */
export class RangeIterator implements IterableIterator<Entry> {
  private readonly cursor: TreeCursor;
  private mem: MemCursor | null;
  private started = false;
  private done = false;
  private remaining: number;
  /** The tree cursor is on an entry not yet returned. */
  private treeOn = false;
  /** The memtable cursor is on a key not yet returned. */
  private memOn = false;
  private readonly reverse: boolean;
  /** View mode: the entry handed out each step, its key and value views of the stored bytes. */
  private readonly shared: { key: Buffer; value: Buffer } | null;

  constructor(
    private view: ReadView,
    table: string,
    private readonly opts: RangeOptions,
    private readonly check: () => void = nothing,
    private readonly onEnd: () => void = nothing,
    /** Return views valid until the next step instead of copies (see the file header). */
    views = false,
  ) {
    this.shared = views ? { key: EMPTY, value: EMPTY } : null;
    const t = view.tables.get(table);
    this.reverse = opts.reverse === true;
    this.cursor = new TreeCursor(t?.root ?? null, view.store);
    this.mem = t?.mem && t.mem.size > 0 ? t.mem.cursor(view.txn, this.reverse) : null;
    this.remaining = opts.limit ?? Infinity;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<Entry> {
    const e = this.step();
    return e === null ? { done: true, value: undefined } : { done: false, value: e };
  }

  /**
   * The next entry, or null once the scan has ended: next() without its result object, for the
   * engine's own scans (a time-window query steps about fifteen times).
   */
  step(): Entry | null {
    if (this.done) return null;
    try {
      this.check();
      if (this.remaining <= 0) return this.end();
      if (!this.started) this.start();
      for (;;) {
        const treeKey = this.treeOn ? keyAt(this.cursor.leafNode, this.cursor.leafIndex) : null;
        const m = this.memOn ? this.mem! : null;
        if (treeKey === null && m === null) return this.end();
        const c = treeKey !== null && m !== null ? compareBytes(treeKey, m.key) * (this.reverse ? -1 : 1) : treeKey !== null ? -1 : 1;
        if (c < 0) {
          if (beyondBound(treeKey!, this.opts, this.reverse)) return this.end();
          if (this.shared !== null) return this.viewOfTree(treeKey!);
          const key = bufferCopy(treeKey!);
          const value = valueCopy(this.cursor.leafNode, this.cursor.leafIndex, this.view.store, this.view.tables);
          this.stepTree();
          this.remaining--;
          return { key, value };
        }
        if (c === 0) this.stepTree();
        const memKey = m!.key;
        const value = m!.value;
        this.memOn = m!.next();
        if (beyondBound(memKey, this.opts, this.reverse)) return this.end();
        if (value === null) continue;
        this.remaining--;
        if (this.shared !== null) return this.viewEntry(memKey, memValueBytes(value, this.view));
        return { key: bufferCopy(memKey), value: bufferCopy(memValueBytes(value, this.view)) };
      }
    } catch (err) {
      this.end();
      throw err;
    }
  }

  return(): IteratorResult<Entry> {
    this.end();
    return { done: true, value: undefined };
  }

  /** View mode: the tree cursor's entry as views, then a step of the cursor (leaves stay alive). */
  private viewOfTree(key: Uint8Array): Entry {
    const leaf = this.cursor.leafNode;
    const i = this.cursor.leafIndex;
    const value = valueTagAt(leaf, i) === ValueTag.Inline && valueLengthAt(leaf, i) === 0 ? EMPTY : valueOf(leaf, i, this.view.store, this.view.tables);
    this.stepTree();
    this.remaining--;
    return this.viewEntry(key, value);
  }

  private viewEntry(key: Uint8Array, value: Uint8Array): Entry {
    const e = this.shared!;
    // Views typed as Buffer for the shared Entry shape; callers in view mode only read them.
    e.key = key as Buffer;
    e.value = value as Buffer;
    return e;
  }

  private start(): void {
    this.started = true;
    const o = this.opts;
    const from = this.reverse ? (o.lte ?? o.lt ?? null) : (o.gte ?? o.gt ?? null);
    const exclusive = this.reverse ? o.lt !== undefined : o.gt !== undefined;
    this.treeOn = this.reverse ? this.cursor.seekBackward(from, exclusive) : this.cursor.seekForward(from, exclusive);
    this.memOn = this.mem ? this.mem.seek(from, exclusive) : false;
  }

  private stepTree(): void {
    this.treeOn = this.reverse ? this.cursor.prev() : this.cursor.next();
  }

  /**
   * Ends the scan and lets go of what it read: the version (its trees and memtables), the cursor's
   * path and the views handed out, so that an ended scan someone still holds pins none of them.
   */
  private end(): null {
    if (!this.done) {
      this.done = true;
      this.cursor.release();
      this.mem = null;
      this.view = RELEASED;
      if (this.shared !== null) this.shared.key = this.shared.value = EMPTY;
      this.onEnd();
    }
    return null;
  }
}
