import { readU32, readU64, writeU32, writeU64 } from '../util/binary.js';
import type { BlockRef } from './layout.js';

/** Writes a ref (or zeros for "none") as 16 bytes: u64 offset, u32 extent length, u32 crc. */
export function writeBlockRef(b: Uint8Array, o: number, ref: BlockRef | null): void {
  writeU64(b, o, ref ? ref.offset : 0);
  writeU32(b, o + 8, ref ? ref.length : 0);
  writeU32(b, o + 12, ref ? ref.crc : 0);
}

/** Reads a ref written by {@link writeBlockRef}; offset 0 means none. Returns undefined if malformed. */
export function readBlockRef(b: Uint8Array, o: number): BlockRef | null | undefined {
  const offset = readU64(b, o);
  if (offset < 0) return undefined;
  if (offset === 0) return null;
  return { offset, length: readU32(b, o + 8), crc: readU32(b, o + 12) };
}
