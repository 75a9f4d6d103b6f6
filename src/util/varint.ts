/** Unsigned LEB128 varints for non-negative safe integers. */

/** Bytes needed to encode `v`. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes `v` at `o`; returns the offset after it. */
export function writeVarint(b: Uint8Array, o: number, v: number): number {
  while (v >= 0x80) {
    b[o++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  b[o++] = v;
  return o;
}

/** Reads a varint at `pos.o`, advancing it. Returns -1 when it runs past `end` or exceeds 2^53. */
export function readVarint(b: Uint8Array, pos: { o: number }, end: number): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 8; i++) {
    if (pos.o >= end) return -1;
    const byte = b[pos.o++]!;
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return v;
    mul *= 128;
  }
  return -1;
}
