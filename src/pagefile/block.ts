/**
 * Block framing. Every tree node, out-of-line value, catalog and freelist is stored as one block in
 * an extent that starts on a 64-byte boundary:
 *
 *   off  size  field
 *     0     1  kind (BlockKind)
 *     1     1  codec flags (see codec/page-codec.ts)
 *     2     2  key id (0 when not encrypted)
 *     4     4  stored length: payload bytes after this header
 *     8     4  raw length: payload length after decoding
 *    12     4  CRC-32, seeded with the CRC-32 of the block's offset (u64 LE), over bytes [0, 12) and
 *              [16, extent end), padding included
 *    16     8  txn: the checkpoint transaction that wrote the block
 *    24     n  stored payload, then zero padding to the extent end
 *
 * Invariants a reader checks before returning a payload: the CRC matches both the header and the
 * parent's reference (so a stale or misplaced block is caught), the lengths fit the extent exactly,
 * the padding is zero (so no byte of an extent is unchecked), and the codec decodes the payload.
 * When encrypting, the authenticated data is the offset plus header bytes [0,12) and [16,24).
 */
import { CorruptionError } from '../errors.js';
import { CodecDecodeError, CodecFlag, type PageCodec, type CompressedUnit, type SealPlan } from '../codec/page-codec.js';
import { readU16, readU32, readU64, writeU16, writeU32, writeU64 } from '../util/binary.js';
import { crc32 } from '../util/crc.js';
import { isAllZero } from '../util/bytes.js';
import { alignUp, BLOCK_HEADER_SIZE, type BlockKindValue, type BlockRef } from './layout.js';

const offsetScratch = new Uint8Array(8);

function offsetSeed(offset: number): number {
  writeU64(offsetScratch, 0, offset);
  return crc32(offsetScratch);
}

/** Checksum of a whole extent as stored in its header and in its parent's reference. */
export function blockChecksum(extent: Uint8Array, offset: number): number {
  const c = crc32(extent.subarray(0, 12), offsetSeed(offset));
  return crc32(extent.subarray(16), c);
}

/** Authenticated data for sealing a block: offset (8) + header [0,12) + header [16,24). */
function blockAad(header: Uint8Array, offset: number): Uint8Array {
  const aad = new Uint8Array(28);
  writeU64(aad, 0, offset);
  aad.set(header.subarray(0, 12), 8);
  aad.set(header.subarray(16, 24), 20);
  return aad;
}

/** A payload compressed and waiting for its extent; see {@link sealBlock}. */
export interface PreparedBlock {
  kind: BlockKindValue;
  rawLength: number;
  unit: CompressedUnit;
  plan: SealPlan;
  /** Extent length this block needs. */
  extentLength: number;
}

/**
 * First stage of writing a block: compress, and say how large an extent it needs. With `transient`,
 * the compressed bytes may live in the codec's scratch buffer: the block must then be sealed before
 * the codec compresses anything else.
 */
export function prepareBlock(kind: BlockKindValue, payload: Uint8Array, codec: PageCodec, transient = false): PreparedBlock {
  return prepareCompressed(kind, payload, codec.compress(payload, 0, transient), codec);
}

/** {@link prepareBlock} for a payload compressed already (`unit`, as PageCodec.compress makes it). */
export function prepareCompressed(kind: BlockKindValue, payload: Uint8Array, unit: CompressedUnit, codec: PageCodec): PreparedBlock {
  const plan = codec.planSeal(unit);
  return { kind, rawLength: payload.length, unit, plan, extentLength: alignUp(BLOCK_HEADER_SIZE + plan.storedLength) };
}

/**
 * Second stage: seal for `offset`, frame, and checksum. Returns the extent bytes and its reference.
 * The extent is written into `into` when given (exactly `extentLength` bytes, of a buffer the caller
 * reuses; any old bytes in it are overwritten, padding included), otherwise into a new array.
 */
export function sealBlock(
  p: PreparedBlock,
  offset: number,
  txn: number,
  codec: PageCodec,
  into?: Uint8Array,
): { bytes: Uint8Array; ref: BlockRef } {
  if (into && into.length !== p.extentLength) throw new Error(`a block of ${p.extentLength} bytes cannot be sealed into ${into.length}`);
  const extent = into ?? new Uint8Array(p.extentLength);
  extent[0] = p.kind;
  extent[1] = p.plan.flags;
  writeU16(extent, 2, p.plan.keyId);
  writeU32(extent, 4, p.plan.storedLength);
  writeU32(extent, 8, p.rawLength);
  writeU64(extent, 16, txn);
  const sealed = codec.seal(p.unit, blockAad(extent, offset));
  if (sealed.stored.length !== p.plan.storedLength || sealed.flags !== p.plan.flags || sealed.keyId !== p.plan.keyId) {
    throw new Error('codec sealed a unit differently from its plan');
  }
  extent.set(sealed.stored, BLOCK_HEADER_SIZE);
  // A reused buffer holds old bytes where the padding goes; a new one is zeroed already.
  if (into) extent.fill(0, BLOCK_HEADER_SIZE + sealed.stored.length);
  const crc = blockChecksum(extent, offset);
  writeU32(extent, 12, crc);
  return { bytes: extent, ref: { offset, length: p.extentLength, crc } };
}

/** Fields of a block header after its checksum and framing were checked. */
export interface BlockHeader {
  kind: number;
  flags: number;
  keyId: number;
  storedLength: number;
  rawLength: number;
  txn: number;
}

/**
 * Checks framing and checksum of an extent read from `offset`. `expectedCrc` is the parent's
 * reference value, or undefined when scanning without one. Throws CorruptionError on any mismatch.
 */
export function checkBlock(
  extent: Uint8Array,
  offset: number,
  file: string,
  expectedCrc: number | undefined,
): BlockHeader {
  if (extent.length < BLOCK_HEADER_SIZE) throw new CorruptionError(file, offset, 'block extent is shorter than a block header');
  const stored = readU32(extent, 12);
  const actual = blockChecksum(extent, offset);
  if (actual !== stored) throw new CorruptionError(file, offset, 'block checksum mismatch');
  if (expectedCrc !== undefined && stored !== expectedCrc) {
    throw new CorruptionError(file, offset, 'block is not the one its parent references (stale or misplaced write)');
  }
  const storedLength = readU32(extent, 4);
  const txn = readU64(extent, 16);
  if (alignUp(BLOCK_HEADER_SIZE + storedLength) !== extent.length || txn < 0) {
    throw new CorruptionError(file, offset, 'block lengths do not fit its extent');
  }
  if (!isAllZero(extent.subarray(BLOCK_HEADER_SIZE + storedLength))) {
    throw new CorruptionError(file, offset, 'block padding is not zero');
  }
  return { kind: extent[0]!, flags: extent[1]!, keyId: readU16(extent, 2), storedLength, rawLength: readU32(extent, 8), txn };
}

/** Checks an extent and decodes its payload. Throws CorruptionError naming file and offset. */
export function openBlock(
  extent: Uint8Array,
  offset: number,
  file: string,
  expectedCrc: number | undefined,
  expectedKind: number,
  codec: PageCodec,
): { header: BlockHeader; payload: Uint8Array } {
  const header = checkBlock(extent, offset, file, expectedCrc);
  if (header.kind !== expectedKind) {
    throw new CorruptionError(file, offset, `block kind ${header.kind} where kind ${expectedKind} was expected`);
  }
  try {
    const stored = extent.subarray(BLOCK_HEADER_SIZE, BLOCK_HEADER_SIZE + header.storedLength);
    const payload = codec.open(header.flags, header.keyId, stored, header.rawLength, blockAad(extent, offset));
    if (payload.length !== header.rawLength) throw new CodecDecodeError('decoded length differs from the raw length');
    return { header, payload };
  } catch (err) {
    if (err instanceof CodecDecodeError) throw new CorruptionError(file, offset, err.message);
    throw err;
  }
}

/** A checked block, ready to be written at another offset; see {@link prepareMove}. */
export interface PreparedMove {
  /** Extent length the block needs at its new offset. */
  extentLength: number;
  /** Frames the block for `offset`, as written by the checkpoint of `txn`. Call once. */
  seal(offset: number, txn: number): { bytes: Uint8Array; ref: BlockRef };
}

/**
 * Checks the block read from `offset` (checksum, the parent's checksum `expectedCrc`, `kind`) and
 * prepares writing it elsewhere. Unencrypted, the stored bytes move as they are, `extent` included
 * (the caller hands it over): the offset is only in the checksum, which is computed afresh. Encrypted,
 * the offset is authenticated, so the payload is opened and sealed again under the current key.
 */
export function prepareMove(
  extent: Uint8Array,
  offset: number,
  file: string,
  expectedCrc: number,
  kind: BlockKindValue,
  codec: PageCodec,
): PreparedMove {
  const header = checkBlock(extent, offset, file, expectedCrc);
  if (header.kind !== kind) throw new CorruptionError(file, offset, `block kind ${header.kind} where kind ${kind} was expected`);
  if ((header.flags & CodecFlag.Encrypted) === 0) {
    return {
      extentLength: extent.length,
      seal: (to, txn) => {
        writeU64(extent, 16, txn);
        const crc = blockChecksum(extent, to);
        writeU32(extent, 12, crc);
        return { bytes: extent, ref: { offset: to, length: extent.length, crc } };
      },
    };
  }
  const { payload } = openBlock(extent, offset, file, expectedCrc, kind, codec);
  const prepared = prepareBlock(kind, payload, codec);
  return { extentLength: prepared.extentLength, seal: (to, txn) => sealBlock(prepared, to, txn, codec) };
}
