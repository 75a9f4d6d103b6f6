/**
 * Keys stored packed inside node buffers: a u16 length then the bytes (leaf entries and branch
 * separators share this prefix). Comparing in place avoids creating a view per probe.
 */

/** Compares the packed key at `o` in `buf` with `key`, bytewise. */
export function comparePackedKey(buf: Uint8Array, o: number, key: Uint8Array): number {
  const kl = buf[o]! | (buf[o + 1]! << 8);
  const s = o + 2;
  const n = kl < key.length ? kl : key.length;
  for (let j = 0; j < n; j++) {
    const d = buf[s + j]! - key[j]!;
    if (d !== 0) return d;
  }
  return kl - key.length;
}

/** Compares two packed keys at offsets `a` and `b` of the same buffer. */
export function comparePackedKeys(buf: Uint8Array, a: number, b: number): number {
  const al = buf[a]! | (buf[a + 1]! << 8);
  const bl = buf[b]! | (buf[b + 1]! << 8);
  const n = al < bl ? al : bl;
  for (let j = 0; j < n; j++) {
    const d = buf[a + 2 + j]! - buf[b + 2 + j]!;
    if (d !== 0) return d;
  }
  return al - bl;
}
