/**
 * Filler bytes that do not compress, for tests whose sizes on disk must not depend on the codec.
 *
 * xorshift32, seeded from an id through the murmur3 finalizer: the same bytes on every run, and
 * different ids give different bytes from the first word on (the finalizer and the xorshift step
 * are both bijections on 32-bit integers, so distinct ids give distinct first words). Filling a
 * buffer this way costs a few nanoseconds a byte; hashing every 32 bytes of it cost a hundred times
 * that, which was most of the time of the tests that write tens of thousands of such values.
 */
export function noiseBytes(id: number, size: number): Buffer {
  if (!Number.isInteger(id) || id < 0 || id >= 0xffffffff) throw new RangeError(`noise id ${id} is not a 32-bit integer below 2^32 - 1`);
  // murmur3 fmix32 of id + 1: never zero (fmix32 maps only 0 to 0), which xorshift cannot leave.
  let x = (id + 1) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  const b = Buffer.allocUnsafe(size);
  let o = 0;
  for (; o + 4 <= size; o += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeInt32LE(x | 0, o);
  }
  for (; o < size; o++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[o] = x & 0xff;
  }
  return b;
}
