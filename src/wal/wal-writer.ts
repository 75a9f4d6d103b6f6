/**
 * Appends commit records to the live WAL segment and makes them durable.
 *
 * Invariants:
 * - Records are written back to back; `pos` is where the next one goes.
 * - `syncedPos` is the end of the last record known to be on stable storage. Everything before it
 *   survives power loss; everything after it is at the mercy of the next sync.
 * - After any failed write or sync the writer is `broken`: the next append first rotates to a new
 *   segment whose header names the end of the last good record of this one, so replay ignores
 *   whatever the failure left behind (including bytes the kernel may still write out later).
 * - A failed sync rolls `pos` back to `syncedPos`: the records after it were never acknowledged,
 *   and the caller rolls back the transactions they carried.
 */
import path from 'node:path';
import { ioError } from '../errors.js';
import type { FileHandle, FileIO, PendingDatasync } from '../io/file-io.js';
import type { PageCodec } from '../codec/page-codec.js';
import { uninitializedBytes } from '../util/bytes.js';
import { once } from '../util/once.js';
import { encodeRecord, RECORD_HEADER_SIZE, RecordKind, recordAad } from './record-format.js';
import { encodeSegmentHeader, SEGMENT_HEADER_SIZE, segmentFileName } from './segment-format.js';

/** Commit payloads shorter than this are stored uncompressed: see PageCodec.compress. */
const MIN_COMPRESSED_RECORD = 1024;

/** Segment files grow in steps of this size (up to their capacity), ahead of the records. */
const GROW_STEP = 1 << 20;
/**
 * Records are encoded into one reused buffer (each is written before the next is encoded) up to this
 * size; a larger one gets a buffer of its own, so one huge commit does not pin its size in memory.
 */
const MAX_KEPT_RECORD_BUFFER = 8 << 20;

interface OpenSegment {
  segment: number;
  path: string;
  handle: FileHandle;
  /** Largest size the segment may reach; records never cross it. */
  capacity: number;
  /** Current file size: grown with ftruncate ahead of writes, so most fdatasyncs change no size. */
  fileSize: number;
  /** Async syncs still running on this handle; it is closed once they finish. */
  inflight: number;
  retired: boolean;
}

/** A position in the WAL: segment number and byte offset. */
export interface WalPosition {
  segment: number;
  offset: number;
}

export class WalWriter {
  private current: OpenSegment;
  private pos = SEGMENT_HEADER_SIZE;
  private syncedPos = SEGMENT_HEADER_SIZE;
  private broken = false;
  private recordBuf: Uint8Array = new Uint8Array(0);
  /** Failed syncs so far; an async sync that began before one of them must not report success. */
  private failures = 0;
  /** Highest transaction appended, and highest known durable. */
  appendedTxn: number;
  durableTxn: number;
  /** Bytes appended since the writer started, for metrics. */
  bytesWritten = 0;

  private constructor(
    private readonly io: FileIO,
    private readonly dir: string,
    private readonly databaseId: number,
    private readonly segmentBytes: number,
    private readonly codec: PageCodec,
    private readonly syncEnabled: boolean,
    first: OpenSegment,
    lastTxn: number,
  ) {
    this.current = first;
    this.appendedTxn = lastTxn;
    this.durableTxn = lastTxn;
  }

  /**
   * Starts writing in a new segment `segment`, whose header records `prevEnd` as the valid end of
   * the previous one. `lastTxn` is the id of the last transaction already in the database.
   */
  static start(
    io: FileIO,
    walDir: string,
    databaseId: number,
    segment: number,
    prevEnd: number,
    lastTxn: number,
    opts: { segmentBytes: number; codec: PageCodec; sync: boolean },
  ): WalWriter {
    const first = createSegment(io, walDir, databaseId, segment, prevEnd, opts.segmentBytes, opts.sync);
    return new WalWriter(io, walDir, databaseId, opts.segmentBytes, opts.codec, opts.sync, first, lastTxn);
  }

  /** Where the next record will be written. */
  get position(): WalPosition {
    return { segment: this.current.segment, offset: this.pos };
  }

  get segment(): number {
    return this.current.segment;
  }

  /**
   * Encodes and writes the record of transaction `txn`; returns the bytes its payload was stored in
   * (compressed, sealed). Throws IoError; nothing is half-counted.
   */
  append(txn: number, payload: Uint8Array): number {
    if (this.broken) this.rotate();
    const unit = this.codec.compressRecord(payload, MIN_COMPRESSED_RECORD);
    const plan = this.codec.planSeal(unit);
    const recordLength = RECORD_HEADER_SIZE + plan.storedLength;
    // A record never crosses its segment's capacity: replay treats bytes past it as a torn tail. One
    // larger than a whole segment gets a segment of its own, created big enough to hold it.
    if (this.pos + recordLength > this.current.capacity) this.rotate(SEGMENT_HEADER_SIZE + recordLength);
    const seg = this.current;
    if (this.pos + recordLength > seg.fileSize) {
      const want = Math.max(this.pos + recordLength, seg.fileSize + GROW_STEP);
      const size = Math.min(seg.capacity, Math.ceil(want / 4096) * 4096);
      try {
        seg.handle.truncate(size);
      } catch (err) {
        this.broken = true;
        throw ioError('WAL grow', seg.path, err);
      }
      seg.fileSize = size;
    }
    const sealed = this.codec.seal(unit, recordAad(this.current.segment, this.pos, txn));
    if (recordLength > this.recordBuf.length && recordLength <= MAX_KEPT_RECORD_BUFFER) this.recordBuf = uninitializedBytes(recordLength);
    const record = encodeRecord(
      this.current.segment,
      { txn, durableTxn: this.durableTxn, flags: sealed.flags, kind: RecordKind.Commit, keyId: sealed.keyId, rawLength: payload.length },
      sealed.stored,
      this.recordBuf,
    );
    try {
      this.current.handle.write(record, 0, record.length, this.pos);
    } catch (err) {
      this.broken = true;
      throw ioError('WAL write', this.current.path, err);
    }
    this.pos += record.length;
    this.bytesWritten += record.length;
    this.appendedTxn = txn;
    if (!this.syncEnabled) {
      this.syncedPos = this.pos;
      this.durableTxn = txn;
    }
    return plan.storedLength;
  }

  /** Makes every appended record durable. On failure, un-synced records are dropped and it throws. */
  sync(): void {
    this.flush(false).finish();
  }

  /**
   * {@link sync} in two halves: the flush begins now (on the file's other thread where it has one),
   * and `finish()` waits for it and does what sync() does after it (or, on failure, drops the
   * un-synced records and throws). Nothing may be appended in between, and `finish()` must be called.
   */
  startSync(): { finish(): void } {
    return this.flush(true);
  }

  private flush(elsewhere: boolean): { finish(): void } {
    if (!this.syncEnabled || this.syncedPos === this.pos) {
      return {
        finish: () => {
          this.durableTxn = this.appendedTxn;
        },
      };
    }
    const seg = this.current;
    let pending: PendingDatasync;
    try {
      pending = (elsewhere ? seg.handle.startDatasync?.() : undefined) ?? { finish: () => seg.handle.datasync() };
    } catch (err) {
      this.failSync();
      throw ioError('WAL fdatasync', seg.path, err);
    }
    return {
      finish: once(() => {
        try {
          pending.finish();
        } catch (err) {
          this.failSync();
          throw ioError('WAL fdatasync', seg.path, err);
        }
        this.syncedPos = this.pos;
        this.durableTxn = this.appendedTxn;
      }),
    };
  }

  /**
   * Like {@link sync}, off the event loop. Resolves with the highest transaction now durable; on
   * failure, un-synced records are dropped and it rejects.
   */
  async syncAsync(): Promise<number> {
    const seg = this.current;
    const targetPos = this.pos;
    const targetTxn = this.appendedTxn;
    const epoch = this.failures;
    if (!this.syncEnabled || targetPos === this.syncedPos) {
      this.durableTxn = Math.max(this.durableTxn, targetTxn);
      return this.durableTxn;
    }
    seg.inflight++;
    try {
      await seg.handle.datasyncAsync();
    } catch (err) {
      if (seg === this.current) this.failSync();
      throw ioError('WAL fdatasync', seg.path, err);
    } finally {
      seg.inflight--;
      if (seg.retired && seg.inflight === 0) closeQuietly(seg.handle);
    }
    // A sync that failed meanwhile rolled back records this one may have covered: its success proves
    // nothing about them any more, and they must not be counted durable.
    if (epoch !== this.failures) return this.durableTxn;
    if (seg === this.current) this.syncedPos = Math.max(this.syncedPos, targetPos);
    this.durableTxn = Math.max(this.durableTxn, targetTxn);
    return this.durableTxn;
  }

  private failSync(): void {
    this.failures++;
    this.pos = this.syncedPos;
    this.appendedTxn = this.durableTxn;
    this.broken = true;
  }

  /**
   * Syncs the current segment and starts the next, whose header names `pos` as this one's valid end:
   * bytes a failed write left at or past `pos` are never replayed. The new segment holds at least
   * `minCapacity` bytes (header included), more than the configured size if need be.
   */
  rotate(minCapacity = 0): void {
    const old = this.current;
    this.sync();
    const capacity = Math.max(this.segmentBytes, minCapacity);
    const next = createSegment(this.io, this.dir, this.databaseId, old.segment + 1, this.pos, capacity, this.syncEnabled);
    this.current = next;
    this.pos = SEGMENT_HEADER_SIZE;
    this.syncedPos = SEGMENT_HEADER_SIZE;
    this.broken = false;
    old.retired = true;
    if (old.inflight === 0) closeQuietly(old.handle);
  }

  close(): void {
    this.current.retired = true;
    if (this.current.inflight === 0) closeQuietly(this.current.handle);
  }
}

function closeQuietly(handle: FileHandle): void {
  try {
    handle.close();
  } catch {
    // The descriptor is gone either way; a close error carries no data loss.
  }
}

/**
 * Creates segment `segment` (its file sized to the first growth step) with its header, durably (file
 * and directory), before any record is written to it.
 */
function createSegment(
  io: FileIO,
  dir: string,
  databaseId: number,
  segment: number,
  prevEnd: number,
  capacity: number,
  sync: boolean,
): OpenSegment {
  const file = path.join(dir, segmentFileName(segment));
  let handle: FileHandle;
  try {
    handle = io.open(file, 'createNew');
  } catch (err) {
    throw ioError('create WAL segment', file, err);
  }
  const fileSize = Math.min(capacity, SEGMENT_HEADER_SIZE + GROW_STEP);
  try {
    handle.truncate(fileSize);
    const header = encodeSegmentHeader({ databaseId, segment, prevEnd, capacity });
    handle.write(header, 0, header.length, 0);
    if (sync) {
      handle.datasync();
      io.syncDir(dir);
    }
  } catch (err) {
    closeQuietly(handle);
    try {
      io.unlink(file);
    } catch {
      // Left behind, the half-made segment has no valid header and is discarded on the next open.
    }
    throw ioError('create WAL segment', file, err);
  }
  return { segment, path: file, handle, capacity, fileSize, inflight: 0, retired: false };
}
