/**
 * The memtable of one user table: what commits since the last fold wrote to it, in key order, in
 * memory. A commit's writes land here once its WAL record is written, instead of being merged into
 * the B+tree one key at a time (a random leaf per key); a checkpoint folds the whole memtable into
 * the tree in key order, so each leaf is rewritten once for many commits. It holds exactly what the WAL
 * holds since the last checkpoint, so recovery rebuilds it by replaying the WAL: it has no format.
 *
 * Layout: a stack of immutable sorted runs, newest last. A commit sorts its writes into a run of its
 * own and pushes it; while the run below is no larger, the two merge into one (a binary counter: each
 * write is merged about log2(n / commit size) times, in sequential passes, and there are that many
 * runs at most). Merging also when the run below is up to twice as large kept fewer runs but merged
 * each write 60% more often: bulk loads ran 20-40% slower.
 * A run is parallel arrays, no object per entry: keys, their first four bytes as numbers ("words",
 * which binary searches compare before loading a key), txns and values (null for a deletion).
 * Within a run, entries are ordered by key, then newest txn first.
 *
 * Invariants:
 * - A memtable sits over one tree root that does not change while the memtable is current: a fold or
 *   a clear of the table starts a new memtable, and versions of the shard that read the old one keep
 *   the old root with it.
 * - Every txn in a run is newer than every txn in the runs below it (only neighbours merge).
 * - A reader at txn T sees, per key, the newest version with txn <= T; a key without one is not in the
 *   memtable for that reader (the tree answers). Runs never change, so a cursor keeps the runs it
 *   started with: later commits cannot disturb it.
 * - Commits arrive in increasing txn order; a rollback removes the newest ones.
 */
import { OutOfLineValue, valueBodySize, type LeafValue } from '../../btree/node.js';
import { keyOrder } from '../../util/key-sort.js';

/** A value, or null for a deletion. */
export type MemValue = LeafValue | null;

/** Bookkeeping per write (array slots, the views of its bytes), counted with the bytes it holds. */
const WRITE_OVERHEAD = 64;

/** Memory a value held by the memtable takes: an out-of-line value's whole body, not its leaf ref. */
function heldBytes(value: MemValue): number {
  if (value instanceof Uint8Array) return value.length;
  if (value === null) return 0;
  return value instanceof OutOfLineValue ? value.data.length : valueBodySize(value);
}

/** The first four bytes of a key, big-endian, zero-padded: comparing words orders keys unless equal. */
function wordOf(key: Uint8Array): number {
  return (key[0] ?? 0) * 0x1000000 + ((key[1] ?? 0) << 16) + ((key[2] ?? 0) << 8) + (key[3] ?? 0);
}

/** Orders the `alen` bytes of `a` at `ao` against the `blen` bytes of `b` at `bo`. */
function compareAt(a: Uint8Array, ao: number, alen: number, b: Uint8Array, bo: number, blen: number): number {
  const n = alen < blen ? alen : blen;
  for (let i = 0; i < n; i++) {
    const d = a[ao + i]! - b[bo + i]!;
    if (d !== 0) return d;
  }
  return alen - blen;
}

/** Where an entry's bytes are, four numbers per entry in Run.locs. */
const KEY_OFF = 0;
const KEY_LEN = 1;
const VALUE_OFF = 2;
const VALUE_LEN = 3;
const LOC = 4;

/**
 * An immutable sorted run, as parallel arrays: no object per entry. An entry's key, and its value when
 * stored inline, are bytes of `srcs[i]` (the commit log arena the commit was written into, or a
 * replayed record's payload) at the offsets in `locs`; `values[i]` is undefined for such an inline
 * value, null for a deletion, or the value object (out of line, deduplicated).
 */
class Run {
  constructor(
    readonly srcs: Uint8Array[],
    readonly locs: Int32Array,
    readonly words: Float64Array,
    readonly txns: Float64Array,
    readonly values: (MemValue | undefined)[],
  ) {}

  get length(): number {
    return this.srcs.length;
  }

  /** A view of the key at `i`. */
  key(i: number): Uint8Array {
    const o = this.locs[i * LOC + KEY_OFF]!;
    return this.srcs[i]!.subarray(o, o + this.locs[i * LOC + KEY_LEN]!);
  }

  /** The value at `i` (a view when inline). */
  value(i: number): MemValue {
    const v = this.values[i];
    if (v !== undefined) return v;
    const o = this.locs[i * LOC + VALUE_OFF]!;
    return this.srcs[i]!.subarray(o, o + this.locs[i * LOC + VALUE_LEN]!);
  }

  /** Orders the key at `i` against `key` (whose word is `word`). */
  compareKey(i: number, key: Uint8Array, word: number): number {
    const w = this.words[i]!;
    if (w !== word) return w - word;
    return compareAt(this.srcs[i]!, this.locs[i * LOC + KEY_OFF]!, this.locs[i * LOC + KEY_LEN]!, key, 0, key.length);
  }

  /** Whether entries i and j hold the same key. */
  sameKey(i: number, j: number): boolean {
    if (this.words[i] !== this.words[j]) return false;
    const li = this.locs[i * LOC + KEY_LEN]!;
    return li === this.locs[j * LOC + KEY_LEN] && compareAt(this.srcs[i]!, this.locs[i * LOC + KEY_OFF]!, li, this.srcs[j]!, this.locs[j * LOC + KEY_OFF]!, li) === 0;
  }

  /** Index of the first entry with key >= `key` (> when `after`). */
  bound(key: Uint8Array, word: number, after: boolean): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.compareKey(mid, key, word);
      if (c < 0 || (c === 0 && after)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the version of the key at `i` a reader at `txn` sees (scanning its older versions), or -1. */
  visibleFrom(i: number, txn: number): number {
    for (let j = i; j < this.length; j++) {
      if (j > i && !this.sameKey(i, j)) return -1;
      if (this.txns[j]! <= txn) return j;
    }
    return -1;
  }

  /** The first index of the versions of the key at `i` (i itself or an earlier one). */
  groupStart(i: number): number {
    while (i > 0 && this.sameKey(i - 1, i)) i--;
    return i;
  }

  /** The same run without the versions newer than `txn`. */
  without(txn: number): Run {
    const out = new RunBuilder(this.length);
    for (let i = 0; i < this.length; i++) if (this.txns[i]! <= txn) out.copy(this, i);
    return out.finish();
  }
}

/** Fills the arrays of a new run, entry by entry. */
class RunBuilder {
  private n = 0;
  private readonly srcs: Uint8Array[];
  private readonly locs: Int32Array;
  private readonly words: Float64Array;
  private readonly txns: Float64Array;
  private readonly values: (MemValue | undefined)[];

  constructor(capacity: number) {
    this.srcs = new Array<Uint8Array>(capacity);
    this.locs = new Int32Array(capacity * LOC);
    this.words = new Float64Array(capacity);
    this.txns = new Float64Array(capacity);
    this.values = new Array<MemValue | undefined>(capacity);
  }

  copy(run: Run, i: number): void {
    const n = this.n++;
    this.srcs[n] = run.srcs[i]!;
    const from = i * LOC;
    const to = n * LOC;
    const locs = run.locs;
    this.locs[to] = locs[from]!;
    this.locs[to + 1] = locs[from + 1]!;
    this.locs[to + 2] = locs[from + 2]!;
    this.locs[to + 3] = locs[from + 3]!;
    this.words[n] = run.words[i]!;
    this.txns[n] = run.txns[i]!;
    this.values[n] = run.values[i];
  }

  /** Adds a write: `key` and an inline `value` must be views into one buffer (`src`). */
  add(src: Uint8Array, key: Uint8Array, value: MemValue, word: number, txn: number): void {
    const n = this.n++;
    const at = n * LOC;
    this.srcs[n] = src;
    this.locs[at + KEY_OFF] = key.byteOffset - src.byteOffset;
    this.locs[at + KEY_LEN] = key.length;
    this.words[n] = word;
    this.txns[n] = txn;
    if (value instanceof Uint8Array && value.buffer === src.buffer) {
      this.locs[at + VALUE_OFF] = value.byteOffset - src.byteOffset;
      this.locs[at + VALUE_LEN] = value.length;
      this.values[n] = undefined;
    } else {
      this.values[n] = value;
    }
  }

  finish(): Run {
    const n = this.n;
    if (n === this.srcs.length) return new Run(this.srcs, this.locs, this.words, this.txns, this.values);
    return new Run(this.srcs.slice(0, n), this.locs.slice(0, n * LOC), this.words.slice(0, n), this.txns.slice(0, n), this.values.slice(0, n));
  }
}

/** Orders the key of entry i of run a against the key of entry j of run b. */
function compareEntries(a: Run, i: number, b: Run, j: number): number {
  const c = a.words[i]! - b.words[j]!;
  if (c !== 0) return c;
  return compareAt(a.srcs[i]!, a.locs[i * LOC + KEY_OFF]!, a.locs[i * LOC + KEY_LEN]!, b.srcs[j]!, b.locs[j * LOC + KEY_OFF]!, b.locs[j * LOC + KEY_LEN]!);
}

/** Merges two runs; every txn of `newer` is above every txn of `older`. */
function mergeRuns(newer: Run, older: Run): Run {
  const na = newer.length;
  const nb = older.length;
  const out = new RunBuilder(na + nb);
  let a = 0;
  let b = 0;
  while (a < na && b < nb) {
    // Equal keys: the newer run's versions go first (newest first within a key).
    if (compareEntries(newer, a, older, b) <= 0) out.copy(newer, a++);
    else out.copy(older, b++);
  }
  while (a < na) out.copy(newer, a++);
  while (b < nb) out.copy(older, b++);
  return out.finish();
}

/**
 * The newest version of every key of a memtable, in key order: what a fold writes into the tree.
 * Keys and values are handed out as views made on demand, so a fold of a large memtable does not
 * hold two objects per key at once (they would outlive young-generation collections).
 */
export class NewestVersions {
  constructor(
    private readonly run: Run,
    private readonly firsts: Int32Array,
    /** Whether any of them is a deletion. */
    readonly deletions: boolean,
  ) {}

  get length(): number {
    return this.firsts.length;
  }

  key(i: number): Uint8Array {
    return this.run.key(this.firsts[i]!);
  }

  value(i: number): MemValue {
    return this.run.value(this.firsts[i]!);
  }
}

export class MemTable {
  /** Oldest first. */
  private runs: Run[] = [];
  /**
   * Per commit, oldest first: its txn, where its writes end in the write log, and the bytes it
   * added. Plain columns, no object per commit or per write: a store taking single-put commits
   * keeps hundreds of thousands of them.
   */
  private commitTxns: number[] = [];
  private commitEnds: number[] = [];
  private commitBytes: number[] = [];
  /** Every kept write of every commit, in commit order: its buffer, and [key offset, key length, put 1 / delete 0]. */
  private writeSrcs: Uint8Array[] = [];
  private writeLocs: number[] = [];
  /** sums[i]: the change in entry count made by commits[0..i], computed as far as asked. */
  private sums: number[] = [];
  /** Versions held (a key written by several commits counts once per commit). */
  size = 0;
  /** Bytes of keys and values held, plus bookkeeping: what folding it would free. */
  bytes = 0;

  /** `treeHas` answers whether the tree under this memtable holds a key. */
  constructor(private readonly treeHas: (key: Uint8Array) => boolean) {}

  /**
   * Adds one commit's writes, in the order made: a later write of a key replaces an earlier one of the
   * same commit, whose value goes to `superseded` (it never reaches the tree).
   */
  add(txn: number, keys: readonly Uint8Array[], values: readonly MemValue[], superseded: (value: MemValue) => void): void {
    const n = keys.length;
    // One pass in write order, the order the views and bytes were made in (so memory is read in
    // sequence): each write as a run entry, still unsorted. The sorted pass then reads only these.
    const all = new RunBuilder(n);
    let src: Uint8Array | null = null;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const key = keys[i]!;
      const value = values[i]!;
      if (src === null || src.buffer !== key.buffer) src = new Uint8Array(key.buffer);
      all.add(src, key, value, wordOf(key), txn);
      bytes += key.length + heldBytes(value) + WRITE_OVERHEAD;
    }
    const unsorted = all.finish();
    const order = keyOrder(keys);
    const out = new RunBuilder(n);
    for (let i = 0; i < n; i++) {
      const at = order[i]!;
      // The order is stable: of equal keys, the last one written comes last and wins.
      const next = order[i + 1];
      if (next !== undefined && unsorted.sameKey(next, at)) {
        superseded(values[at]!);
        continue;
      }
      out.copy(unsorted, at);
    }
    const run = out.finish();
    for (let i = 0; i < run.length; i++) {
      this.writeSrcs.push(run.srcs[i]!);
      this.writeLocs.push(run.locs[i * LOC + KEY_OFF]!, run.locs[i * LOC + KEY_LEN]!, run.values[i] === null ? 0 : 1);
    }
    this.commitTxns.push(txn);
    this.commitEnds.push(this.writeSrcs.length);
    this.commitBytes.push(bytes);
    this.bytes += bytes;
    this.size += run.length;
    this.runs.push(run);
    this.compact();
  }

  /** Merges the top two runs while the lower one is no larger (the binary counter). */
  private compact(): void {
    while (this.runs.length >= 2 && this.runs[this.runs.length - 2]!.length <= this.runs[this.runs.length - 1]!.length) {
      const newer = this.runs.pop()!;
      const older = this.runs.pop()!;
      this.runs.push(mergeRuns(newer, older));
    }
  }


  /** Removes every commit above `txn` (their WAL records were lost). */
  rollback(txn: number): void {
    let n = this.commitTxns.length;
    while (n > 0 && this.commitTxns[n - 1]! > txn) {
      n--;
      this.bytes -= this.commitBytes[n]!;
      const start = n > 0 ? this.commitEnds[n - 1]! : 0;
      this.size -= this.commitEnds[n]! - start;
      this.writeSrcs.length = start;
      this.writeLocs.length = start * 3;
    }
    this.commitTxns.length = n;
    this.commitEnds.length = n;
    this.commitBytes.length = n;
    if (this.sums.length > n) this.sums.length = n;
    // Runs hold newer txns the higher they are: trim from the top until one holds none above txn.
    for (let r = this.runs.length - 1; r >= 0; r--) {
      const run = this.runs[r]!;
      let newest = 0;
      for (let i = 0; i < run.length; i++) if (run.txns[i]! > newest) newest = run.txns[i]!;
      if (newest <= txn) break;
      const kept = run.without(txn);
      if (kept.length === 0) this.runs.splice(r, 1);
      else this.runs[r] = kept;
    }
  }

  /**
   * The value of `key` a reader at `txn` sees: a value, null for a deletion, or undefined when the
   * memtable holds no version of the key for that reader.
   */
  find(key: Uint8Array, txn: number): MemValue | undefined {
    if (this.size === 0) return undefined;
    const word = wordOf(key);
    for (let r = this.runs.length - 1; r >= 0; r--) {
      const run = this.runs[r]!;
      const i = run.bound(key, word, false);
      if (i === run.length || run.compareKey(i, key, word) !== 0) continue;
      const v = run.visibleFrom(i, txn);
      if (v >= 0) return run.value(v);
    }
    return undefined;
  }

  /** How many entries the commits up to `txn` added to the tree's count (negative: removed). */
  countDelta(txn: number): number {
    let n = this.commitTxns.length;
    while (n > 0 && this.commitTxns[n - 1]! > txn) n--;
    while (this.sums.length < n) {
      const k = this.sums.length;
      this.sums.push((k > 0 ? this.sums[k - 1]! : 0) + this.commitDelta(k));
    }
    return n > 0 ? this.sums[n - 1]! : 0;
  }

  /**
   * For a fold: every key in order with its newest value, and the values of older versions (which
   * never reach the tree).
   */
  newest(): { newest: NewestVersions; superseded: LeafValue[] } {
    let all: Run | null = null;
    for (const run of this.runs) all = all ? mergeRuns(run, all) : run;
    all ??= new RunBuilder(0).finish();
    const firsts = new Int32Array(all.length);
    let n = 0;
    let deletions = false;
    const superseded: LeafValue[] = [];
    for (let i = 0; i < all.length; i++) {
      if (i > 0 && all.sameKey(i - 1, i)) {
        const v = all.values[i];
        // Inline values hold no reference to give back; only value objects matter.
        if (v !== undefined && v !== null) superseded.push(v);
      } else {
        firsts[n++] = i;
        if (all.values[i] === null) deletions = true;
      }
    }
    return { newest: new NewestVersions(all, firsts.subarray(0, n), deletions), superseded };
  }

  /** Every value object held (out of line, deduplicated), every version: for giving back references. */
  *valueObjects(): IterableIterator<LeafValue> {
    for (const run of this.runs) for (const v of run.values) if (v !== undefined && v !== null) yield v;
  }

  /** A cursor over what a reader at `txn` sees. */
  cursor(txn: number, reverse: boolean): MemCursor {
    return new MemCursor(this.runs.slice(), txn, reverse);
  }

  private commitDelta(k: number): number {
    const txn = this.commitTxns[k]!;
    let delta = 0;
    for (let j = k > 0 ? this.commitEnds[k - 1]! : 0; j < this.commitEnds[k]!; j++) {
      const off = this.writeLocs[j * 3]!;
      const key = this.writeSrcs[j]!.subarray(off, off + this.writeLocs[j * 3 + 1]!);
      const before = this.find(key, txn - 1);
      const existed = before === undefined ? this.treeHas(key) : before !== null;
      delta += this.writeLocs[j * 3 + 2]! - (existed ? 1 : 0);
    }
    return delta;
  }
}

/**
 * Walks the keys a reader at one txn sees (deletions included, so a merge with the tree can hide
 * what they delete), in one direction, over the runs that existed when it started (they never
 * change; commits after the reader's txn are invisible to it anyway).
 */
export class MemCursor {
  /** The key the cursor is on, and the value the reader sees (null: a deletion). */
  key: Uint8Array = new Uint8Array(0);
  value: MemValue = null;
  private readonly pos: Int32Array;

  constructor(
    private readonly runs: readonly Run[],
    private readonly txn: number,
    private readonly reverse: boolean,
  ) {
    this.pos = new Int32Array(runs.length);
  }

  /**
   * Moves to the first visible key at or past `key` in the cursor's direction (strictly past when
   * `exclusive`), or to the first one when `key` is null; false when there is none.
   */
  seek(key: Uint8Array | null, exclusive: boolean): boolean {
    const word = key === null ? 0 : wordOf(key);
    for (let r = 0; r < this.runs.length; r++) {
      const run = this.runs[r]!;
      if (!this.reverse) this.pos[r] = key === null ? 0 : run.bound(key, word, exclusive);
      else this.pos[r] = key === null ? run.length - 1 : run.bound(key, word, !exclusive) - 1;
    }
    return this.next();
  }

  /** Moves to the next visible key; false at the end. */
  next(): boolean {
    for (;;) {
      // The next key in the cursor's direction over every run.
      let best: Uint8Array | null = null;
      let bestWord = 0;
      for (let r = 0; r < this.runs.length; r++) {
        const run = this.runs[r]!;
        const i = this.pos[r]!;
        if (i < 0 || i >= run.length) continue;
        const c = best === null ? -1 : run.compareKey(i, best, bestWord) * (this.reverse ? -1 : 1);
        if (c < 0) {
          best = run.key(i);
          bestWord = run.words[i]!;
        }
      }
      if (best === null) return false;
      // Newest runs first: the first visible version wins. Every run then moves past the key.
      let found = false;
      for (let r = this.runs.length - 1; r >= 0; r--) {
        const run = this.runs[r]!;
        let i = this.pos[r]!;
        if (i < 0 || i >= run.length || run.compareKey(i, best, bestWord) !== 0) continue;
        if (this.reverse) i = run.groupStart(i);
        if (!found) {
          const v = run.visibleFrom(i, this.txn);
          if (v >= 0) {
            found = true;
            this.key = best;
            this.value = run.value(v);
          }
        }
        if (this.reverse) {
          this.pos[r] = i - 1;
        } else {
          let j = i + 1;
          while (j < run.length && run.sameKey(i, j)) j++;
          this.pos[r] = j;
        }
      }
      if (found) return true;
    }
  }
}
