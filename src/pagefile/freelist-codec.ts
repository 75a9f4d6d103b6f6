/**
 * Freelist block payload: the free extents a checkpoint leaves for the next one to reuse.
 *
 *   u32     extent count
 *   then per extent, in ascending offset order, two varints in 64-byte units:
 *     gap     (offset - end of the previous extent; the first is relative to 8192)
 *     length
 */
import { readU32, writeU32 } from '../util/binary.js';
import { readVarint, varintSize, writeVarint } from '../util/varint.js';
import type { Extent } from './allocator.js';
import { BLOCK_ALIGN, HEADER_SIZE } from './layout.js';

export function encodeFreelist(extents: readonly Extent[]): Uint8Array {
  let size = 4;
  let prevEnd = HEADER_SIZE;
  for (const e of extents) {
    size += varintSize((e.offset - prevEnd) / BLOCK_ALIGN) + varintSize(e.length / BLOCK_ALIGN);
    prevEnd = e.offset + e.length;
  }
  const b = new Uint8Array(size);
  writeU32(b, 0, extents.length);
  let o = 4;
  prevEnd = HEADER_SIZE;
  for (const e of extents) {
    o = writeVarint(b, o, (e.offset - prevEnd) / BLOCK_ALIGN);
    o = writeVarint(b, o, e.length / BLOCK_ALIGN);
    prevEnd = e.offset + e.length;
  }
  return b;
}

/** Decodes a freelist payload; returns a reason string when it is malformed. */
export function decodeFreelist(b: Uint8Array, fileEnd: number): Extent[] | string {
  if (b.length < 4) return 'freelist payload is truncated';
  const count = readU32(b, 0);
  const out: Extent[] = [];
  const pos = { o: 4 };
  let prevEnd = HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const gap = readVarint(b, pos, b.length);
    const len = readVarint(b, pos, b.length);
    if (gap < 0 || len <= 0) return 'freelist entry is malformed';
    const offset = prevEnd + gap * BLOCK_ALIGN;
    const length = len * BLOCK_ALIGN;
    if (offset + length > fileEnd || (i > 0 && gap === 0)) return 'freelist extent is out of order or past the file end';
    out.push({ offset, length });
    prevEnd = offset + length;
  }
  if (pos.o !== b.length) return 'freelist payload has trailing bytes';
  return out;
}
