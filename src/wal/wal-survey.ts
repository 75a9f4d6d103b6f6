/**
 * Counting what lies beyond damage in the WAL. Once a record is damaged, the records after it cannot
 * be applied (transactions must apply in order), but they still say which commits existed: repair
 * reports them as lost instead of hiding them.
 *
 * The damaged record's length field may be the damaged byte, so records past it are found by content:
 * at every byte offset a cheap header test (commit kind, a txn at or past the damaged one, a durable
 * txn below its own txn, a length that fits) picks candidates, and only a candidate whose CRC holds
 * counts. From a valid record the next one is where its length says, so only gaps are searched byte
 * by byte. A record's CRC is seeded with its segment number, so a record copied from another segment
 * never validates. Every segment but the last is searched only up to the valid end its successor's
 * header names: bytes past it were cut off by an earlier recovery and never acknowledged.
 */
import path from 'node:path';
import { ioError } from '../errors.js';
import { decodeRecordHeader, RECORD_HEADER_SIZE, recordChecksumValid, RecordKind } from './record-format.js';
import { decodeSegmentHeader, SEGMENT_HEADER_SIZE, segmentFileName } from './segment-format.js';
import { listSegments, type WalDamage } from './wal-scan.js';
import { nodeFileIO } from '../io/node-file-io.js';
import type { FileIO } from '../io/file-io.js';

/** What a survey past damage found. */
export interface WalSurvey {
  /** Intact records found past the damage, counted once per txn. */
  intactRecords: number;
  /** Highest txn of an intact record past the damage (null: none found). */
  lastTxn: number | null;
}

/** Txn ids above this distance from the damaged one are taken for noise, not records. */
const MAX_TXN_SPAN = 2 ** 40;

/** Finds the intact records that follow `damage` in the WAL in `walDir`. */
export function surveyPastDamage(walDir: string, damage: WalDamage, io: FileIO = nodeFileIO): WalSurvey {
  const segments = listSegments(io, walDir).filter((s) => s >= damage.segment);
  const txns = new Set<number>();
  let lastTxn: number | null = null;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const bytes = readWhole(io, path.join(walDir, segmentFileName(seg)));
    let end = bytes.length;
    const next = segments[i + 1];
    if (next === seg + 1) {
      const h = decodeSegmentHeader(readWhole(io, path.join(walDir, segmentFileName(next)), 64));
      if (typeof h !== 'string' && h.prevEnd >= SEGMENT_HEADER_SIZE) end = Math.min(end, h.prevEnd);
    }
    // A bad record's own bytes are skipped; a bad or missing segment's records may all be intact.
    const from = seg === damage.segment ? (damage.kind === 'record' ? damage.offset + 1 : Math.max(damage.offset, SEGMENT_HEADER_SIZE)) : SEGMENT_HEADER_SIZE;
    for (let pos = from; pos + RECORD_HEADER_SIZE <= end; ) {
      const len = recordAt(bytes, pos, end, seg, damage.txn);
      if (len === 0) {
        pos++;
        continue;
      }
      const txn = decodeRecordHeader(bytes, pos).txn;
      txns.add(txn);
      if (lastTxn === null || txn > lastTxn) lastTxn = txn;
      pos += len;
    }
  }
  return { intactRecords: txns.size, lastTxn };
}

/** Length of a valid commit record at `pos` with a txn at or past `minTxn`, or 0. */
function recordAt(b: Uint8Array, pos: number, end: number, segment: number, minTxn: number): number {
  if (b[pos + 25] !== RecordKind.Commit) return 0;
  const h = decodeRecordHeader(b, pos);
  if (h.txn < minTxn || h.txn - minTxn > MAX_TXN_SPAN || h.durableTxn >= h.txn) return 0;
  const len = RECORD_HEADER_SIZE + h.storedLength;
  if (pos + len > end) return 0;
  return recordChecksumValid(b.subarray(pos, pos + len), segment) ? len : 0;
}

/** The first `limit` bytes of a file (all of it by default). */
function readWhole(io: FileIO, file: string, limit = Infinity): Uint8Array {
  try {
    const handle = io.open(file, 'read');
    try {
      const b = new Uint8Array(Math.min(limit, handle.size()));
      const n = handle.read(b, 0, b.length, 0);
      return b.subarray(0, n);
    } finally {
      handle.close();
    }
  } catch (err) {
    throw ioError('read WAL segment', file, err);
  }
}
