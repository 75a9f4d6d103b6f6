/**
 * Keys stored packed inside node buffers: a u16 length then the bytes (leaf entries and branch
 * separators share this prefix). Comparing in place avoids creating a view per probe. Searches also
 * use probe words: the 4 bytes after the keys' common prefix, compared as numbers, whole keys being
 * compared only on ties (zero padding can only make a shorter key tie, never misorder it).
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

/** The 4 bytes of `buf` from `at` (past `end` read as zero) as a big-endian u32: a probe word. */
export function probeWord(buf: Uint8Array, at: number, end: number): number {
  const b0 = at < end ? buf[at]! : 0;
  const b1 = at + 1 < end ? buf[at + 1]! : 0;
  const b2 = at + 2 < end ? buf[at + 2]! : 0;
  const b3 = at + 3 < end ? buf[at + 3]! : 0;
  return ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
}

/** Length of the common prefix of the packed keys at offsets `a` and `b` of `buf`. */
export function sharedPrefix(buf: Uint8Array, a: number, b: number): number {
  const al = buf[a]! | (buf[a + 1]! << 8);
  const bl = buf[b]! | (buf[b + 1]! << 8);
  let cp = 0;
  while (cp < al && cp < bl && buf[a + 2 + cp] === buf[b + 2 + cp]) cp++;
  return cp;
}

/**
 * Where `key` falls against a prefix of `cp` bytes starting at `s` in `buf`: -1 before every key
 * sharing it, 1 after, 0 when the key starts with it (then probe words decide).
 */
export function comparePrefix(buf: Uint8Array, s: number, cp: number, key: Uint8Array): -1 | 0 | 1 {
  const m = cp < key.length ? cp : key.length;
  for (let j = 0; j < m; j++) {
    const d = key[j]! - buf[s + j]!;
    if (d < 0) return -1;
    if (d > 0) return 1;
  }
  return key.length < cp ? -1 : 0;
}
