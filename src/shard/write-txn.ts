/**
 * A write transaction: changes applied copy-on-write to a private set of table roots, plus the
 * operation log that becomes the commit's WAL record. Nothing is visible to anyone else until the
 * database commits it; if the callback throws, the private roots are simply dropped.
 */
import { ValidationError, TransactionClosedError, CorruptionError } from '../errors.js';
import { blake3 } from '../blob/blake3.js';
import type { NodeStore } from '../btree/node-store.js';
import { blobHashAt, trimLeaf, valueRefAt, valueTagAt } from '../btree/leaf.js';
import { BlobValue, OutOfLineValue, ValueTag, type LeafNode, type LeafValue, type Node } from '../btree/node.js';
import { childAt } from '../btree/search.js';
import { treeDelete, treePut, type WriteContext } from '../btree/tree-write.js';
import type { BlockRef } from '../pagefile/layout.js';
import { CommitLog, Op, type DecodedOp } from '../wal/commit-payload.js';
import { BLOB_REFS_TABLE, BLOB_TABLE, decodeRefCount, encodeRefCount } from './blob-table.js';
import type { TableState } from './catalog.js';
import { getFromTable, hasInTable, RangeIterator, type Entry } from './tree-read.js';
import { checkKey, checkRange, checkTableName, checkValue, DEFAULT_TABLE, type RangeOptions } from './validate.js';
import { Version } from './version.js';

/** How a transaction shapes what it writes; fixed per database (the leaf size follows compression). */
export interface TxSettings {
  maxNodeSize: number;
  maxLeafSize: number;
  /** Values longer than this go out of line. */
  inlineMax: number;
  /** Values at least this long are deduplicated (Infinity: never). */
  dedupThreshold: number;
}

/** Write access to one table inside a transaction; see {@link WriteTxn.table}. */
export class TxTable {
  private readonly tx: WriteTxn;

  /** @internal `owner` null means this object is the transaction itself (its default table). */
  constructor(
    owner: WriteTxn | null,
    /** The table's name. */
    readonly name: string,
  ) {
    this.tx = owner ?? (this as unknown as WriteTxn);
  }

  /** Sets `key` to `value`, replacing any previous value. */
  put(key: Uint8Array, value: Uint8Array): void {
    this.tx.assertActive();
    this.tx.applyPut(this.name, checkKey(key), checkValue(value));
  }

  /** Removes `key`; returns whether it existed. */
  delete(key: Uint8Array): boolean {
    this.tx.assertActive();
    return this.tx.applyDelete(this.name, checkKey(key));
  }

  /** The value of `key` as this transaction sees it (its own writes included). */
  get(key: Uint8Array): Buffer | undefined {
    this.tx.assertActive();
    return getFromTable(this.tx.tablesView(), this.name, checkKey(key), this.tx.store);
  }

  has(key: Uint8Array): boolean {
    this.tx.assertActive();
    return hasInTable(this.tx.tablesView(), this.name, checkKey(key), this.tx.store);
  }

  /** Entries in key order as this transaction sees them. Do not write to the transaction while iterating. */
  range(options?: RangeOptions): IterableIterator<Entry> {
    this.tx.assertActive();
    const opts = checkRange(options);
    const startedAt = this.tx.modCount;
    return new RangeIterator(this.tx.tablesView(), this.name, this.tx.store, opts, () => {
      this.tx.assertActive();
      if (this.tx.modCount !== startedAt) {
        throw new ValidationError('the transaction changed while a range over it was being read; collect the entries first, then write');
      }
    });
  }

  /** Number of entries. */
  count(): number {
    this.tx.assertActive();
    return this.tx.tablesView().get(this.name)?.count ?? 0;
  }

  /** Removes every entry. */
  clear(): void {
    this.tx.assertActive();
    this.tx.applyClear(this.name);
  }
}

export class WriteTxn extends TxTable implements WriteContext {
  /** @internal */ readonly txn: number;
  /** @internal */ readonly store: NodeStore;
  /** @internal */ readonly maxNodeSize: number;
  /** @internal */ readonly maxLeafSize: number;
  /** @internal Operations for the WAL record; null while replaying the WAL itself. */
  readonly log: CommitLog | null;
  /** @internal Stored blocks this transaction dropped. */
  readonly freed: BlockRef[] = [];
  /** @internal Bumped by every change, so open ranges can notice. */
  modCount = 0;
  private tables: Map<string, TableState>;
  private ownsTables = false;
  private active = true;
  private readonly handles = new Map<string, TxTable>();
  private readonly createdNodes: Node[] = [];
  /** Blob references dropped during a tree edit, released once the edit is complete. */
  private readonly droppedBlobs: Uint8Array[] = [];

  /** @internal */
  constructor(
    private readonly base: Version,
    txn: number,
    private readonly settings: TxSettings,
    /** Buffer to encode the WAL record into; null while replaying the WAL itself. */
    logScratch: Uint8Array | null,
  ) {
    super(null, DEFAULT_TABLE);
    this.txn = txn;
    this.store = base.store;
    this.maxNodeSize = settings.maxNodeSize;
    this.maxLeafSize = settings.maxLeafSize;
    this.log = logScratch ? new CommitLog(logScratch) : null;
    this.tables = base.tables as Map<string, TableState>;
  }

  /** Write access to the named table, created on first write. Names starting with "__" are reserved. */
  table(name: string): TxTable {
    this.assertActive();
    let t = this.handles.get(name);
    if (!t) {
      t = new TxTable(this, checkTableName(name));
      this.handles.set(name, t);
    }
    return t;
  }

  /** Names of the tables that exist as this transaction sees them. */
  tableNames(): string[] {
    this.assertActive();
    return [...this.tables.keys()].filter((n) => !n.startsWith('__')).sort();
  }

  /** Deletes a table and all its entries; returns whether it existed. */
  dropTable(name: string): boolean {
    this.assertActive();
    return this.applyDrop(checkTableName(name));
  }

  /** @internal */
  assertActive(): void {
    if (!this.active) throw new TransactionClosedError();
  }

  /** @internal The tables as this transaction sees them. */
  tablesView(): ReadonlyMap<string, TableState> {
    return this.tables;
  }

  /** @internal */
  get changed(): boolean {
    return this.modCount > 0;
  }

  // WriteContext
  /** @internal */
  freeBlock(ref: BlockRef): void {
    this.freed.push(ref);
  }

  /** @internal */
  releaseValue(leaf: LeafNode, i: number): void {
    const tag = valueTagAt(leaf, i);
    if (tag === ValueTag.OutOfLine) {
      const ref = valueRefAt(leaf, i);
      if (ref) this.freed.push(ref);
    } else if (tag === ValueTag.Blob) {
      // Not released here: that edits the blob tables, and a tree edit is still under way.
      this.droppedBlobs.push(blobHashAt(leaf, i).slice());
    }
  }

  /** @internal */
  created(node: Node): void {
    this.createdNodes.push(node);
  }

  /**
   * @internal Applies a validated put. The tree and the log copy the bytes they keep, so the
   * caller's arrays are never retained (a large value is copied once, to await its checkpoint).
   */
  applyPut(name: string, key: Uint8Array, value: Uint8Array): void {
    if (value.length >= this.settings.dedupThreshold) {
      const hash = blake3(value);
      const known = this.acquireBlob(hash, value);
      this.putValue(name, key, new BlobValue(hash, value.length));
      // A blob the log already carries is named by its hash; a new one travels with its bytes.
      if (known) this.log?.putBlob(name, key, hash, value.length);
      else this.log?.put(name, key, value);
      return;
    }
    this.putValue(name, key, value.length > this.settings.inlineMax ? new OutOfLineValue(value.slice()) : value);
    this.log?.put(name, key, value);
  }

  /** @internal */
  applyDelete(name: string, key: Uint8Array): boolean {
    const t = this.tables.get(name);
    if (!t) return false;
    const r = treeDelete(t.root, key, this);
    if (!r.removed) return false;
    this.setTable(name, r.root, t.count - 1);
    this.releaseDroppedBlobs();
    this.log?.delete(name, key);
    return true;
  }

  /** @internal */
  applyClear(name: string): void {
    const t = this.tables.get(name);
    if (!t || t.count === 0) return;
    this.releaseTree(t.root);
    this.setTable(name, null, 0);
    this.releaseDroppedBlobs();
    this.log?.clear(name);
  }

  /** @internal */
  applyDrop(name: string): boolean {
    const t = this.tables.get(name);
    if (!t) return false;
    this.releaseTree(t.root);
    this.ensureOwnTables();
    this.tables.delete(name);
    this.modCount++;
    this.releaseDroppedBlobs();
    this.log?.drop(name);
    return true;
  }

  /** @internal Replays one operation decoded from the WAL. */
  applyDecoded(op: DecodedOp): void {
    switch (op.op) {
      case Op.Put:
        this.applyPut(op.table, op.key!, op.value!);
        break;
      case Op.PutBlob: {
        const hash = op.value!.slice();
        if (!this.acquireBlob(hash, null)) {
          throw new CorruptionError(this.store.file.path, 0, `a WAL record names blob ${Buffer.from(hash).toString('hex')}, which the blob table does not hold`);
        }
        this.putValue(op.table, op.key!, new BlobValue(hash, op.length));
        this.log?.putBlob(op.table, op.key!, hash, op.length);
        break;
      }
      case Op.Delete:
        this.applyDelete(op.table, op.key!);
        break;
      case Op.Clear:
        this.applyClear(op.table);
        break;
      case Op.Drop:
        this.applyDrop(op.table);
        break;
    }
  }

  /** @internal Ends the transaction and returns the version it built. */
  finish(): Version {
    this.active = false;
    // The nodes become shared and immutable: give back the room kept for in-place edits.
    for (const node of this.createdNodes) if (node.isLeaf) trimLeaf(node);
    this.createdNodes.length = 0;
    return new Version(this.txn, this.tables, this.store);
  }

  /** @internal Ends the transaction without a version. */
  abandon(): void {
    this.active = false;
  }

  private putValue(name: string, key: Uint8Array, stored: LeafValue): void {
    const t = this.tables.get(name);
    const r = treePut(t?.root ?? null, key, stored, this);
    this.setTable(name, r.root, (t?.count ?? 0) + (r.added ? 1 : 0));
    this.releaseDroppedBlobs();
  }

  /**
   * Counts one more reference to blob `hash`, storing `value` under it if it is new. Returns whether
   * the blob was already there (with `value` null, only an existing blob can be referenced).
   */
  private acquireBlob(hash: Uint8Array, value: Uint8Array | null): boolean {
    const count = decodeRefCount(getFromTable(this.tables, BLOB_REFS_TABLE, hash, this.store));
    if (count === 0) {
      if (!value) return false;
      this.putInternal(BLOB_TABLE, hash, value.length > this.settings.inlineMax ? new OutOfLineValue(value.slice()) : value);
    }
    this.putInternal(BLOB_REFS_TABLE, hash, encodeRefCount(count + 1));
    return count > 0;
  }

  /** Drops the references collected during the last tree edit; a blob nobody names is deleted. */
  private releaseDroppedBlobs(): void {
    while (this.droppedBlobs.length > 0) {
      const hash = this.droppedBlobs.pop()!;
      const count = decodeRefCount(getFromTable(this.tables, BLOB_REFS_TABLE, hash, this.store));
      if (count > 1) {
        this.putInternal(BLOB_REFS_TABLE, hash, encodeRefCount(count - 1));
      } else {
        this.deleteInternal(BLOB_REFS_TABLE, hash);
        this.deleteInternal(BLOB_TABLE, hash);
      }
    }
  }

  /** A write to an engine table: not logged, because replaying the logged operation redoes it. */
  private putInternal(name: string, key: Uint8Array, value: LeafValue): void {
    const t = this.tables.get(name);
    const r = treePut(t?.root ?? null, key, value, this);
    this.setTable(name, r.root, (t?.count ?? 0) + (r.added ? 1 : 0));
  }

  private deleteInternal(name: string, key: Uint8Array): void {
    const t = this.tables.get(name);
    if (!t) return;
    const r = treeDelete(t.root, key, this);
    if (r.removed) this.setTable(name, r.root, t.count - 1);
  }

  private ensureOwnTables(): void {
    if (!this.ownsTables) {
      this.tables = new Map(this.base.tables);
      this.ownsTables = true;
    }
  }

  private setTable(name: string, root: Node | null, count: number): void {
    this.ensureOwnTables();
    this.tables.set(name, { name, root, count });
    this.modCount++;
  }

  /** Frees every stored block of a tree (nodes and out-of-line values) and drops its blob references. */
  private releaseTree(root: Node | null): void {
    if (!root) return;
    const stack: Node[] = [root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.ref) this.freed.push(node.ref);
      if (node.isLeaf) {
        for (let i = 0; i < node.count; i++) this.releaseValue(node, i);
      } else {
        for (let i = 0; i < node.kids.length; i++) stack.push(childAt(node, i, this.store));
      }
    }
  }
}
