/**
 * ULIDs: 48-bit millisecond time + 80 random bits, written as 26 Crockford base32 characters
 * (uppercase, no I L O U), which sort like their 16 binary bytes. A generator is monotonic within one
 * millisecond (the random part is incremented), so ids made in one process for one time sort in the
 * order they were made. Keys store ULIDs as their 16 binary bytes; `isCanonicalUlid` decides which
 * strings round-trip through that form exactly (anything else is kept as the caller's own id).
 */
import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Largest time a ULID can carry (2^48 - 1 ms). */
export const MAX_ULID_TIME = 2 ** 48 - 1;

const pool = Buffer.allocUnsafe(10 * 256);
let poolPos = pool.length;
const lastRandom = new Uint8Array(10);
let lastTime = -1;

/** Fills `out[off..off+16)` with a new ULID for `time` (ms) and returns its string form. */
export function newUlid(time: number, out?: Uint8Array, off = 0): string {
  const bytes = out ?? new Uint8Array(16);
  const t = time < 0 ? 0 : time > MAX_ULID_TIME ? MAX_ULID_TIME : Math.floor(time);
  if (t === lastTime) {
    // Monotonic within a millisecond: add one to the 80-bit random part.
    let i = 9;
    while (i >= 0 && lastRandom[i] === 255) lastRandom[i--] = 0;
    if (i >= 0) lastRandom[i]!++;
  } else {
    if (poolPos + 10 > pool.length) {
      randomFillSync(pool);
      poolPos = 0;
    }
    for (let i = 0; i < 10; i++) lastRandom[i] = pool[poolPos + i]!;
    poolPos += 10;
    lastTime = t;
  }
  const hi = Math.floor(t / 2 ** 32);
  const lo = t >>> 0;
  bytes[off] = (hi >>> 8) & 255;
  bytes[off + 1] = hi & 255;
  bytes[off + 2] = lo >>> 24;
  bytes[off + 3] = (lo >>> 16) & 255;
  bytes[off + 4] = (lo >>> 8) & 255;
  bytes[off + 5] = lo & 255;
  for (let i = 0; i < 10; i++) bytes[off + 6 + i] = lastRandom[i]!;
  return ulidToString(bytes, off);
}

/** The 26-character string of the 16 bytes at `b[off..]`. */
export function ulidToString(b: Uint8Array, off = 0): string {
  // 128 bits as 26 five-bit groups, the first group holding only the top 3 bits (2 padding bits).
  let acc = 0;
  let bits = 2; // the 2 implicit zero bits in front
  let n = 0;
  for (let i = 0; i < 16; i++) {
    acc = ((acc << 8) | b[off + i]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      CODES[n++] = ALPHABET_CODES[(acc >>> bits) & 31]!;
    }
  }
  // One string from 26 codes instead of 26 concatenations.
  return String.fromCharCode.apply(null, CODES as unknown as number[]);
}

/**
 * Writes the 26 characters of the ULID whose 16 bytes are at `b[off..]` as ASCII bytes into
 * `out[o..]` and returns where they end: for readers that build text as bytes, with no string
 * made for the id alone.
 */
export function writeUlidChars(b: Uint8Array, off: number, out: Uint8Array, o: number): number {
  let acc = 0;
  let bits = 2; // as in ulidToString
  for (let i = 0; i < 16; i++) {
    acc = ((acc << 8) | b[off + i]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[o++] = ALPHABET_CODES[(acc >>> bits) & 31]!;
    }
  }
  return o;
}

const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
const CODES = new Array<number>(26).fill(0);

/** True when `s` is an uppercase 26-character ULID whose binary form gives back exactly `s`. */
export function isCanonicalUlid(s: string): boolean {
  if (s.length !== 26) return false;
  const c0 = s.charCodeAt(0);
  if (c0 < 48 || c0 > 55) return false; // first char 0-7: the value fits 128 bits
  for (let i = 1; i < 26; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || DECODE[c]! < 0) return false;
  }
  return true;
}

/** Writes the 16 bytes of canonical ULID `s` into `out[off..]`. */
export function ulidToBytes(s: string, out: Uint8Array, off = 0): void {
  let acc = 0;
  let bits = -2; // drop the 2 padding bits of the first character
  let o = off;
  for (let i = 0; i < 26; i++) {
    acc = ((acc << 5) | DECODE[s.charCodeAt(i)]!) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 255;
    }
  }
}

/** The millisecond time a ULID carries. */
export function ulidTime(s: string): number {
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + DECODE[s.charCodeAt(i)]!;
  return t;
}
