/**
 * Stable sort of items (or of indexes) by a byte-string key, for the write buffer's merge order and
 * the memtable's runs. A comparator sort
 * calls back into JS for every comparison (n log n of them); this one sorts numbers natively instead.
 *
 * Each item gets one float64: the 4 key bytes after the prefix every key shares (a big-endian u32,
 * short keys padded with zeros) times 2^20, plus the item's index. Sorting those numbers orders the
 * items by that word, and items with equal words by index. Only runs of equal words, which the word
 * cannot tell apart, are then sorted by whole key (stable, so the index order survives among equal
 * keys). Random keys almost never tie; keys that share a long prefix (a tenant, then a timestamp)
 * are told apart by the bytes after it.
 */
import { compareBytes } from './bytes.js';

/** Item indexes must fit below 2^20 for word * 2^20 + index to stay an exact float64 (2^52). */
const INDEX_BITS = 20;
const INDEX_SPAN = 2 ** INDEX_BITS;
/** Below this many items a comparator sort is as fast. */
const MIN_WORD_SORT = 64;

/** The items in ascending key order; items with equal keys keep their relative order. */
export function sortByKey<T extends { key: Uint8Array }>(items: readonly T[]): T[] {
  const order = keyOrder(items.map((item) => item.key));
  const out = new Array<T>(items.length);
  for (let i = 0; i < out.length; i++) out[i] = items[order[i]!]!;
  return out;
}

/** Indexes of `keys` in ascending key order; equal keys keep their index order. */
export function keyOrder(keys: readonly Uint8Array[]): Uint32Array {
  const n = keys.length;
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  if (n < 2) return out;
  if (n < MIN_WORD_SORT || n >= INDEX_SPAN) {
    return Uint32Array.from([...out].sort((a, b) => compareBytes(keys[a]!, keys[b]!) || a - b));
  }

  const first = keys[0]!;
  let shared = first.length;
  for (let i = 1; i < n && shared > 0; i++) {
    const k = keys[i]!;
    const m = Math.min(shared, k.length);
    let j = 0;
    while (j < m && k[j] === first[j]) j++;
    shared = j;
  }

  const order = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    const e = k.length;
    const b0 = shared < e ? k[shared]! : 0;
    const b1 = shared + 1 < e ? k[shared + 1]! : 0;
    const b2 = shared + 2 < e ? k[shared + 2]! : 0;
    const b3 = shared + 3 < e ? k[shared + 3]! : 0;
    order[i] = (((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0) * INDEX_SPAN + i;
  }
  order.sort();

  for (let i = 0; i < n; i++) out[i] = order[i]! % INDEX_SPAN;
  // Runs whose word ties are ordered by index; sort each by whole key (stable).
  let runStart = 0;
  for (let i = 1; i <= n; i++) {
    if (i < n && Math.floor(order[i]! / INDEX_SPAN) === Math.floor(order[runStart]! / INDEX_SPAN)) continue;
    if (i - runStart > 1) {
      const run = Array.from(out.subarray(runStart, i)).sort((a, b) => compareBytes(keys[a]!, keys[b]!) || a - b);
      out.set(run, runStart);
    }
    runStart = i;
  }
  return out;
}
