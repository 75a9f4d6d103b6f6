/**
 * The LZ4 block format, compressed and decompressed here in TypeScript. It replaces the lz4-napi
 * addon, whose synchronous calls never free the buffers they return (about 1 KB more resident
 * memory for every page compressed: a store with `compression: 'lz4'` grew to 3.7 GB over 3,000,000
 * random puts; lz4-napi issue 678), and it reads every block that addon wrote.
 *
 * Stored form (a page, WAL record or blob with codec flag 2): the raw length as a u32
 * little-endian, then one LZ4 block, as lz4-napi's compressSync wrote it.
 *
 * A block is a series of sequences, each:
 *
 *   token        1 byte: high nibble the literal count, low nibble the match length less 4; a
 *                nibble of 15 means more: bytes follow, each added, the last one below 255
 *   literals     the literal count's bytes, copied as they are
 *   offset       u16 little-endian, 1..65535: how far back from here the match starts
 *   (more match length bytes, when the low nibble is 15)
 *
 * The last sequence is literals only and ends the block. Rules every encoder keeps so that every
 * decoder accepts its blocks (and which this one keeps): a match is at least 4 bytes, the last 5
 * bytes of the input are literals, and the last match starts at least 12 bytes before the end.
 *
 * The decoder checks every length and offset against both buffers and the raw length, and throws a
 * CodecDecodeError for a block that breaks any of them: a damaged page must never read outside
 * its bytes or come out a different length.
 */
import { readU16, writeU16 } from '../util/binary.js';
import { CodecDecodeError } from './page-codec.js';

const MIN_MATCH = 4;
const LAST_LITERALS = 5;
const MF_LIMIT = 12;
const MAX_OFFSET = 65535;
/** Bits of the match finder's hash table (positions of 4-byte sequences seen). */
const HASH_BITS = 13;
/** After 2^SKIP_BITS positions without a match, the finder steps 2 bytes at a time, then 3... */
const SKIP_BITS = 6;

/** Largest block the compressor can write for `n` input bytes (incompressible input, in literals). */
export function lz4BlockBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

/**
 * Positions of 4-byte sequences by hash, each stored plus `base`: every call moves base past the
 * last call's positions and the longest offset, so entries left from earlier calls read as too far
 * back, and the table needs no clearing (32 KB of writes per page).
 */
const table = new Int32Array(1 << HASH_BITS);
let base = 0;

function hash(seq: number): number {
  return Math.imul(seq, -1640531535) >>> (32 - HASH_BITS);
}

/** Writes a length's continuation bytes (its nibble was 15) at `d`; returns where they end. */
function writeMore(dst: Uint8Array, d: number, rest: number): number {
  while (rest >= 255) {
    dst[d++] = 255;
    rest -= 255;
  }
  dst[d++] = rest;
  return d;
}

/** Copies src[s, s + n) to dst[d]: a loop for the short runs most literals are, `set` above. */
function copyBytes(src: Uint8Array, s: number, n: number, dst: Uint8Array, d: number): void {
  if (n > 32) dst.set(src.subarray(s, s + n), d);
  else for (let i = 0; i < n; i++) dst[d + i] = src[s + i]!;
}

/** Writes one sequence: literals src[from, from + lits), then (unless `offset` is 0) a match. */
function writeSequence(src: Uint8Array, from: number, lits: number, offset: number, matchLen: number, dst: Uint8Array, d: number): number {
  const token = d++;
  if (lits >= 15) d = writeMore(dst, d, lits - 15);
  copyBytes(src, from, lits, dst, d);
  d += lits;
  let tok = (lits >= 15 ? 15 : lits) << 4;
  if (offset > 0) {
    writeU16(dst, d, offset);
    d += 2;
    const extra = matchLen - MIN_MATCH;
    if (extra >= 15) d = writeMore(dst, d, extra - 15);
    tok |= extra >= 15 ? 15 : extra;
  }
  dst[token] = tok;
  return d;
}

/**
 * Compresses `src` as one LZ4 block into `dst` from index `at` (room for lz4BlockBound(src.length)
 * bytes needed); returns the block's length. Greedy: the first match the hash table offers at each
 * position, extended both ways.
 */
export function lz4CompressBlock(src: Uint8Array, dst: Uint8Array, at: number): number {
  const n = src.length;
  const view = new DataView(src.buffer, src.byteOffset, src.length);
  let d = at;
  let anchor = 0;
  if (n > MF_LIMIT) {
    const t = table;
    if (base > 0x3fffffff - n) {
      t.fill(0);
      base = 0;
    }
    base += MAX_OFFSET + 1;
    const b0 = base;
    base += n;
    // A match must start before lastStart and end by matchLimit (see the module comment).
    const lastStart = n - MF_LIMIT;
    const matchLimit = n - LAST_LITERALS;
    let ip = 0;
    let misses = 1 << SKIP_BITS;
    while (ip < lastStart) {
      const seq = view.getInt32(ip, true);
      const h = hash(seq);
      const ref = t[h]! - b0;
      t[h] = ip + b0;
      if (ref < 0 || ip - ref > MAX_OFFSET || view.getInt32(ref, true) !== seq) {
        ip += misses++ >> SKIP_BITS;
        continue;
      }
      misses = 1 << SKIP_BITS;
      let start = ip;
      let back = ref;
      while (start > anchor && back > 0 && src[start - 1] === src[back - 1]) {
        start--;
        back--;
      }
      let end = ip + MIN_MATCH;
      let from = ref + MIN_MATCH;
      while (end + 4 <= matchLimit && view.getInt32(end, true) === view.getInt32(from, true)) {
        end += 4;
        from += 4;
      }
      while (end < matchLimit && src[end] === src[from]) {
        end++;
        from++;
      }
      d = writeSequence(src, anchor, start - anchor, start - back, end - start, dst, d);
      anchor = ip = end;
      // The position two back goes in the table too: the next match often starts just behind here.
      if (ip - 2 < lastStart) t[hash(view.getInt32(ip - 2, true))] = ip - 2 + b0;
    }
  }
  return writeSequence(src, anchor, n - anchor, 0, 0, dst, d) - at;
}

/** Throws the error a damaged block gets. */
function malformed(why: string): never {
  throw new CodecDecodeError(`lz4 block is malformed: ${why}`);
}

/**
 * Decompresses the LZ4 block src[from, end) into all of `dst`, which must come out exactly full;
 * throws a CodecDecodeError otherwise.
 */
export function lz4DecompressBlock(src: Uint8Array, from: number, end: number, dst: Uint8Array): void {
  const n = dst.length;
  let s = from;
  let d = 0;
  if (end > src.length) malformed('it runs past its buffer');
  for (;;) {
    if (s >= end) malformed('it ends inside a sequence');
    const token = src[s++]!;
    let lits = token >>> 4;
    if (lits === 15) {
      let b: number;
      do {
        if (s >= end) malformed('it ends inside a literal length');
        b = src[s++]!;
        lits += b;
      } while (b === 255);
    }
    if (s + lits > end) malformed('literals run past its end');
    if (d + lits > n) malformed('literals run past the raw length');
    copyBytes(src, s, lits, dst, d);
    s += lits;
    d += lits;
    if (s === end) break;
    if (s + 2 > end) malformed('it ends inside an offset');
    const offset = readU16(src, s);
    s += 2;
    if (offset === 0 || offset > d) malformed(`offset ${offset} reaches before the start of the output`);
    let len = (token & 15) + MIN_MATCH;
    if ((token & 15) === 15) {
      let b: number;
      do {
        if (s >= end) malformed('it ends inside a match length');
        b = src[s++]!;
        len += b;
      } while (b === 255);
    }
    if (d + len > n) malformed('a match runs past the raw length');
    let m = d - offset;
    // A match longer than its offset repeats bytes it is still writing: it must go byte by byte.
    if (offset >= len && len > 32) {
      dst.copyWithin(d, m, m + len);
      d += len;
    } else {
      for (const stop = d + len; d < stop; ) dst[d++] = dst[m++]!;
    }
  }
  if (d !== n) malformed(`it decompresses to ${d} bytes, ${n} expected`);
}
