/**
 * How a memtable orders its entries by key, and merges two sorted runs of them: the part of the
 * memtable that needs no JS object, only typed arrays, so that a helper thread can run it too
 * (background-merge.ts) on the same shared memory.
 *
 * An entry is a number; its key is `locs[e * LOC + KEY_LEN]` bytes at `locs[e * LOC + KEY_OFF]` of
 * `srcs[locs[e * LOC + SRC]]`, and `words[e]`, `words2[e]` are that key's bytes 0-5 and 6-11 as
 * numbers (wordIn). Keys order as bytes; words decide most comparisons without loading a key.
 *
 * Invariant of a merge: every txn of the newer run is above every txn of the older one, and a run is
 * ordered by key, then newest first; the merge keeps both (equal keys: the newer run's first).
 */

/** Bytes per word: six bytes are 48 bits, exact in a float64. */
export const WORD_BYTES = 6;
/** Bytes the two words cover: a comparison of keys whose words are equal starts past them. */
const WORDS_BYTES = 2 * WORD_BYTES;

/** Where an entry's bytes are: LOC numbers per entry in `locs`. */
export const SRC = 0;
export const KEY_OFF = 1;
export const KEY_LEN = 2;
export const VALUE_OFF = 3;
export const VALUE_LEN = 4;
/** INLINE, DELETED, or the index of the entry's value object (memtable.ts). */
export const OBJ = 5;
export const LOC = 6;

/** The columns that order entries. */
export interface EntryKeys {
  srcs: readonly Uint8Array[];
  locs: Int32Array;
  words: Float64Array;
  words2: Float64Array;
}

/**
 * The six bytes of `key` from `at`, big-endian, zero-padded, as a number: comparing words orders
 * keys unless equal. Audit keys share their first bytes (a tenant, then a timestamp's high bytes or
 * an index kind and value prefix), so one word rarely decides; two usually do.
 */
export function wordAt(key: Uint8Array, at: number): number {
  return wordIn(key, 0, key.length, at);
}

/** wordAt of the key `b[off, off + n)`. */
export function wordIn(b: Uint8Array, off: number, n: number, at: number): number {
  if (at + WORD_BYTES <= n) {
    const i = off + at;
    return (((b[i]! << 8) | b[i + 1]!) * 0x100000000) + ((b[i + 2]! << 24) >>> 0) + ((b[i + 3]! << 16) | (b[i + 4]! << 8) | b[i + 5]!);
  }
  let w = 0;
  for (let i = at; i < at + WORD_BYTES; i++) w = w * 256 + (i < n ? b[off + i]! : 0);
  return w;
}

/** Where a byte comparison of keys of these lengths starts when both their words are equal. */
export function pastWords(alen: number, blen: number): number {
  const m = alen < blen ? alen : blen;
  return m < WORDS_BYTES ? m : WORDS_BYTES;
}

/** Orders the `alen` bytes of `a` at `ao` against the `blen` bytes of `b` at `bo`, the first `from` being equal. */
export function compareAt(a: Uint8Array, ao: number, alen: number, b: Uint8Array, bo: number, blen: number, from: number): number {
  const n = alen < blen ? alen : blen;
  for (let i = from; i < n; i++) {
    const d = a[ao + i]! - b[bo + i]!;
    if (d !== 0) return d;
  }
  return alen - blen;
}

/** Orders the keys of entries `a` and `b`. */
export function compareEntries(k: EntryKeys, a: number, b: number): number {
  // -1 or 1, not the words' difference: a 48-bit difference is a heap number when returned.
  const wa = k.words[a]!;
  const wb = k.words[b]!;
  if (wa !== wb) return wa < wb ? -1 : 1;
  const w2a = k.words2[a]!;
  const w2b = k.words2[b]!;
  if (w2a !== w2b) return w2a < w2b ? -1 : 1;
  const locs = k.locs;
  const la = locs[a * LOC + KEY_LEN]!;
  const lb = locs[b * LOC + KEY_LEN]!;
  return compareAt(k.srcs[locs[a * LOC + SRC]!]!, locs[a * LOC + KEY_OFF]!, la, k.srcs[locs[b * LOC + SRC]!]!, locs[b * LOC + KEY_OFF]!, lb, pastWords(la, lb));
}

/**
 * Entries one run gives in a row before a merge switches to galloping. Runs of audit index keys
 * interleave in long stretches (one actor's, one tenant's keys, older commits' before newer ones'):
 * merged one comparison per entry, those merges were 9% of a 200,000-event ingest. After 3 the
 * ingest took 45-50 µs of CPU an event against 52-63 after 7 (three pairs; 1 and 2 were no better
 * than 3); random keys give three in a row one time in eight and the key-value rows did not move.
 */
const GALLOP_AFTER = 3;

/**
 * Writes the merge of runs `newer` and `older` (entry numbers, see the header) into `out`, which
 * holds exactly both.
 */
export function mergeIds(k: EntryKeys, newer: Int32Array, older: Int32Array, out: Int32Array): void {
  const na = newer.length;
  const nb = older.length;
  const as = newer;
  const bs = older;
  // Runs whose key ranges do not overlap (ascending keys: a feed, one tenant's events) are joined,
  // not merged. Equal keys at the seam must merge: the newer version goes first.
  if (na === 0 || nb === 0 || compareEntries(k, as[na - 1]!, bs[0]!) < 0) {
    out.set(as);
    out.set(bs, na);
    return;
  }
  if (compareEntries(k, bs[nb - 1]!, as[0]!) < 0) {
    out.set(bs);
    out.set(as, nb);
    return;
  }
  let a = 0;
  let b = 0;
  let o = 0;
  let ea = as[0]!;
  let eb = bs[0]!;
  // How many entries in a row each run has given: after GALLOP_AFTER, the rest of its stretch is
  // found by galloping and copied at once.
  let winsA = 0;
  let winsB = 0;
  for (;;) {
    // Equal keys: the newer run's versions go first (newest first within a key).
    if (compareEntries(k, ea, eb) <= 0) {
      out[o++] = ea;
      winsB = 0;
      if (++a === na) break;
      if (++winsA >= GALLOP_AFTER) {
        const end = stretchEnd(k, as, a, na, eb, true);
        out.set(as.subarray(a, end), o);
        o += end - a;
        a = end;
        winsA = 0;
        if (a === na) break;
      }
      ea = as[a]!;
    } else {
      out[o++] = eb;
      winsA = 0;
      if (++b === nb) break;
      if (++winsB >= GALLOP_AFTER) {
        const end = stretchEnd(k, bs, b, nb, ea, false);
        out.set(bs.subarray(b, end), o);
        o += end - b;
        b = end;
        winsB = 0;
        if (b === nb) break;
      }
      eb = bs[b]!;
    }
  }
  if (a < na) out.set(as.subarray(a), o);
  else out.set(bs.subarray(b), o);
}

/**
 * Writes the merge of every run of `runs` (oldest first, as a memtable stacks them) into `out`,
 * which holds them all: neighbours merge in pairs, pass after pass, so an entry moves about log2(runs)
 * times and equal keys stay newest first.
 */
export function mergeAll(k: EntryKeys, runs: readonly Int32Array[], out: Int32Array): void {
  if (runs.length === 1) {
    out.set(runs[0]!);
    return;
  }
  let level = runs;
  while (level.length > 2) {
    const next: Int32Array[] = [];
    // Pairs from the newest end; an odd oldest run waits for the next pass.
    for (let i = level.length - 1; i >= 1; i -= 2) {
      const merged = new Int32Array(level[i]!.length + level[i - 1]!.length);
      mergeIds(k, level[i]!, level[i - 1]!, merged);
      next.push(merged);
    }
    if (level.length % 2 === 1) next.push(level[0]!);
    level = next.reverse();
  }
  mergeIds(k, level[1]!, level[0]!, out);
}

/** Whether entries `a` and `b` hold the same key. */
export function sameKeyEntries(k: EntryKeys, a: number, b: number): boolean {
  if (k.words[a] !== k.words[b] || k.words2[a] !== k.words2[b]) return false;
  const locs = k.locs;
  const la = locs[a * LOC + KEY_LEN]!;
  return la === locs[b * LOC + KEY_LEN] && compareAt(k.srcs[locs[a * LOC + SRC]!]!, locs[a * LOC + KEY_OFF]!, la, k.srcs[locs[b * LOC + SRC]!]!, locs[b * LOC + KEY_OFF]!, la, pastWords(la, la)) === 0;
}

/**
 * Marks, in a merged run, every entry that holds the same key as the one before it (an older
 * version, which a fold skips) by storing it as `~entry` (negative): what a fold would otherwise
 * find out with a key comparison per entry, done where the merge was.
 */
export function markRepeats(k: EntryKeys, ids: Int32Array): void {
  let prev = ids.length > 0 ? ids[0]! : 0;
  for (let i = 1; i < ids.length; i++) {
    const e = ids[i]!;
    if (sameKeyEntries(k, prev, e)) ids[i] = ~e;
    else prev = e;
  }
}

function goesBefore(c: number, orEqual: boolean): boolean {
  return c < 0 || (orEqual && c === 0);
}

/**
 * The end of the stretch of `ids` from `from` (to `n`) that goes before entry `pivot` of the other
 * run: keys below the pivot's, and equal ones too when `orEqual` (the newer run's). Exponential
 * steps, then a binary search: about 2 log2(stretch) comparisons instead of one per entry.
 */
function stretchEnd(k: EntryKeys, ids: Int32Array, from: number, n: number, pivot: number, orEqual: boolean): number {
  let lo = from;
  let hi = from;
  let step = 1;
  while (hi < n && goesBefore(compareEntries(k, ids[hi]!, pivot), orEqual)) {
    lo = hi + 1;
    hi = from + step;
    step *= 2;
  }
  if (hi > n) hi = n;
  // Every entry in [from, lo) goes; the one at hi (if any) does not.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (goesBefore(compareEntries(k, ids[mid]!, pivot), orEqual)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
