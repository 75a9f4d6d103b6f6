/**
 * WAL record framing. One record per commit, appended contiguously after the segment header.
 *
 *   off  size  field
 *     0     4  stored payload length n
 *     4     4  CRC-32 over bytes [8, 32 + n), seeded with the CRC-32 of the segment number (u64 LE),
 *              so a record left over from another segment never validates here
 *     8     8  txn: the commit's transaction id; consecutive records have consecutive ids
 *    16     8  durable txn: the highest txn known to be on stable storage when this record was
 *              written. A valid record naming a durable txn at or past a damaged one proves the
 *              damaged record had been acknowledged: that is corruption, not a torn tail.
 *    24     1  codec flags (codec/page-codec.ts)
 *    25     1  record kind: 1 = commit
 *    26     2  key id
 *    28     4  raw payload length (after decoding)
 *    32     n  stored payload
 *
 * The payload encoding is in wal/commit-payload.ts.
 */
import { readU16, readU32, readU64, writeU16, writeU32, writeU64 } from '../util/binary.js';
import { crc32 } from '../util/crc.js';

export const RECORD_HEADER_SIZE = 32;
export const RecordKind = { Commit: 1 } as const;

export interface RecordHeader {
  storedLength: number;
  crc: number;
  txn: number;
  durableTxn: number;
  flags: number;
  kind: number;
  keyId: number;
  rawLength: number;
}

const seedScratch = new Uint8Array(8);

export function segmentSeed(segment: number): number {
  writeU64(seedScratch, 0, segment);
  return crc32(seedScratch);
}

/** Frames a record: header plus stored payload, checksummed for `segment`. */
export function encodeRecord(
  segment: number,
  h: Omit<RecordHeader, 'storedLength' | 'crc'>,
  stored: Uint8Array,
  /** Where to encode it when large enough (every byte of the result is written); else a new buffer. */
  into?: Uint8Array,
): Uint8Array {
  const size = RECORD_HEADER_SIZE + stored.length;
  const b = into && into.length >= size ? into.subarray(0, size) : new Uint8Array(size);
  writeU32(b, 0, stored.length);
  writeU64(b, 8, h.txn);
  writeU64(b, 16, h.durableTxn);
  b[24] = h.flags;
  b[25] = h.kind;
  writeU16(b, 26, h.keyId);
  writeU32(b, 28, h.rawLength);
  b.set(stored, RECORD_HEADER_SIZE);
  writeU32(b, 4, crc32(b.subarray(8), segmentSeed(segment)));
  return b;
}

/** Parses the fixed header; the checksum is checked separately once the payload is read. */
export function decodeRecordHeader(b: Uint8Array, o: number): RecordHeader {
  return {
    storedLength: readU32(b, o),
    crc: readU32(b, o + 4),
    txn: readU64(b, o + 8),
    durableTxn: readU64(b, o + 16),
    flags: b[o + 24]!,
    kind: b[o + 25]!,
    keyId: readU16(b, o + 26),
    rawLength: readU32(b, o + 28),
  };
}

/** Checks a whole record's checksum; `record` spans header and stored payload. */
export function recordChecksumValid(record: Uint8Array, segment: number): boolean {
  return crc32(record.subarray(8), segmentSeed(segment)) === readU32(record, 4);
}

/** Authenticated data for sealing a record's payload: segment, txn and offset bind it in place. */
export function recordAad(segment: number, offset: number, txn: number): Uint8Array {
  const aad = new Uint8Array(24);
  writeU64(aad, 0, segment);
  writeU64(aad, 8, offset);
  writeU64(aad, 16, txn);
  return aad;
}
