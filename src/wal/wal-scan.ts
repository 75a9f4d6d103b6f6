/**
 * Reads the WAL from a checkpoint's position to its end: replay on open, and verify on a live
 * database. Segments must be consecutive from the starting one; every segment but the last is read
 * exactly up to the valid end named by its successor's header, and any bad record before that end is
 * corruption. In the last segment the first bad record ends the log: a torn tail left by a crash,
 * unless a later valid record proves (through its durable txn) that the bad one had been
 * acknowledged, which is corruption again.
 *
 * Repair scans with `stopAtDamage`: instead of throwing, the scan stops at the first damage and says
 * where it is and which txn it was expecting; `surveyPastDamage` (wal-survey.ts) then counts the
 * intact records beyond it, which could not be applied without breaking transaction order.
 */
import path from 'node:path';
import { CorruptionError, ioError } from '../errors.js';
import type { FileHandle, FileIO } from '../io/file-io.js';
import { CodecDecodeError, type PageCodec } from '../codec/page-codec.js';
import { writeU64 } from '../util/binary.js';
import { isAllZero } from '../util/bytes.js';
import { decodeRecordHeader, RECORD_HEADER_SIZE, recordAad, recordChecksumValid, RecordKind, type RecordHeader } from './record-format.js';
import { decodeSegmentHeader, parseSegmentFileName, SEGMENT_HEADER_SIZE, segmentFileName, type SegmentHeader } from './segment-format.js';
import type { WalPosition } from './wal-writer.js';

const WINDOW = 1 << 20;

/** Where scanning starts and what it expects. */
export interface WalScanStart {
  databaseId: number;
  position: WalPosition;
  /** Transaction id of the first record expected (the checkpoint txn + 1). */
  firstTxn: number;
  /** When the database was closed cleanly, the WAL may be gone entirely. */
  mayBeAbsent: boolean;
}

/** What a scan found. */
export interface WalScanResult {
  /** Segments present, in order (including ones before the start, which are no longer needed). */
  segments: number[];
  /** The last segment holding records, and the valid end of the log in it. */
  end: WalPosition | null;
  /** Last transaction id read. */
  lastTxn: number;
  records: number;
  /** Bytes past the valid end in the last segment that looked like a record (a torn write). */
  tornTail: { segment: number; offset: number } | null;
  /** Segment files with an unreadable header at the end of the log (a crash while creating one). */
  discardedSegments: number[];
  /** With `stopAtDamage`: where the log stopped being readable, or null when it was read to its end. */
  damage: WalDamage | null;
}

/** Where a scan with `stopAtDamage` met damage, and what it was waiting for. */
export interface WalDamage {
  segment: number;
  /** Offset of the bad record, or of the first record of a bad or missing segment. */
  offset: number;
  /** The txn the log should have continued with: it and everything after it could not be applied. */
  txn: number;
  /** 'record': a record inside the valid log is bad; 'segment': a segment is missing or has a bad header. */
  kind: 'record' | 'segment';
  reason: string;
}

/** Lists segment numbers in a WAL directory, ascending. */
export function listSegments(io: FileIO, walDir: string): number[] {
  if (!io.exists(walDir)) return [];
  const out: number[] = [];
  for (const name of io.readdir(walDir)) {
    const n = parseSegmentFileName(name);
    if (n !== null) out.push(n);
  }
  return out.sort((a, b) => a - b);
}

/**
 * Scans the log, calling `onRecord` for each valid record in order with its decoded payload.
 * `knownEnd` (verify on a live database) makes every bad record before it corruption.
 */
export function scanWal(
  io: FileIO,
  walDir: string,
  start: WalScanStart,
  codec: PageCodec,
  onRecord: (txn: number, payload: Uint8Array, at: WalPosition) => void,
  knownEnd?: WalPosition,
  mode?: { stopAtDamage: boolean },
): WalScanResult {
  const stop = mode?.stopAtDamage === true;
  const all = listSegments(io, walDir);
  const result: WalScanResult = {
    segments: all,
    end: null,
    lastTxn: start.firstTxn - 1,
    records: 0,
    tornTail: null,
    discardedSegments: [],
    damage: null,
  };
  // Segment-level damage found before any record is read; its txn is known once the records before it are.
  let pending: Omit<WalDamage, 'txn'> | null = null;
  let live = all.filter((s) => s >= start.position.segment);
  if (knownEnd) live = live.filter((s) => s <= knownEnd.segment);
  const startFile = path.join(walDir, segmentFileName(start.position.segment));
  if (live[0] !== start.position.segment) {
    if (start.mayBeAbsent && live.length === 0) return result;
    const reason = `WAL segment ${start.position.segment} that the checkpoint needs is missing`;
    if (!stop) throw new CorruptionError(startFile, 0, reason);
    result.damage = { segment: start.position.segment, offset: start.position.offset, txn: start.firstTxn, kind: 'segment', reason };
    return result;
  }
  for (let i = 1; i < live.length; i++) {
    if (live[i] !== live[i - 1]! + 1) {
      const missing = live[i - 1]! + 1;
      const reason = `WAL segment ${missing} is missing`;
      if (!stop) throw new CorruptionError(path.join(walDir, segmentFileName(missing)), 0, reason);
      pending = { segment: missing, offset: SEGMENT_HEADER_SIZE, kind: 'segment', reason };
      live = live.slice(0, i);
      break;
    }
  }
  const headers: SegmentHeader[] = [];
  for (let i = 0; i < live.length; i++) {
    const seg = live[i]!;
    const file = path.join(walDir, segmentFileName(seg));
    const h = readSegmentHeader(io, file);
    const bad = typeof h === 'string' ? h : h.segment !== seg ? 'segment number differs from its file name' : h.databaseId !== start.databaseId ? 'segment belongs to another database' : null;
    if (bad) {
      // A crash while creating the newest segment leaves it without a valid header, before any record.
      // The header is written (and synced) before the segment's first record, so a bad header in
      // front of a record is damage: discarding the segment would drop acknowledged commits.
      // That includes the segment the checkpoint starts in, when the checkpoint expects nothing in it
      // yet (a clean close points at the next segment, which the next open creates, and may die doing so).
      const startsEmpty = i > 0 || start.position.offset === SEGMENT_HEADER_SIZE;
      if (i === live.length - 1 && startsEmpty && !knownEnd && !holdsRecord(io, file)) {
        result.discardedSegments.push(seg);
        live = live.slice(0, i);
        break;
      }
      if (!stop) throw new CorruptionError(file, 0, bad);
      pending = { segment: seg, offset: i === 0 ? start.position.offset : SEGMENT_HEADER_SIZE, kind: 'segment', reason: `WAL segment ${seg}: ${bad}` };
      live = live.slice(0, i);
      break;
    }
    headers.push(h as SegmentHeader);
  }
  let expected = start.firstTxn;
  segments: for (let i = 0; i < live.length; i++) {
    const seg = live[i]!;
    const file = path.join(walDir, segmentFileName(seg));
    const isLast = i === live.length - 1;
    const bound = !isLast ? headers[i + 1]!.prevEnd : knownEnd && knownEnd.segment === seg ? knownEnd.offset : null;
    const from = i === 0 ? start.position.offset : SEGMENT_HEADER_SIZE;
    const handle = openForRead(io, file);
    try {
      const reader = new WindowReader(handle, file, headers[i]!.capacity);
      let pos = from;
      for (;;) {
        if (bound !== null && pos >= bound) {
          if (pos > bound) throw new CorruptionError(file, bound, 'WAL record crosses the valid end of its segment');
          break;
        }
        let rec: RecordRead;
        try {
          rec = readRecord(reader, pos, seg, expected, codec, file);
          if (rec.ok) onRecord(rec.txn, rec.payload, { segment: seg, offset: pos });
        } catch (err) {
          if (!stop || !(err instanceof CorruptionError)) throw err;
          result.damage = { segment: seg, offset: pos, txn: expected, kind: 'record', reason: err.message };
          result.end = { segment: seg, offset: pos };
          break segments;
        }
        if (rec.ok) {
          result.records++;
          result.lastTxn = rec.txn;
          expected = rec.txn + 1;
          pos = rec.next;
          continue;
        }
        if (bound !== null) {
          const reason = `${rec.reason} before the end of the valid log`;
          if (!stop) throw new CorruptionError(file, pos, reason);
          result.damage = { segment: seg, offset: pos, txn: expected, kind: 'record', reason: `${file} at offset ${pos}: ${reason}` };
          result.end = { segment: seg, offset: pos };
          break segments;
        }
        if (rec.reason !== 'end') {
          if (provesAcknowledged(reader, pos, seg, expected)) {
            const reason = `${rec.reason}, and a later record shows it had been acknowledged`;
            if (!stop) throw new CorruptionError(file, pos, reason);
            result.damage = { segment: seg, offset: pos, txn: expected, kind: 'record', reason: `${file} at offset ${pos}: ${reason}` };
            result.end = { segment: seg, offset: pos };
            break segments;
          }
          result.tornTail = { segment: seg, offset: pos };
        }
        break;
      }
      result.end = { segment: seg, offset: pos };
    } finally {
      handle.close();
    }
  }
  if (pending && !result.damage) result.damage = { ...pending, txn: expected };
  return result;
}

function openForRead(io: FileIO, file: string): FileHandle {
  try {
    return io.open(file, 'read');
  } catch (err) {
    throw ioError('open WAL segment', file, err);
  }
}

function readSegmentHeader(io: FileIO, file: string): SegmentHeader | string {
  const handle = openForRead(io, file);
  try {
    const b = new Uint8Array(64);
    const n = handle.read(b, 0, 64, 0);
    if (n < 64) return 'segment header is truncated';
    return decodeSegmentHeader(b);
  } catch (err) {
    throw ioError('read WAL segment', file, err);
  } finally {
    handle.close();
  }
}

type RecordRead =
  | { ok: true; txn: number; payload: Uint8Array; next: number }
  | { ok: false; reason: string };

function readRecord(r: WindowReader, pos: number, segment: number, expected: number, codec: PageCodec, file: string): RecordRead {
  if (pos + RECORD_HEADER_SIZE > r.capacity) return { ok: false, reason: 'end' };
  const head = r.view(pos, RECORD_HEADER_SIZE);
  if (isAllZero(head)) return { ok: false, reason: 'end' };
  const h = decodeRecordHeader(head, 0);
  if (pos + RECORD_HEADER_SIZE + h.storedLength > r.capacity) return { ok: false, reason: 'WAL record length runs past the segment' };
  const record = r.view(pos, RECORD_HEADER_SIZE + h.storedLength);
  if (!recordChecksumValid(record, segment)) return { ok: false, reason: 'WAL record checksum mismatch' };
  if (h.kind !== RecordKind.Commit) return { ok: false, reason: `unknown WAL record kind ${h.kind}` };
  if (h.txn !== expected) return { ok: false, reason: `WAL record has txn ${h.txn} where ${expected} was expected` };
  let payload: Uint8Array;
  try {
    const stored = record.slice(RECORD_HEADER_SIZE);
    payload = codec.open(h.flags, h.keyId, stored, h.rawLength, recordAad(segment, pos, h.txn));
  } catch (err) {
    // The checksum held, so the record was written whole: failing to decode it is damage, not a tear.
    if (err instanceof CodecDecodeError) throw new CorruptionError(file, pos, `WAL record does not decode: ${err.message}`);
    throw err;
  }
  return { ok: true, txn: h.txn, payload, next: pos + record.length };
}

/** True when anything was written where a segment's first record goes. */
function holdsRecord(io: FileIO, file: string): boolean {
  const handle = openForRead(io, file);
  try {
    const b = new Uint8Array(RECORD_HEADER_SIZE);
    const n = handle.read(b, 0, b.length, SEGMENT_HEADER_SIZE);
    return !isAllZero(b.subarray(0, n));
  } catch (err) {
    throw ioError('read WAL segment', file, err);
  } finally {
    handle.close();
  }
}

/**
 * True when a valid record after the bad one at `pos` names a durable txn >= `badTxn`. The bad
 * record's own length field may be the damaged byte, so its successor is not located through it:
 * the rest of the segment is searched for the successor's txn (badTxn + 1; records are consecutive)
 * at any offset, a candidate counts only if its checksum holds, and the chain of valid records is
 * followed from there (under group commit the next record may not yet name the bad one durable).
 */
function provesAcknowledged(r: WindowReader, pos: number, segment: number, badTxn: number): boolean {
  const pattern = Buffer.alloc(8);
  writeU64(pattern, 0, badTxn + 1);
  // The txn field is at byte 8 of a header, and a successor starts at least a header past `pos`.
  for (let from = pos + RECORD_HEADER_SIZE + 8; from + 8 <= r.capacity; ) {
    const n = Math.min(WINDOW, r.capacity - from);
    const view = r.view(from, n);
    const chunk = Buffer.from(view.buffer, view.byteOffset, view.length);
    const candidates: number[] = [];
    for (let i = chunk.indexOf(pattern); i >= 0; i = chunk.indexOf(pattern, i + 1)) candidates.push(from + i - 8);
    for (const q of candidates) {
      let h = validRecordAt(r, q, segment);
      if (!h) continue;
      // The successor exists: walk its chain for a record that says the bad one was durable.
      for (let at = q; ; ) {
        if (h.durableTxn >= badTxn) return true;
        at += RECORD_HEADER_SIZE + h.storedLength;
        const next = validRecordAt(r, at, segment);
        if (!next || next.txn !== h.txn + 1) return false;
        h = next;
      }
    }
    if (from + n >= r.capacity) break;
    from += n - 7; // overlap, so a txn field straddling two windows is still found
  }
  return false;
}

/** The header of a whole, checksum-valid commit record at `q`, or null. */
function validRecordAt(r: WindowReader, q: number, segment: number): RecordHeader | null {
  if (q + RECORD_HEADER_SIZE > r.capacity) return null;
  const h = decodeRecordHeader(r.view(q, RECORD_HEADER_SIZE), 0);
  if (h.kind !== RecordKind.Commit || q + RECORD_HEADER_SIZE + h.storedLength > r.capacity) return null;
  return recordChecksumValid(r.view(q, RECORD_HEADER_SIZE + h.storedLength), segment) ? h : null;
}

/** Buffered positional reads over one segment file. */
class WindowReader {
  private buf = new Uint8Array(WINDOW);
  private start = 0;
  private len = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly file: string,
    readonly capacity: number,
  ) {}

  /** Bytes [pos, pos+n); valid until the next call. Reads past the file end come back as zeros. */
  view(pos: number, n: number): Uint8Array {
    if (pos >= this.start && pos + n <= this.start + this.len) return this.buf.subarray(pos - this.start, pos - this.start + n);
    if (n > this.buf.length) this.buf = new Uint8Array(n);
    const want = Math.max(n, Math.min(this.buf.length, this.capacity - pos));
    let got: number;
    try {
      got = this.handle.read(this.buf, 0, want, pos);
    } catch (err) {
      throw ioError('read WAL segment', this.file, err);
    }
    this.buf.fill(0, got, want);
    this.start = pos;
    this.len = want;
    return this.buf.subarray(0, n);
  }
}
