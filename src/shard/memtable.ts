/**
 * The memtable of one user table: what commits since the last fold wrote to it, in key order, in
 * memory. A commit's writes land here once its WAL record is written, instead of being merged into
 * the B+tree one key at a time (a random leaf per key); a checkpoint folds the whole memtable into the
 * tree in key order, so each leaf is rewritten once for many commits. It holds exactly what the WAL
 * holds since the last checkpoint, so recovery rebuilds it by replaying the WAL: it has no format.
 *
 * Layout: entries sorted by key, in chunks of at most CHUNK_MAX, plus an array of every chunk's first
 * key (a two-level sorted array: finding a key is two binary searches, and an insert moves at most
 * one chunk). Each entry is its key's newest version (txn, value; value null for a deletion) and
 * links the older ones, newest first: one object per key for the common case of a key written once.
 * Beside the entries, each chunk keeps their keys' first four bytes as numbers ("words"), and so does
 * the array of first keys: the binary searches compare those packed numbers and load a whole key only
 * on a tie, instead of chasing three pointers per comparison on a table too big for the CPU cache.
 *
 * Invariants:
 * - A memtable sits over one tree root that does not change while the memtable is current: a fold or
 *   a clear of the table starts a new memtable, and versions of the shard that read the old one keep
 *   the old root with it.
 * - A reader at txn T sees, per key, the newest version with txn <= T; a key without one is not in the
 *   memtable for that reader (the tree answers).
 * - Commits arrive in increasing txn order, each key at most once per commit; a rollback removes the
 *   newest commits.
 */
import type { LeafValue } from '../btree/node.js';
import { valueBodySize } from '../btree/node.js';
import { compareBytes } from '../util/bytes.js';

/** A value, or null for a deletion. */
export type MemValue = LeafValue | null;

/** A value of a key as of one commit. */
export interface MemVersion {
  readonly txn: number;
  readonly value: MemValue;
  readonly older: OlderVersion | null;
}

/** A version some later commit superseded. */
export class OlderVersion implements MemVersion {
  constructor(
    readonly txn: number,
    readonly value: MemValue,
    readonly older: OlderVersion | null,
  ) {}
}

/** One key: its newest version, inline. */
export class MemEntry implements MemVersion {
  /** Whether the tree under the memtable holds this key; computed when a count first needs it. */
  inTree: boolean | undefined = undefined;

  constructor(
    readonly key: Uint8Array,
    public txn: number,
    public value: MemValue,
    public older: OlderVersion | null,
  ) {}
}

/** The first four bytes of a key, big-endian, zero-padded: comparing words orders keys unless equal. */
function wordOf(key: Uint8Array): number {
  return ((key[0] ?? 0) * 0x1000000 + ((key[1] ?? 0) << 16)) + ((key[2] ?? 0) << 8) + (key[3] ?? 0);
}

/** Entries sorted by key, and their words. */
class Chunk {
  constructor(
    readonly entries: MemEntry[],
    readonly words: number[],
  ) {}
}

/** The version of `e` a reader at `txn` sees, or null when every version is newer. */
export function visibleVersion(e: MemEntry, txn: number): MemVersion | null {
  let v: MemVersion | null = e;
  while (v !== null && v.txn > txn) v = v.older;
  return v;
}

interface CommitRecord {
  txn: number;
  entries: MemEntry[];
  bytes: number;
}

/** An insert splits a chunk above this size into halves. */
const CHUNK_MAX = 128;
/** Bookkeeping per version (objects, pointers), counted with the bytes it holds. */
const VERSION_OVERHEAD = 64;

export class MemTable {
  private chunks: Chunk[] = [];
  private firsts: Uint8Array[] = [];
  private firstWords: number[] = [];
  private commits: CommitRecord[] = [];
  /** sums[i]: the change in entry count made by commits[0..i], computed as far as asked. */
  private sums: number[] = [];
  /** Keys held. */
  size = 0;
  /** Bytes of keys and values held, plus bookkeeping: what folding it would free. */
  bytes = 0;
  /** Bumped by every change of positions, so cursors know to find their place again. */
  mod = 0;

  /** `treeHas` answers whether the tree under this memtable holds a key. */
  constructor(private readonly treeHas: (key: Uint8Array) => boolean) {}

  /**
   * Adds one commit's writes, in the order made: a later write of a key replaces an earlier one of the
   * same commit, whose value goes to `superseded` (it never reaches the tree).
   */
  add(txn: number, keys: readonly Uint8Array[], values: readonly MemValue[], superseded: (value: MemValue) => void): void {
    const entries: MemEntry[] = [];
    let bytes = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const value = values[i]!;
      const e = this.put(key, value, txn, superseded);
      if (e !== null) entries.push(e);
      bytes += key.length + (value === null ? 0 : valueBodySize(value)) + VERSION_OVERHEAD;
    }
    this.commits.push({ txn, entries, bytes });
    this.bytes += bytes;
    this.mod++;
  }

  /** Removes every commit above `txn` (their WAL records were lost). */
  rollback(txn: number): void {
    while (this.commits.length > 0 && this.commits[this.commits.length - 1]!.txn > txn) {
      const rec = this.commits.pop()!;
      for (const e of rec.entries) {
        const older = e.older;
        if (older) {
          e.txn = older.txn;
          e.value = older.value;
          e.older = older.older;
        } else {
          this.remove(e.key);
        }
      }
      this.bytes -= rec.bytes;
    }
    if (this.sums.length > this.commits.length) this.sums.length = this.commits.length;
    this.mod++;
  }

  /** The version of `key` a reader at `txn` sees, or null. */
  find(key: Uint8Array, txn: number): MemVersion | null {
    if (this.size === 0) return null;
    const word = wordOf(key);
    const chunk = this.chunks[this.chunkFor(key, word)]!;
    const i = search(chunk, key, word);
    return i >= 0 ? visibleVersion(chunk.entries[i]!, txn) : null;
  }

  /** How many entries the commits up to `txn` added to the tree's count (negative: removed). */
  countDelta(txn: number): number {
    let n = this.commits.length;
    while (n > 0 && this.commits[n - 1]!.txn > txn) n--;
    while (this.sums.length < n) {
      const k = this.sums.length;
      this.sums.push((k > 0 ? this.sums[k - 1]! : 0) + this.commitDelta(this.commits[k]!));
    }
    return n > 0 ? this.sums[n - 1]! : 0;
  }

  /** Every entry in key order (for folding into the tree and for releasing values). */
  *entries(): IterableIterator<MemEntry> {
    for (const chunk of this.chunks) yield* chunk.entries;
  }

  /** A cursor over what a reader at `txn` sees. */
  cursor(txn: number, reverse: boolean): MemCursor {
    return new MemCursor(this, txn, reverse);
  }

  /** @internal Position of the first entry >= key (> when exclusive), as [chunk, index]. */
  lowerBound(key: Uint8Array | null, exclusive: boolean): [number, number] {
    if (this.chunks.length === 0 || key === null) return [0, 0];
    const word = wordOf(key);
    const c = this.chunkFor(key, word);
    const { entries, words } = this.chunks[c]!;
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const w = words[mid]!;
      const cmp = w !== word ? w - word : compareBytes(entries[mid]!.key, key);
      if (cmp < 0 || (cmp === 0 && exclusive)) lo = mid + 1;
      else hi = mid;
    }
    return lo < entries.length ? [c, lo] : [c + 1, 0];
  }

  /** @internal The entry at a position, or null past either end. */
  at(c: number, i: number): MemEntry | null {
    return this.chunks[c]?.entries[i] ?? null;
  }

  /** @internal The position after (dir 1) or before (dir -1) one, which may be past either end. */
  step(c: number, i: number, dir: 1 | -1): [number, number] {
    if (dir === 1) return i + 1 < (this.chunks[c]?.entries.length ?? 0) ? [c, i + 1] : [c + 1, 0];
    if (i > 0) return [c, i - 1];
    return c > 0 ? [c - 1, this.chunks[c - 1]!.entries.length - 1] : [-1, 0];
  }

  /** @internal The position of the last entry, or [-1, 0] when empty. */
  lastPosition(): [number, number] {
    const c = this.chunks.length - 1;
    return c >= 0 ? [c, this.chunks[c]!.entries.length - 1] : [-1, 0];
  }

  private commitDelta(rec: CommitRecord): number {
    let delta = 0;
    for (const e of rec.entries) {
      let v: MemVersion = e;
      while (v.txn > rec.txn) v = v.older!;
      const before = v.older ? v.older.value !== null : this.inTree(e);
      delta += (v.value !== null ? 1 : 0) - (before ? 1 : 0);
    }
    return delta;
  }

  private inTree(e: MemEntry): boolean {
    if (e.inTree === undefined) e.inTree = this.treeHas(e.key);
    return e.inTree;
  }

  /** Index of the last chunk whose first key is <= key (0 when none is). */
  private chunkFor(key: Uint8Array, word: number): number {
    const words = this.firstWords;
    let lo = 0;
    let hi = words.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const w = words[mid]!;
      if (w < word || (w === word && compareBytes(this.firsts[mid]!, key) <= 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? lo - 1 : 0;
  }

  /** Writes one key; returns its entry, or null when the commit had written the key already. */
  private put(key: Uint8Array, value: MemValue, txn: number, superseded: (value: MemValue) => void): MemEntry | null {
    const word = wordOf(key);
    if (this.chunks.length === 0) {
      const e = new MemEntry(key, txn, value, null);
      this.chunks.push(new Chunk([e], [word]));
      this.firsts.push(key);
      this.firstWords.push(word);
      this.size++;
      return e;
    }
    const c = this.chunkFor(key, word);
    const { entries, words } = this.chunks[c]!;
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const w = words[mid]!;
      const cmp = w !== word ? w - word : compareBytes(entries[mid]!.key, key);
      if (cmp === 0) {
        const e = entries[mid]!;
        if (e.txn === txn) {
          superseded(e.value);
          e.value = value;
          return null;
        }
        e.older = new OlderVersion(e.txn, e.value, e.older);
        e.txn = txn;
        e.value = value;
        return e;
      }
      if (cmp < 0) lo = mid + 1;
      else hi = mid;
    }
    const e = new MemEntry(key, txn, value, null);
    insertAt(entries, lo, e);
    insertAt(words, lo, word);
    if (lo === 0) {
      this.firsts[c] = key;
      this.firstWords[c] = word;
    }
    if (entries.length > CHUNK_MAX) {
      const half = CHUNK_MAX >>> 1;
      const tail = new Chunk(entries.splice(half), words.splice(half));
      this.chunks.splice(c + 1, 0, tail);
      this.firsts.splice(c + 1, 0, tail.entries[0]!.key);
      this.firstWords.splice(c + 1, 0, tail.words[0]!);
    }
    this.size++;
    return e;
  }

  private remove(key: Uint8Array): void {
    const word = wordOf(key);
    const c = this.chunkFor(key, word);
    const chunk = this.chunks[c]!;
    const i = search(chunk, key, word);
    chunk.entries.splice(i, 1);
    chunk.words.splice(i, 1);
    if (chunk.entries.length === 0) {
      this.chunks.splice(c, 1);
      this.firsts.splice(c, 1);
      this.firstWords.splice(c, 1);
    } else if (i === 0) {
      this.firsts[c] = chunk.entries[0]!.key;
      this.firstWords[c] = chunk.words[0]!;
    }
    this.size--;
  }
}

/** Inserts `x` at index `i` of a short array: a plain loop beats the generic splice here. */
function insertAt<T>(a: T[], i: number, x: T): void {
  let j = a.length;
  a.push(x);
  for (; j > i; j--) a[j] = a[j - 1]!;
  a[i] = x;
}

/** Index of `key` (whose word is `word`) in a chunk, or -1. */
function search(chunk: Chunk, key: Uint8Array, word: number): number {
  const { entries, words } = chunk;
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const w = words[mid]!;
    const cmp = w !== word ? w - word : compareBytes(entries[mid]!.key, key);
    if (cmp === 0) return mid;
    if (cmp < 0) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

/**
 * Walks the entries a reader at one txn sees (deletions included, so a merge with the tree can hide
 * what they delete), in one direction. Commits made while it walks move entries: it then finds its
 * place again from the last key it returned. It returns entries, not versions: a later commit of the
 * key changes the entry's inline newest version, so ask visibleVersion when the value is needed.
 */
export class MemCursor {
  private c = 0;
  private i = 0;
  private mod = -1;
  private last: Uint8Array | null = null;
  private readonly dir: 1 | -1;

  constructor(
    private readonly mem: MemTable,
    private readonly txn: number,
    private readonly reverse: boolean,
  ) {
    this.dir = reverse ? -1 : 1;
  }

  /**
   * The first visible entry at or past `key` in the cursor's direction (strictly past when
   * `exclusive`), or from the start when `key` is null; null when there is none.
   */
  seek(key: Uint8Array | null, exclusive: boolean): MemEntry | null {
    this.position(key, exclusive);
    return this.settle();
  }

  /** The next visible entry, or null at the end. */
  next(): MemEntry | null {
    if (this.mod !== this.mem.mod) {
      if (this.last === null) return null;
      this.position(this.last, true);
    } else {
      [this.c, this.i] = this.mem.step(this.c, this.i, this.dir);
    }
    return this.settle();
  }

  private position(key: Uint8Array | null, exclusive: boolean): void {
    this.mod = this.mem.mod;
    if (!this.reverse) {
      [this.c, this.i] = this.mem.lowerBound(key, exclusive);
    } else if (key === null) {
      [this.c, this.i] = this.mem.lastPosition();
    } else {
      // The last entry before the first one past `key`.
      const [c, i] = this.mem.lowerBound(key, !exclusive);
      [this.c, this.i] = this.mem.step(c, i, -1);
    }
  }

  /** Skips entries with nothing visible to this reader. */
  private settle(): MemEntry | null {
    for (;;) {
      const e = this.mem.at(this.c, this.i);
      if (e === null) {
        this.last = null;
        return null;
      }
      if (visibleVersion(e, this.txn) !== null) {
        this.last = e.key;
        return e;
      }
      [this.c, this.i] = this.mem.step(this.c, this.i, this.dir);
    }
  }
}
