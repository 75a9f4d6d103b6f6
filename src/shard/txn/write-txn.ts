/**
 * A write transaction. While its callback runs, changes are only recorded: in a WriteBuffer (what
 * each key becomes) and in the commit log (the WAL record). Reads inside the transaction see the
 * buffer over the base version. Once the database has written the WAL record, `merge` applies the
 * buffer and returns the new version: user tables' writes go to their memtables (memtable.ts), the
 * internal blob tables' into their trees in key order. So an aborted transaction, or one whose WAL
 * write fails, has touched nothing, and a tree merge may change nodes in place when no reader can see
 * them (see tree-write.ts), instead of copying every node it touches. `fold` moves the memtables into
 * the trees, for a checkpoint.
 *
 * Deduplicated values: the transaction tracks, per blob hash, the change in references it makes and
 * the bytes of blobs it introduces; the merge applies them to the blob tables after the user tables.
 */
import { ValidationError, TransactionClosedError, CorruptionError } from '../../errors.js';
import { blake3 } from '../../blob/blake3.js';
import type { NodeStore } from '../../btree/node-store.js';
import { blobHashAt, LeafPacker, trimLeaf, valueRefAt, valueTagAt } from '../../btree/leaf.js';
import { BlobValue, OutOfLineValue, ValueTag, type LeafNode, type LeafValue, type Node } from '../../btree/node.js';
import { childAt } from '../../btree/search.js';
import { mergeSortedWrites, type SortedWrites } from '../../btree/sorted-merge.js';
import { treeDelete, treePut } from '../../btree/tree-write.js';
import { ExtentList } from '../../pagefile/extent-list.js';
import type { BlockRef } from '../../pagefile/layout.js';
import { compareBytes, copyBytes } from '../../util/bytes.js';
import { CommitLog, Op, type BlobRelease, type DecodedOp } from '../../wal/commit-payload.js';
import { BLOB_REFS_TABLE, BLOB_TABLE, decodeRefCount, encodeRefCount } from '../data/blob-table.js';
import type { TableState } from '../data/catalog.js';
import { MemTable, type MemValue } from '../data/memtable.js';
import { getFromTable, hasInTable, RangeIterator, readCount, readGet, readHas, treeHas, type Entry } from '../data/tree-read.js';
import { checkKey, checkRange, checkTableName, checkValue, DEFAULT_TABLE, type RangeOptions, isReservedTableName } from '../validate.js';
import { Version } from '../data/version.js';
import { keyString, WriteBuffer, type BufferedEntry } from './write-buffer.js';

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

  /**
   * Removes `key` if it exists, without finding out whether it did: unlike {@link delete}, this reads
   * nothing, so deleting many keys costs little more than writing them. A key that was absent stays
   * absent.
   */
  remove(key: Uint8Array): void {
    this.tx.assertActive();
    this.tx.applyRemove(this.name, checkKey(key));
  }

  /** The value of `key` as this transaction sees it (its own writes included). */
  get(key: Uint8Array): Buffer | undefined {
    this.tx.assertActive();
    return this.tx.lookup(this.name, checkKey(key));
  }

  has(key: Uint8Array): boolean {
    this.tx.assertActive();
    return this.tx.exists(this.name, checkKey(key));
  }

  /** Entries in key order as this transaction sees them. Do not write to the transaction while iterating. */
  range(options?: RangeOptions): IterableIterator<Entry> {
    this.tx.assertActive();
    return this.tx.rangeOf(this.name, checkRange(options));
  }

  /** Number of entries. */
  count(): number {
    this.tx.assertActive();
    return this.tx.countOf(this.name);
  }

  /** Removes every entry. */
  clear(): void {
    this.tx.assertActive();
    this.tx.applyClear(this.name);
  }
}

// WriteTxn is the btree's WriteContext (see the members after "// WriteContext"), checked where it is
// passed to treePut/treeDelete. It does not say `implements WriteContext`: those members are
// stripped from the published .d.ts (stripInternal), and the clause would then not hold there.
export class WriteTxn extends TxTable {
  /** @internal */ readonly txn: number;
  /** @internal */ readonly store: NodeStore;
  /** @internal */ readonly maxNodeSize: number;
  /** @internal */ readonly maxLeafSize: number;
  /** The packer every slice of a sliced fold builds its leaves with (see mergeSortedWrites). */
  private slicePacker: LeafPacker | null = null;
  /** @internal Set by merge(): nodes above it that no reader sees may be changed in place. */
  mutableAfter = Infinity;
  /** @internal Operations for the WAL record; null while replaying the WAL itself. */
  readonly log: CommitLog | null;
  /** @internal Writes that a later write of the same key in this transaction replaced (counted by merge). */
  supersededWrites = 0;
  /** @internal Stored blocks the merge dropped. */
  readonly freed = new ExtentList();
  /** @internal Bumped by every change, so open ranges can notice. */
  modCount = 0;
  private active = true;
  private readonly buffer = new WriteBuffer();
  private readonly handles = new Map<string, TxTable>();
  private readonly createdNodes: Node[] = [];
  /** Bytes of blobs this transaction introduces, by hash string. */
  private readonly blobBytes = new Map<string, Uint8Array>();
  /** Change in references per blob, by hash string. */
  private readonly blobDelta = new Map<string, { hash: Uint8Array; delta: number }>();

  /** @internal */
  constructor(
    private readonly base: Version,
    txn: number,
    private readonly settings: TxSettings,
    /** Arena to encode the WAL record into, from `logStart` on; null while replaying the WAL itself. */
    logArena: Uint8Array | null,
    logStart = 0,
    /** How large the last transaction's log was (to size the arena's next buffer). */
    logSizeHint = 0,
    /** Whether the log's next buffer is retained memory (see CommitLog). */
    logRetained = false,
  ) {
    super(null, DEFAULT_TABLE);
    this.txn = txn;
    this.store = base.store;
    this.maxNodeSize = settings.maxNodeSize;
    this.maxLeafSize = settings.maxLeafSize;
    this.log = logArena ? new CommitLog(logArena, logStart, logSizeHint, logRetained) : null;
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
    const names = new Set([...this.base.tables.keys()]);
    for (const [name, tb] of this.buffer.tables) {
      if (tb.dropped) names.delete(name);
      else if (tb.wrote) names.add(name);
    }
    return [...names].filter((n) => !isReservedTableName(n)).sort();
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

  /** @internal */
  get changed(): boolean {
    return this.modCount > 0;
  }

  // ---- reads inside the transaction: the buffer over the base version ----

  /** @internal */
  lookup(table: string, key: Uint8Array): Buffer | undefined {
    const tb = this.buffer.tables.get(table);
    const e = tb?.get(key);
    if (e) return e.value === null ? undefined : this.bufferedBytes(e.value);
    if (tb?.cleared) return undefined;
    return readGet(this.base, table, key);
  }

  /** @internal */
  exists(table: string, key: Uint8Array): boolean {
    const tb = this.buffer.tables.get(table);
    const e = tb?.get(key);
    if (e) return e.value !== null;
    if (tb?.cleared) return false;
    return readHas(this.base, table, key);
  }

  /** @internal */
  countOf(table: string): number {
    const tb = this.buffer.tables.get(table);
    const base = readCount(this.base, table);
    if (!tb) return base;
    let n = tb.cleared ? 0 : base;
    for (const e of tb.latest()) {
      const inBase = !tb.cleared && readHas(this.base, table, e.key);
      if (e.value !== null && !inBase) n++;
      else if (e.value === null && inBase) n--;
    }
    return n;
  }

  /** @internal The buffer's entries merged over the base tree's, in key order. */
  rangeOf(table: string, opts: RangeOptions): IterableIterator<Entry> {
    const startedAt = this.modCount;
    const check = (): void => {
      this.assertActive();
      if (this.modCount !== startedAt) {
        throw new ValidationError('the transaction changed while a range over it was being read; collect the entries first, then write');
      }
    };
    const tb = this.buffer.tables.get(table);
    const tree = tb?.cleared ? null : new RangeIterator(this.base, table, { ...opts, limit: undefined }, check);
    const buffered = (tb?.inOrder().entries ?? []).filter((e) => inBounds(e.key, opts));
    return mergeRanges(tree, opts.reverse ? [...buffered].reverse() : buffered, opts, check, (v) => this.bufferedBytes(v));
  }

  private bufferedBytes(v: LeafValue): Buffer {
    if (v instanceof OutOfLineValue) return Buffer.from(v.data);
    if (v instanceof BlobValue) {
      const bytes = this.blobBytes.get(keyString(v.hash)) ?? getFromTable(this.base.tables, BLOB_TABLE, v.hash, this.store);
      if (!bytes) throw new CorruptionError(this.store.file.path, 0, `blob ${Buffer.from(v.hash).toString('hex')} is missing from the blob table`);
      return Buffer.from(bytes);
    }
    return Buffer.from(v);
  }

  // ---- writes: recorded, not applied ----

  /**
   * @internal Records a validated put. The log copies the bytes once; the buffer records where they
   * are in the log (a large value is copied again, to await its checkpoint).
   */
  applyPut(name: string, key: Uint8Array, value: Uint8Array): void {
    const tb = this.buffer.table(name);
    const log = this.log;
    if (value.length >= this.settings.dedupThreshold) {
      const hash = blake3(value);
      const hs = keyString(hash);
      const known = this.blobBytes.has(hs) || hasInTable(this.base.tables, BLOB_TABLE, hash, this.store);
      if (!known) this.blobBytes.set(hs, copyBytes(value));
      this.bumpBlob(hash, 1);
      const stored = new BlobValue(hash, value.length, known ? 0 : value.length);
      // A blob the log already carries (or the store already holds) is named by its hash.
      if (log) {
        // The arena is read after logging: logging may have moved it to a new buffer.
        const k = known ? log.putBlob(name, key, hash, value.length) : log.put(name, key, value);
        tb.setAt(log.arena, k, key.length, 0, 0, stored);
      } else {
        tb.set(key, stored);
      }
    } else {
      const stored = value.length > this.settings.inlineMax ? new OutOfLineValue(copyBytes(value)) : undefined;
      if (log) {
        const k = log.put(name, key, value);
        tb.setAt(log.arena, k, key.length, log.loggedValueAt, value.length, stored);
      } else {
        tb.set(key, stored ?? value);
      }
    }
    this.modCount++;
  }

  /** @internal */
  applyDelete(name: string, key: Uint8Array): boolean {
    if (!this.exists(name, key)) return false;
    this.bufferDelete(name, key);
    return true;
  }

  /** @internal Records a deletion without looking the key up. */
  applyRemove(name: string, key: Uint8Array): void {
    this.bufferDelete(name, key);
  }

  private bufferDelete(name: string, key: Uint8Array): void {
    const tb = this.buffer.table(name);
    const log = this.log;
    if (log) {
      const k = log.delete(name, key);
      tb.setAt(log.arena, k, key.length, 0, 0, null);
    } else {
      tb.set(key, null);
    }
    this.modCount++;
  }

  /** @internal */
  applyClear(name: string): void {
    if (this.countOf(name) === 0) return;
    for (const v of this.buffer.table(name).reset(false)) this.dropValue(v);
    this.log?.clear(name);
    this.modCount++;
  }

  /** @internal */
  applyDrop(name: string): boolean {
    const tb = this.buffer.tables.get(name);
    const existed = tb ? !tb.dropped && (tb.wrote || this.base.tables.has(name)) : this.base.tables.has(name);
    if (!existed) return false;
    for (const v of this.buffer.table(name).reset(true)) this.dropValue(v);
    this.log?.drop(name);
    this.modCount++;
    return true;
  }

  /** @internal Replays one operation decoded from the WAL. */
  applyDecoded(op: DecodedOp): void {
    switch (op.op) {
      case Op.Put:
        this.applyPut(op.table, op.key!, op.value!);
        break;
      case Op.PutBlob: {
        const hash = copyBytes(op.value!);
        if (!this.blobBytes.has(keyString(hash)) && !hasInTable(this.base.tables, BLOB_TABLE, hash, this.store)) {
          throw new CorruptionError(this.store.file.path, 0, `a WAL record names blob ${Buffer.from(hash).toString('hex')}, which the blob table does not hold`);
        }
        this.bumpBlob(hash, 1);
        const tb = this.buffer.table(op.table);
        const stored = new BlobValue(hash, op.length);
        if (this.log) {
          const k = this.log.putBlob(op.table, op.key!, hash, op.length);
          tb.setAt(this.log.arena, k, op.key!.length, 0, 0, stored);
        } else {
          tb.set(op.key!, stored);
        }
        this.modCount++;
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
      case Op.FoldReleases:
        // Only replay knows whether the record's checkpoint is the one it starts from; it calls
        // applyFoldReleases itself then. Anywhere else (repair rebuilds every count through its
        // own writes) the record changes nothing.
        break;
    }
  }

  /** @internal Replay of a fold's released blob references (WAL op 7) over the checkpoint they belong to. */
  applyFoldReleases(releases: readonly BlobRelease[]): void {
    for (const r of releases) this.bumpBlob(copyBytes(r.hash), -r.count);
  }

  /**
   * @internal The blob references a sliced fold dropped and has not applied yet (see
   * applyFoldBlobDeltas), in hash order. A fold only ever drops references.
   */
  foldReleases(): BlobRelease[] {
    const out: BlobRelease[] = [];
    for (const { hash, delta } of this.blobDelta.values()) {
      if (delta > 0) throw new Error('internal: a fold added a blob reference');
      if (delta < 0) out.push({ hash, count: -delta });
    }
    return out.sort((a, b) => compareBytes(a.hash, b.hash));
  }

  /** @internal Closes the transaction to its callback's code; the merge still follows. */
  close(): void {
    this.active = false;
  }

  /**
   * @internal Applies the buffer to the base version and returns the new version. User tables'
   * writes go to their memtables; internal tables (the blob tables) are merged into their trees, where
   * nodes no reader can see (dirty, with a txn above `mutableAfter`) are changed in place and others
   * are copied.
   */
  merge(mutableAfter: number): Version {
    this.active = false;
    this.mutableAfter = mutableAfter;
    const tables = new Map(this.base.tables);
    for (const [name, tb] of this.buffer.tables) {
      const t = tables.get(name);
      let root = t?.root ?? null;
      let count = t?.count ?? 0;
      let mem = t?.mem ?? null;
      if (tb.cleared) {
        this.releaseTree(root);
        if (mem) this.releaseMem(mem);
        root = null;
        count = 0;
        mem = null;
      }
      if (tb.dropped) {
        tables.delete(name);
        continue;
      }
      if (!t && !tb.wrote) continue;
      if (isReservedTableName(name)) {
        const { entries, superseded } = tb.inOrder();
        for (const e of superseded) this.dropValue(e.value);
        for (const e of entries) [root, count] = this.applyToTree(root, count, e.key, e.value);
      } else if (tb.size > 0) {
        if (!mem) mem = memTableOver(root, this.store);
        // The memtable sorts the commit's writes into a run of its own, keeping each key's last write.
        mem.add(this.txn, tb.written(), (v) => {
          this.supersededWrites++;
          this.dropValue(v);
        });
      }
      tables.set(name, { name, root, count, mem });
    }
    this.applyBlobDeltas(tables);
    this.trimCreated();
    return new Version(this.txn, tables, this.store);
  }

  /**
   * @internal Folds every memtable of the base version into its tree and returns a version with the
   * same contents and no memtable. A checkpoint does this before storing the trees. The transaction's
   * txn must be a fold id (negative, unique): nodes it creates then count as visible to every
   * reader, like stored ones, and are never mistaken for a commit's own nodes.
   */
  fold(mutableAfter: number): Version {
    this.active = false;
    this.mutableAfter = mutableAfter;
    const tables = new Map(this.base.tables);
    for (const t of this.base.tables.values()) {
      if (!t.mem) continue;
      let root = t.root;
      let count = t.count;
      // Every version is at or below the base's txn: the newest reaches the tree, the rest never will.
      const { newest, superseded } = t.mem.newest();
      for (const v of superseded) this.dropValue(v);
      // In one pass, each leaf rebuilt once (see sorted-merge.ts), rather than key by key.
      const r = mergeSortedWrites(root, newest, this);
      root = r.root;
      count += r.delta;
      tables.set(t.name, { name: t.name, root, count, mem: null });
    }
    this.applyBlobDeltas(tables);
    this.trimCreated();
    return new Version(this.base.txn, tables, this.store);
  }

  /**
   * @internal A fold done a slice at a time, for a checkpoint that runs between commits (see
   * durability/checkpoint.ts): the transaction becomes the context the slices merge with. Nodes of
   * versions up to `mutableAfter` are copied, never changed in place. The txn must be a fold id, as
   * for {@link fold}.
   */
  beginSlicedFold(mutableAfter: number): void {
    this.active = false;
    this.mutableAfter = mutableAfter;
  }

  /** @internal Merges one slice of a memtable's newest versions into `root`. */
  foldSlice(root: Node | null, writes: SortedWrites): { root: Node | null; delta: number } {
    this.slicePacker ??= new LeafPacker(this.maxLeafSize, this.txn);
    return mergeSortedWrites(root, writes, this, this.slicePacker);
  }

  /** @internal A memtable version that never reaches the tree gives back its blob reference. */
  supersede(value: LeafValue): void {
    this.dropValue(value);
  }

  /**
   * @internal Applies the blob reference changes the sliced fold made to `tables` (a version's
   * tables, copied), and returns the stored blocks that dropped out of them: the checkpoint lists
   * them free and frees them once it is installed.
   */
  applyFoldBlobDeltas(tables: Map<string, TableState>, mutableAfter: number): ExtentList {
    this.mutableAfter = mutableAfter;
    const mark = this.freed.length;
    this.applyBlobDeltas(tables);
    return this.freed.splice(mark);
  }

  /** @internal The nodes the sliced fold built become shared and immutable. */
  endSlicedFold(): void {
    this.trimCreated();
  }

  private applyToTree(root: Node | null, count: number, key: Uint8Array, value: MemValue): [Node | null, number] {
    if (value === null) {
      const r = treeDelete(root, key, this);
      return [r.root, r.removed ? count - 1 : count];
    }
    const r = treePut(root, key, value, this);
    return [r.root, r.added ? count + 1 : count];
  }

  /** The nodes become shared and immutable: give back the room kept for in-place edits. */
  private trimCreated(): void {
    for (const node of this.createdNodes) if (node.isLeaf) trimLeaf(node);
    this.createdNodes.length = 0;
  }

  // WriteContext
  /** @internal */
  freeBlock(ref: BlockRef): void {
    this.freed.push(ref.offset, ref.length);
  }

  /** @internal */
  releaseValue(leaf: LeafNode, i: number): void {
    const tag = valueTagAt(leaf, i);
    if (tag === ValueTag.OutOfLine) {
      const ref = valueRefAt(leaf, i);
      if (ref) this.freed.push(ref.offset, ref.length);
    } else if (tag === ValueTag.Blob) {
      this.bumpBlob(copyBytes(blobHashAt(leaf, i)), -1);
    }
  }

  /** @internal */
  created(node: Node): void {
    this.createdNodes.push(node);
  }

  /** A written value will never reach the tree (superseded, or cleared away): give back its blob reference. */
  private dropValue(value: MemValue): void {
    if (value instanceof BlobValue) this.bumpBlob(value.hash, -1);
  }

  /** A memtable is cleared away: every value it holds gives back its blob reference. */
  private releaseMem(mem: MemTable): void {
    for (const v of mem.valueObjects()) this.dropValue(v);
  }

  private bumpBlob(hash: Uint8Array, by: number): void {
    const hs = keyString(hash);
    const d = this.blobDelta.get(hs);
    if (d) d.delta += by;
    else this.blobDelta.set(hs, { hash, delta: by });
  }

  /** Brings the blob tables in line with the references the merge added and removed. */
  private applyBlobDeltas(tables: Map<string, TableState>): void {
    if (this.blobDelta.size === 0) return;
    const changes = [...this.blobDelta.values()].filter((d) => d.delta !== 0).sort((a, b) => compareBytes(a.hash, b.hash));
    for (const { hash, delta } of changes) {
      const count = decodeRefCount(getFromTable(tables, BLOB_REFS_TABLE, hash, this.store)) + delta;
      if (count > 0) {
        if (count === delta) {
          const bytes = this.blobBytes.get(keyString(hash));
          if (!bytes) throw new CorruptionError(this.store.file.path, 0, `blob ${Buffer.from(hash).toString('hex')} is referenced but its bytes are missing`);
          // Out of line whatever its size: commits change the blob table directly, and its keys are
          // hashes, so each commit's new blobs land in leaves all over it; inline, every such leaf
          // was copied whole with all its blobs at every commit, and held in memory until the
          // next checkpoint (docs/performance.md, "Deduplicated values").
          this.putInternal(tables, BLOB_TABLE, hash, new OutOfLineValue(bytes));
        }
        this.putInternal(tables, BLOB_REFS_TABLE, hash, encodeRefCount(count));
      } else {
        this.deleteInternal(tables, BLOB_REFS_TABLE, hash);
        this.deleteInternal(tables, BLOB_TABLE, hash);
      }
    }
  }

  private putInternal(tables: Map<string, TableState>, name: string, key: Uint8Array, value: LeafValue): void {
    const t = tables.get(name);
    const r = treePut(t?.root ?? null, key, value, this);
    tables.set(name, { name, root: r.root, count: (t?.count ?? 0) + (r.added ? 1 : 0) });
  }

  private deleteInternal(tables: Map<string, TableState>, name: string, key: Uint8Array): void {
    const t = tables.get(name);
    if (!t) return;
    const r = treeDelete(t.root, key, this);
    if (r.removed) tables.set(name, { name, root: r.root, count: t.count - 1 });
  }

  /** Frees every stored block of a tree (nodes and out-of-line values) and drops its blob references. */
  private releaseTree(root: Node | null): void {
    if (!root) return;
    const stack: Node[] = [root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.ref) this.freed.push(node.ref.offset, node.ref.length);
      if (node.isLeaf) {
        for (let i = 0; i < node.count; i++) this.releaseValue(node, i);
      } else {
        for (let i = 0; i < node.kids.length; i++) stack.push(childAt(node, i, this.store));
      }
    }
  }
}

/** A new memtable over a tree root, which it asks when counting. */
function memTableOver(root: Node | null, store: NodeStore): MemTable {
  return new MemTable((key) => treeHas(root, key, store));
}

function inBounds(key: Uint8Array, o: RangeOptions): boolean {
  if (o.gte && compareBytes(key, o.gte) < 0) return false;
  if (o.gt && compareBytes(key, o.gt) <= 0) return false;
  if (o.lte && compareBytes(key, o.lte) > 0) return false;
  if (o.lt && compareBytes(key, o.lt) >= 0) return false;
  return true;
}

/** Merges the tree's entries with the buffer's (which win, and may delete), in the scan's order. */
function* mergeRanges(
  tree: RangeIterator | null,
  buffered: BufferedEntry[],
  opts: RangeOptions,
  check: () => void,
  bytes: (v: LeafValue) => Buffer,
): Generator<Entry, undefined, undefined> {
  const dir = opts.reverse ? -1 : 1;
  let remaining = opts.limit ?? Infinity;
  let t = tree?.next();
  let b = 0;
  while (remaining > 0) {
    check();
    const te = t && !t.done ? t.value : null;
    const be = b < buffered.length ? buffered[b]! : null;
    if (!te && !be) break;
    const c = te && be ? compareBytes(te.key, be.key) * dir : te ? -1 : 1;
    if (c < 0) {
      yield te!;
      remaining--;
      t = tree!.next();
      continue;
    }
    if (c === 0) t = tree!.next();
    b++;
    if (be!.value !== null) {
      yield { key: Buffer.from(be!.key), value: bytes(be!.value) };
      remaining--;
    }
  }
  tree?.return();
  return undefined;
}
