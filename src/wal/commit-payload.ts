/**
 * The logical contents of one commit, as stored in a WAL record payload (before the codec): a
 * sequence of operations, each a u8 op code and its arguments, until the end of the payload.
 *
 *   1 put      varint key length, key, varint value length, value
 *   2 delete   varint key length, key
 *   3 clear    (no arguments: removes every entry of the current table)
 *   4 drop     (no arguments: removes the current table)
 *   5 table    varint name length, UTF-8 name: later operations apply to this table
 *   6 put blob varint key length, key, 32-byte BLAKE3 hash, varint value length: set key to a value
 *              already in the blob table (a deduplicated value seen before; the bytes are not repeated)
 *   7 fold releases  varint checkpoint txn C, varint count n, then n times: 32-byte BLAKE3 hash,
 *              varint r >= 1. The references to deduplicated values that the fold of the checkpoint
 *              at txn C dropped: r fewer for each hash. A record holding it carries nothing else. It
 *              applies only when replay starts from that checkpoint, whose trees are folded but
 *              whose blob tables are not (shard/durability/checkpoint.ts, "References a fold
 *              releases"); over any other starting point it does nothing.
 *
 * The current table starts as "default". Replaying the operations in order against the checkpointed
 * state reproduces the commit exactly.
 */
import { copyInto, uninitializedBytes } from '../util/bytes.js';
import { retainedBytes } from '../util/retained-memory.js';
import { readVarint, writeVarint } from '../util/varint.js';

export const Op = { Put: 1, Delete: 2, Clear: 3, Drop: 4, Table: 5, PutBlob: 6, FoldReleases: 7 } as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/** The table operations start on. */
export const INITIAL_TABLE = 'default';

/** Smallest buffer a log grows into. */
const MIN_GROWTH = 64 * 1024;

/** Size of a retained arena, unless one log needs more. */
const RETAINED_ARENA_BYTES = 4 << 20;

/** UTF-8 bytes of table names logged lately: a transaction writing two tables in turn switches often. */
const nameCache = new Map<string, Uint8Array>();
/** Table names cached at most (a store has a few; one with many only pays the encoding again). */
const NAME_CACHE_MAX = 256;

function nameBytes(table: string): Uint8Array {
  let b = nameCache.get(table);
  if (b === undefined) {
    if (nameCache.size >= NAME_CACHE_MAX) nameCache.clear();
    b = Buffer.from(table, 'utf8');
    nameCache.set(table, b);
  }
  return b;
}

/**
 * Encodes a transaction's operations as they happen, into an arena the database hands from one
 * transaction to the next (one writer at a time): each log starts where the last one ended, so
 * logging a put allocates nothing, and logged bytes stay where they are after the transaction (the
 * memtable points at them). A log that does not fit moves to a fresh buffer; what was logged before
 * stays in the old one, which whoever points into it keeps.
 */
export class CommitLog {
  private buf: Uint8Array;
  private start: number;
  private size: number;
  private table = INITIAL_TABLE;
  private ops = 0;

  constructor(
    arena: Uint8Array,
    start = 0,
    /** The expected size of this log (the last one's): a log that moves to a new buffer asks at least this much. */
    private readonly sizeHint = 0,
    /**
     * Whether a buffer this log moves to is retained memory (util/retained-memory.ts): right when the
     * memtable will keep what is logged. A commit that mostly overwrites its own writes leaves most
     * of its log unread, and an ordinary buffer costs less then: retained memory is zeroed when
     * allocated and waits longer for a collection.
     */
    private readonly retained = false,
  ) {
    this.buf = arena;
    this.start = start;
    this.size = start;
  }

  /** Number of operations logged. */
  get length(): number {
    return this.ops;
  }

  /** The buffer in use, for the next transaction to continue in (it may be a new one). */
  get arena(): Uint8Array {
    return this.buf;
  }

  /** Where this log ends in {@link arena}: where the next one starts. */
  get end(): number {
    return this.size;
  }

  /** Where in {@link arena} the value the last {@link put} logged starts. */
  loggedValueAt = 0;

  /**
   * Logs a put. Returns where in {@link arena} the key as logged starts, and leaves where the value
   * starts in {@link loggedValueAt} (no object per put: a bulk load logs millions). The arena never
   * overwrites them, so the transaction and the memtable point at them instead of copying again.
   */
  put(table: string, key: Uint8Array, value: Uint8Array): number {
    this.selectTable(table);
    this.reserve(1 + 5 + key.length + 5 + value.length);
    this.buf[this.size++] = Op.Put;
    const k = this.bytes(key);
    this.loggedValueAt = this.bytes(value);
    this.ops++;
    return k;
  }

  /** Logs a put of a value already in the blob table; returns where the key as logged starts (see {@link put}). */
  putBlob(table: string, key: Uint8Array, hash: Uint8Array, length: number): number {
    this.selectTable(table);
    this.reserve(1 + 5 + key.length + hash.length + 5);
    this.buf[this.size++] = Op.PutBlob;
    const k = this.bytes(key);
    this.buf.set(hash, this.size);
    this.size += hash.length;
    this.size = writeVarint(this.buf, this.size, length);
    this.ops++;
    return k;
  }

  /** Logs a delete; returns where the key as logged starts (see {@link put}). */
  delete(table: string, key: Uint8Array): number {
    this.selectTable(table);
    this.reserve(1 + 5 + key.length);
    this.buf[this.size++] = Op.Delete;
    const k = this.bytes(key);
    this.ops++;
    return k;
  }

  clear(table: string): void {
    this.selectTable(table);
    this.reserve(1);
    this.buf[this.size++] = Op.Clear;
    this.ops++;
  }

  drop(table: string): void {
    this.selectTable(table);
    this.reserve(1);
    this.buf[this.size++] = Op.Drop;
    this.ops++;
  }

  /** The encoded payload (a view). */
  payload(): Uint8Array {
    return this.buf.subarray(this.start, this.size);
  }

  private selectTable(table: string): void {
    if (table === this.table) return;
    const name = nameBytes(table);
    this.reserve(1 + 5 + name.length);
    this.buf[this.size++] = Op.Table;
    this.bytes(name);
    this.table = table;
  }

  /** Writes `b` with its length; returns where its bytes start. */
  private bytes(b: Uint8Array): number {
    this.size = writeVarint(this.buf, this.size, b.length);
    const at = this.size;
    copyInto(this.buf, at, b);
    this.size = at + b.length;
    return at;
  }

  private reserve(n: number): void {
    if (this.size + n <= this.buf.length) return;
    const used = this.size - this.start;
    // Sized for the whole log at once when its size can be guessed: a bulk commit's log then moves once,
    // not once per doubling. An ordinary buffer is not zeroed: only bytes written are ever read.
    const length = Math.max(used + n, 2 * used, MIN_GROWTH, Math.ceil(this.sizeHint * 1.25));
    // Retained arenas come in one size when they can, which a helper thread prepares ahead
    // (util/prefaulted-memory.ts); later logs continue in the same arena while it has room.
    const grown = !this.retained ? uninitializedBytes(length) : length <= RETAINED_ARENA_BYTES ? retainedBytes(RETAINED_ARENA_BYTES, true) : retainedBytes(length);
    grown.set(this.buf.subarray(this.start, this.size));
    this.buf = grown;
    this.start = 0;
    this.size = used;
  }
}

/** References to one deduplicated value that a fold dropped. */
export interface BlobRelease {
  /** The blob's BLAKE3 hash (32 bytes). */
  hash: Uint8Array;
  /** How many references went (at least 1). */
  count: number;
}

/** One decoded table operation; keys and values are views into the payload. For PutBlob, `value` is the hash. */
export interface DecodedTableOp {
  op: typeof Op.Put | typeof Op.Delete | typeof Op.Clear | typeof Op.Drop | typeof Op.PutBlob;
  table: string;
  key: Uint8Array | null;
  value: Uint8Array | null;
  /** PutBlob: length of the value the hash stands for. */
  length: number;
}

/** A decoded fold-releases operation (op 7). Hashes are views into the payload. */
export interface DecodedFoldReleases {
  op: typeof Op.FoldReleases;
  /** The checkpoint whose fold dropped the references. */
  checkpointTxn: number;
  releases: BlobRelease[];
}

export type DecodedOp = DecodedTableOp | DecodedFoldReleases;

/** The payload of a record holding only a fold's released references (op 7). */
export function encodeFoldReleases(checkpointTxn: number, releases: readonly BlobRelease[]): Uint8Array {
  const b = new Uint8Array(1 + 8 + 8 + releases.length * (32 + 8));
  b[0] = Op.FoldReleases;
  let o = writeVarint(b, 1, checkpointTxn);
  o = writeVarint(b, o, releases.length);
  for (const r of releases) {
    if (r.hash.length !== 32 || !Number.isSafeInteger(r.count) || r.count < 1) throw new Error('internal: a fold release needs a 32-byte hash and a count of at least 1');
    b.set(r.hash, o);
    o = writeVarint(b, o + 32, r.count);
  }
  return b.subarray(0, o);
}

/** Decodes a commit payload; returns a reason string when it is malformed. */
export function decodeCommit(b: Uint8Array): DecodedOp[] | string {
  const pos = { o: 0 };
  const end = b.length;
  const bytes = (): Uint8Array | null => {
    const n = readVarint(b, pos, end);
    if (n < 0 || pos.o + n > end) return null;
    const v = b.subarray(pos.o, pos.o + n);
    pos.o += n;
    return v;
  };
  const ops: DecodedOp[] = [];
  let table = INITIAL_TABLE;
  while (pos.o < end) {
    const op = b[pos.o++]!;
    if (op === Op.Put || op === Op.Delete) {
      const key = bytes();
      if (!key || key.length === 0) return 'commit key is empty or runs past the payload';
      const value = op === Op.Put ? bytes() : null;
      if (op === Op.Put && !value) return 'commit value runs past the payload';
      ops.push({ op, table, key, value, length: value?.length ?? 0 });
    } else if (op === Op.PutBlob) {
      const key = bytes();
      if (!key || key.length === 0 || pos.o + 32 > end) return 'commit blob reference runs past the payload';
      const hash = b.subarray(pos.o, pos.o + 32);
      pos.o += 32;
      const length = readVarint(b, pos, end);
      if (length < 0) return 'commit blob length runs past the payload';
      ops.push({ op, table, key, value: hash, length });
    } else if (op === Op.Clear || op === Op.Drop) {
      ops.push({ op, table, key: null, value: null, length: 0 });
    } else if (op === Op.FoldReleases) {
      const checkpointTxn = readVarint(b, pos, end);
      const n = readVarint(b, pos, end);
      if (checkpointTxn < 0 || n < 0) return 'fold releases run past the payload';
      const releases: BlobRelease[] = [];
      for (let i = 0; i < n; i++) {
        if (pos.o + 32 > end) return 'fold releases run past the payload';
        const hash = b.subarray(pos.o, pos.o + 32);
        pos.o += 32;
        const count = readVarint(b, pos, end);
        if (count < 1) return 'a fold release has no count';
        releases.push({ hash, count });
      }
      ops.push({ op, checkpointTxn, releases });
    } else if (op === Op.Table) {
      const name = bytes();
      if (!name || name.length === 0) return 'commit table name is empty or runs past the payload';
      table = Buffer.from(name.buffer, name.byteOffset, name.length).toString('utf8');
    } else {
      return `unknown commit operation ${op}`;
    }
  }
  return ops;
}
