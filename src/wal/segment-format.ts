/**
 * WAL segment files: `wal/<20-digit segment number>.wal`, written front to back. A segment's file is
 * extended with ftruncate in 1 MiB steps ahead of the records, up to its capacity (measured here: a
 * write+fdatasync into such a sparse region costs the same as into a zero-filled one, and about 30%
 * less than appending to a file whose size changes with every commit). A record never crosses the
 * capacity; one larger than a segment gets a segment of its own size.
 *
 * Segment header (first 4096 bytes; records start at 4096):
 *
 *   off  size  field
 *     0     8  magic "RDBWAL01"
 *     8     4  format version
 *    12     4  reserved, zero
 *    16     8  database id (must match the page file's)
 *    24     8  segment number
 *    32     8  valid end of the previous segment: the byte offset just past its last record that
 *              counts. Replay reads the previous segment only up to here, so whatever a crash left
 *              beyond that point (a torn record, or a complete but never acknowledged one) is dead.
 *              0 when there is no previous segment.
 *    40     8  capacity: the size the file may grow to; records end at or before it
 *    48    12  reserved, zero
 *    60     4  CRC-32 of bytes [0, 60)
 */
import { readU32, readU64, writeU32, writeU64 } from '../util/binary.js';
import { crc32 } from '../util/crc.js';
import { FORMAT_VERSION } from '../pagefile/layout.js';

export const SEGMENT_HEADER_SIZE = 4096;
const HEADER_FIELDS = 64;
export const SEGMENT_MAGIC = Buffer.from('RDBWAL01', 'latin1');
export const WAL_DIR = 'wal';

export interface SegmentHeader {
  databaseId: number;
  segment: number;
  prevEnd: number;
  capacity: number;
}

export function segmentFileName(segment: number): string {
  return `${String(segment).padStart(20, '0')}.wal`;
}

/** The segment number of a file name, or null if the name is not a segment's. */
export function parseSegmentFileName(name: string): number | null {
  const m = /^(\d{20})\.wal$/.exec(name);
  return m ? Number(m[1]) : null;
}

export function encodeSegmentHeader(h: SegmentHeader): Uint8Array {
  const b = new Uint8Array(HEADER_FIELDS);
  b.set(SEGMENT_MAGIC, 0);
  writeU32(b, 8, FORMAT_VERSION);
  writeU64(b, 16, h.databaseId);
  writeU64(b, 24, h.segment);
  writeU64(b, 32, h.prevEnd);
  writeU64(b, 40, h.capacity);
  writeU32(b, 60, crc32(b.subarray(0, 60)));
  return b;
}

/** Decodes a segment header; returns a reason string when it is not valid. */
export function decodeSegmentHeader(b: Uint8Array): SegmentHeader | string {
  if (b.length < HEADER_FIELDS) return 'segment header is truncated';
  if (crc32(b.subarray(0, 60)) !== readU32(b, 60)) return 'segment header checksum mismatch';
  if (!SEGMENT_MAGIC.equals(b.subarray(0, 8))) return 'not a redb-audit WAL segment';
  const version = readU32(b, 8);
  if (version !== FORMAT_VERSION) return `segment format version ${version} is not supported (expected ${FORMAT_VERSION})`;
  const fields = [readU64(b, 16), readU64(b, 24), readU64(b, 32), readU64(b, 40)];
  if (fields.some((v) => v < 0)) return 'segment header field out of range';
  const [databaseId, segment, prevEnd, capacity] = fields as [number, number, number, number];
  return { databaseId, segment, prevEnd, capacity };
}
