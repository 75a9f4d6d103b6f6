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
 *
 * The current table starts as "default". Replaying the operations in order against the checkpointed
 * state reproduces the commit exactly.
 */
import { readVarint, writeVarint } from '../util/varint.js';

export const Op = { Put: 1, Delete: 2, Clear: 3, Drop: 4, Table: 5, PutBlob: 6 } as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/** The table operations start on. */
export const INITIAL_TABLE = 'default';

/**
 * Encodes a transaction's operations as they happen, into a buffer the database reuses across
 * transactions (one writer at a time), so logging a put allocates nothing.
 */
export class CommitLog {
  private buf: Uint8Array;
  private size = 0;
  private table = INITIAL_TABLE;
  private ops = 0;

  constructor(scratch: Uint8Array) {
    this.buf = scratch;
  }

  /** Number of operations logged. */
  get length(): number {
    return this.ops;
  }

  /** The buffer in use, to hand back for reuse (it may have grown). */
  get scratch(): Uint8Array {
    return this.buf;
  }

  /**
   * Logs a put. Returns views of the key and value as logged: they stay valid until the buffer is
   * reused by the next transaction, so the transaction can keep them instead of copying again.
   */
  put(table: string, key: Uint8Array, value: Uint8Array): { key: Uint8Array; value: Uint8Array } {
    this.selectTable(table);
    this.reserve(1 + 5 + key.length + 5 + value.length);
    this.buf[this.size++] = Op.Put;
    const k = this.bytes(key);
    const v = this.bytes(value);
    this.ops++;
    return { key: k, value: v };
  }

  /** Logs a put of a value already in the blob table; returns a view of the key as logged. */
  putBlob(table: string, key: Uint8Array, hash: Uint8Array, length: number): Uint8Array {
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

  /** Logs a delete; returns a view of the key as logged (see {@link put}). */
  delete(table: string, key: Uint8Array): Uint8Array {
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

  /** The encoded payload: a view valid until the next transaction reuses the buffer. */
  payload(): Uint8Array {
    return this.buf.subarray(0, this.size);
  }

  private selectTable(table: string): void {
    if (table === this.table) return;
    const name = Buffer.from(table, 'utf8');
    this.reserve(1 + 5 + name.length);
    this.buf[this.size++] = Op.Table;
    this.bytes(name);
    this.table = table;
  }

  private bytes(b: Uint8Array): Uint8Array {
    this.size = writeVarint(this.buf, this.size, b.length);
    this.buf.set(b, this.size);
    this.size += b.length;
    return this.buf.subarray(this.size - b.length, this.size);
  }

  private reserve(n: number): void {
    if (this.size + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.size + n, this.buf.length * 2));
    grown.set(this.buf.subarray(0, this.size));
    this.buf = grown;
  }
}

/** One decoded operation; keys and values are views into the payload. For PutBlob, `value` is the hash. */
export interface DecodedOp {
  op: typeof Op.Put | typeof Op.Delete | typeof Op.Clear | typeof Op.Drop | typeof Op.PutBlob;
  table: string;
  key: Uint8Array | null;
  value: Uint8Array | null;
  /** PutBlob: length of the value the hash stands for. */
  length: number;
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
