/**
 * Little-endian integer reads and writes on plain Uint8Arrays. 64-bit fields hold integers below
 * 2^53 (JS safe integers); a stored value at or above that is reported as out of range, never
 * rounded.
 */

export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

export function readU16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

export function readU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
}

/** Writes a non-negative safe integer as 8 bytes. */
export function writeU64(b: Uint8Array, o: number, v: number): void {
  const lo = v % 0x100000000;
  writeU32(b, o, lo);
  writeU32(b, o + 4, (v - lo) / 0x100000000);
}

/** Reads 8 bytes as an integer; returns -1 when the value is not a safe integer (caller reports it). */
export function readU64(b: Uint8Array, o: number): number {
  const hi = readU32(b, o + 4);
  if (hi >= 0x200000) return -1;
  return hi * 0x100000000 + readU32(b, o);
}
