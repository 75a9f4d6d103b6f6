/**
 * A header slot: the root of one checkpoint. The file has two; a checkpoint writes the slot that is
 * not the newest valid one, so a torn slot write always leaves the previous checkpoint readable.
 * Open picks the valid slot with the highest `seq`.
 *
 * Slot layout (4096 bytes, little-endian):
 *
 *   off  size  field
 *     0     8  magic "RDBAUDIT"
 *     8     4  format version
 *    12     4  page size (target encoded size of a tree node)
 *    16     8  database id (random; WAL segments carry it too)
 *    24     8  seq: checkpoint sequence number, +1 per checkpoint
 *    32     8  checkpoint txn: every transaction up to this id is in the tree
 *    40     8  file end: blocks live in [8192, file end)
 *    48    16  catalog block ref (offset 0: none)
 *    64    16  freelist block ref (offset 0: none)
 *    80     8  WAL segment number where replay for this checkpoint starts
 *    88     8  byte offset in that segment where replay starts
 *    96     4  flags (bit 0: the two slots were written together by a clean close)
 *   100     2  current key id: the key new units are sealed with (0: the store is not encrypted)
 *   102     2  key ring entry count n (at most 110)
 *   104  36*n  key ring entries: u16 key id, u8 kdf (0 raw, 1 scrypt), u8 zero, 16-byte scrypt salt
 *              (zero for raw keys), 16-byte key-check value
 *     .     .  zero up to 4092
 *  4092     4  CRC-32 of bytes [0, 4092)
 */
import { readU16, readU32, readU64, writeU16, writeU32, writeU64 } from '../util/binary.js';
import { crc32 } from '../util/crc.js';
import { isAllZero } from '../util/bytes.js';
import { readBlockRef, writeBlockRef } from './block-ref-codec.js';
import type { KeyRingEntry } from '../codec/key-ring.js';
import { FORMAT_VERSION, SLOT_SIZE, type BlockRef } from './layout.js';

export const SLOT_MAGIC = Buffer.from('RDBAUDIT', 'latin1');
const CRC_OFFSET = SLOT_SIZE - 4;
const RING_OFFSET = 104;
const RING_ENTRY = 36;
/** Most keys a ring can hold: they must fit in a slot. */
export const MAX_RING_ENTRIES = Math.floor((CRC_OFFSET - RING_OFFSET) / RING_ENTRY);

/** The decoded contents of a valid slot. */
export interface HeaderSlot {
  pageSize: number;
  databaseId: number;
  seq: number;
  checkpointTxn: number;
  fileEnd: number;
  catalog: BlockRef | null;
  freelist: BlockRef | null;
  walSegment: number;
  walOffset: number;
  flags: number;
  /** Key new units are sealed with; 0 when the store is not encrypted. */
  keyId: number;
  /** Keys that units in the store (or its WAL) may be sealed with. */
  keyRing: KeyRingEntry[];
}

/** Result of reading one slot from disk. */
export type SlotReadResult =
  | { state: 'valid'; slot: HeaderSlot }
  | { state: 'empty' }
  | { state: 'invalid'; reason: string }
  | { state: 'unsupported'; version: number };

export function encodeHeaderSlot(s: HeaderSlot): Uint8Array {
  const b = new Uint8Array(SLOT_SIZE);
  b.set(SLOT_MAGIC, 0);
  writeU32(b, 8, FORMAT_VERSION);
  writeU32(b, 12, s.pageSize);
  writeU64(b, 16, s.databaseId);
  writeU64(b, 24, s.seq);
  writeU64(b, 32, s.checkpointTxn);
  writeU64(b, 40, s.fileEnd);
  writeBlockRef(b, 48, s.catalog);
  writeBlockRef(b, 64, s.freelist);
  writeU64(b, 80, s.walSegment);
  writeU64(b, 88, s.walOffset);
  writeU32(b, 96, s.flags);
  if (s.keyRing.length > MAX_RING_ENTRIES) throw new RangeError(`a header slot holds at most ${MAX_RING_ENTRIES} keys`);
  writeU16(b, 100, s.keyId);
  writeU16(b, 102, s.keyRing.length);
  s.keyRing.forEach((e, i) => {
    const o = RING_OFFSET + i * RING_ENTRY;
    writeU16(b, o, e.id);
    b[o + 2] = e.kdf;
    b.set(e.salt, o + 4);
    b.set(e.kcv, o + 20);
  });
  writeU32(b, CRC_OFFSET, crc32(b.subarray(0, CRC_OFFSET)));
  return b;
}

export function decodeHeaderSlot(b: Uint8Array): SlotReadResult {
  if (b.length < SLOT_SIZE) return { state: 'invalid', reason: 'slot is truncated' };
  if (isAllZero(b)) return { state: 'empty' };
  if (crc32(b.subarray(0, CRC_OFFSET)) !== readU32(b, CRC_OFFSET)) {
    return { state: 'invalid', reason: 'header slot checksum mismatch' };
  }
  if (!SLOT_MAGIC.equals(b.subarray(0, 8))) return { state: 'invalid', reason: 'not a redb-audit header slot' };
  const version = readU32(b, 8);
  if (version !== FORMAT_VERSION) return { state: 'unsupported', version };
  const catalog = readBlockRef(b, 48);
  const freelist = readBlockRef(b, 64);
  const fields = [readU64(b, 16), readU64(b, 24), readU64(b, 32), readU64(b, 40), readU64(b, 80), readU64(b, 88)];
  const ringCount = readU16(b, 102);
  if (catalog === undefined || freelist === undefined || fields.some((v) => v < 0) || ringCount > MAX_RING_ENTRIES) {
    return { state: 'invalid', reason: 'header slot field out of range' };
  }
  const keyRing: KeyRingEntry[] = [];
  for (let i = 0; i < ringCount; i++) {
    const o = RING_OFFSET + i * RING_ENTRY;
    keyRing.push({ id: readU16(b, o), kdf: b[o + 2]!, salt: b.slice(o + 4, o + 20), kcv: b.slice(o + 20, o + 36) });
  }
  const [databaseId, seq, checkpointTxn, fileEnd, walSegment, walOffset] = fields as [
    number, number, number, number, number, number,
  ];
  return {
    state: 'valid',
    slot: {
      pageSize: readU32(b, 12),
      databaseId,
      seq,
      checkpointTxn,
      fileEnd,
      catalog,
      freelist,
      walSegment,
      walOffset,
      flags: readU32(b, 96),
      keyId: readU16(b, 100),
      keyRing,
    },
  };
}
