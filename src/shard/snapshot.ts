/**
 * A read transaction: a consistent view of the shard as of one commit, unaffected by later writes,
 * checkpoints and compactions. While open it keeps the blocks it can reach from being reused, so close
 * it when done (snapshots that are garbage collected unclosed are released then, later than needed).
 */
import { ClosedError } from '../errors.js';
import type { Version } from './data/version.js';
import { RangeIterator, readCount, readGet, readGetView, readHas, type Entry } from './data/tree-read.js';
import { checkKey, checkRange, checkTableName, DEFAULT_TABLE, type RangeOptions, isReservedTableName } from './validate.js';

/** What a snapshot needs from its database: registration, so its blocks are not reused. */
export interface SnapshotHost {
  acquire(version: Version): void;
  release(version: Version): void;
  /** Throws ClosedError once the database is closed. */
  assertOpen(): void;
}

const unclosed = new FinalizationRegistry<{ host: SnapshotHost; version: Version }>((held) => held.host.release(held.version));

/** Read access to one table of a snapshot; see {@link Snapshot.table}. */
export class SnapshotTable {
  private readonly snap: Snapshot;

  /** @internal `owner` null means this object is the snapshot itself (its default table). */
  constructor(
    owner: Snapshot | null,
    /** The table's name. */
    readonly name: string,
  ) {
    this.snap = owner ?? (this as unknown as Snapshot);
  }

  /** The value of `key`, or undefined. */
  get(key: Uint8Array): Buffer | undefined {
    const v = this.snap.liveVersion();
    return readGet(v, this.name, checkKey(key));
  }

  /**
   * @internal Like {@link get}, but the value is a view of the stored bytes (no copy): valid only
   * until the next call into the database, read-only, never handed to user code uncopied.
   */
  getView(key: Uint8Array): Uint8Array | undefined {
    const v = this.snap.liveVersion();
    return readGetView(v, this.name, checkKey(key));
  }

  has(key: Uint8Array): boolean {
    const v = this.snap.liveVersion();
    return readHas(v, this.name, checkKey(key));
  }

  /** Entries in key order (or reverse), within the given bounds. */
  range(options?: RangeOptions): IterableIterator<Entry> {
    const v = this.snap.liveVersion();
    const opts = checkRange(options);
    return new RangeIterator(v, this.name, opts, () => this.snap.liveVersion());
  }

  /**
   * @internal Like {@link range}, but each entry's key and value are views of the stored bytes and
   * the entry object is reused: valid only until the next step of the scan, read-only, and never to
   * be handed to user code uncopied (tree-read.ts, view mode). For scans inside the engine's layers
   * that read each entry once (the audit store's queries, counts and exports).
   */
  rangeViews(options?: RangeOptions): RangeIterator {
    const v = this.snap.liveVersion();
    const opts = checkRange(options);
    return new RangeIterator(v, this.name, opts, () => this.snap.liveVersion(), undefined, true);
  }

  /** Number of entries. */
  count(): number {
    return readCount(this.snap.liveVersion(), this.name);
  }
}

export class Snapshot extends SnapshotTable {
  private version: Version | null;
  /** The finalization registry's token, or null for a scoped snapshot (not registered). */
  private readonly token: object | null;

  /**
   * @internal `scoped`: the caller closes the snapshot in a `finally` of the same synchronous call,
   * so it is not registered for release at garbage collection (registering and unregistering
   * cost about 1 µs, a fifth of a small query's fixed cost).
   */
  constructor(
    private readonly host: SnapshotHost,
    version: Version,
    scoped = false,
  ) {
    super(null, DEFAULT_TABLE);
    this.version = version;
    host.acquire(version);
    this.token = scoped ? null : {};
    if (this.token !== null) unclosed.register(this, { host, version }, this.token);
  }

  /** The transaction id this snapshot reads: every commit up to and including it, nothing after. */
  get txn(): number {
    return this.liveVersion().txn;
  }

  get isClosed(): boolean {
    return this.version === null;
  }

  /** Read access to the named table (empty if it does not exist in this snapshot). */
  table(name: string): SnapshotTable {
    this.liveVersion();
    return new SnapshotTable(this, checkTableName(name));
  }

  /** Names of the tables in this snapshot. */
  tableNames(): string[] {
    return [...this.liveVersion().tables.keys()].filter((n) => !isReservedTableName(n)).sort();
  }

  /** Ends the snapshot; its blocks may be reused after the next checkpoint. Safe to call twice. */
  close(): void {
    if (!this.version) return;
    if (this.token !== null) unclosed.unregister(this.token);
    this.host.release(this.version);
    this.version = null;
  }

  /** @internal */
  liveVersion(): Version {
    if (!this.version) throw new ClosedError('this snapshot');
    this.host.assertOpen();
    return this.version;
  }
}
