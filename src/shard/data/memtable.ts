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
 * each write 60% more often: bulk loads ran 20-40% slower. Large merges run on a helper thread
 * (background-merge.ts) while commits go on; until one is done, its two runs stay in the stack.
 * Each write is stored once, as an entry of column arrays (no object per write): where its key and
 * value are, its key's first twelve bytes as two numbers ("words", which comparisons check before
 * loading a key), its txn and its value object (null for a deletion). A run is an array of entry
 * numbers, ordered by key, then newest txn first: a merge moves one number per write, and runs whose
 * key ranges do not overlap are joined without comparing their keys.
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
import { BlobValue, OutOfLineValue, valueBodySize, type LeafValue } from '../../btree/node.js';
import { NO_BYTES, W_BUF, W_KEY_LEN, W_KEY_OFF, W_LOC, W_VALUE_LEN, W_VALUE_OFF, type WriteColumns } from './write-columns.js';
import { retainedFloat64, retainedInt32 } from '../../util/retained-memory.js';
import { startBackgroundMerge, type BackgroundMerge } from './background-merge.js';
import { compareAt, compareEntries, sameKeyEntries, KEY_LEN, KEY_OFF, LOC, mergeIds, OBJ, pastWords, SRC, VALUE_LEN, VALUE_OFF, WORD_BYTES, wordAt, wordIn } from './run-merge.js';

/** A value, or null for a deletion. */
export type MemValue = LeafValue | null;

/** Bookkeeping per write (its column slots), counted with the bytes it holds. */
const WRITE_OVERHEAD = 64;

/**
 * Memory a value held by the memtable takes: an out-of-line value's whole body, not its leaf ref;
 * a blob reference, the blob bytes its write added (they wait in the blob table, in memory, for
 * the next checkpoint, which only the memtable's budget calls for: counted as 32 bytes of hash, a
 * commit of new 4 KiB blobs filled the budget 40 times more slowly than the memory it took).
 */
function heldBytes(value: MemValue): number {
  if (value instanceof Uint8Array) return value.length;
  if (value === null) return 0;
  if (value instanceof BlobValue) return valueBodySize(value) + value.held;
  return value instanceof OutOfLineValue ? value.data.length : valueBodySize(value);
}

/** The first word of a key. */
function wordOf(key: Uint8Array): number {
  return wordAt(key, 0);
}

/** What an entry's OBJ slot (run-merge.ts) holds when it has no value object: its value lies inline, or it is a deletion. */
const INLINE = -1;
const DELETED = -2;

/**
 * Every write a memtable was given, in arrival order, as columns (no object per write); an entry is
 * its index here. Runs are arrays of entry indexes, so a merge moves one 32-bit number per write
 * instead of every field of it (the fields are written once, here, and never copied). An entry's
 * key, and its value when stored inline, are bytes of `srcs[locs[SRC]]` (the commit log arena the
 * commit was written into, or a replayed record's payload) at the offsets in `locs`; its OBJ slot
 * says whether the value is inline, a deletion, or which of `objects` (values out of line or
 * deduplicated: few) it is. No array slot per entry: a JS array of a million slots is copied as it
 * grows and scanned by every old-generation collection. Append-only: a rollback leaves its entries in place (runs made before it may still
 * be read by a cursor), unreferenced by the runs made after it. The columns and the runs' arrays are
 * retained memory (util/retained-memory.ts): the memtable budget bounds them, not V8's count.
 */
class Entries {
  n = 0;
  /** The buffers entries lie in: a few per commit at most (one per arena or payload it used). */
  srcs: Uint8Array[] = [];
  locs: Int32Array = new Int32Array(64 * LOC);
  words: Float64Array = new Float64Array(64);
  /** The second word of each key (bytes 6 to 11). */
  words2: Float64Array = new Float64Array(64);
  txns: Float64Array = new Float64Array(64);
  objects: LeafValue[] = [];

  /** Room for `more` entries past the current ones; columns grow by doubling. */
  reserve(more: number): void {
    const need = this.n + more;
    if (need <= this.words.length) return;
    let cap = this.words.length * 2;
    while (cap < need) cap *= 2;
    const locs = retainedInt32(cap * LOC);
    locs.set(this.locs.subarray(0, this.n * LOC));
    const words = retainedFloat64(cap);
    words.set(this.words.subarray(0, this.n));
    const words2 = retainedFloat64(cap);
    words2.set(this.words2.subarray(0, this.n));
    this.words2 = words2;
    const txns = retainedFloat64(cap);
    txns.set(this.txns.subarray(0, this.n));
    this.locs = locs;
    this.words = words;
    this.txns = txns;
  }

  /**
   * Adds every write of `w` (room reserved), in order; the buffers of `w` join `srcs`. Returns the
   * entry of its first write (the rest follow).
   */
  addAll(w: WriteColumns, txn: number): number {
    const base = this.n;
    const srcBase = this.srcs.length;
    for (const b of w.bufs) this.srcs.push(b);
    const from = w.locs;
    const locs = this.locs;
    const words = this.words;
    const words2 = this.words2;
    const txns = this.txns;
    const objects = this.objects;
    const wvalues = w.values;
    const bufs = w.bufs;
    for (let i = 0; i < w.size; i++) {
      const f = i * W_LOC;
      const at = (base + i) * LOC;
      const buf = from[f + W_BUF]!;
      const ko = from[f + W_KEY_OFF]!;
      const kl = from[f + W_KEY_LEN]!;
      locs[at + SRC] = srcBase + buf;
      locs[at + KEY_OFF] = ko;
      locs[at + KEY_LEN] = kl;
      locs[at + VALUE_OFF] = from[f + W_VALUE_OFF]!;
      locs[at + VALUE_LEN] = from[f + W_VALUE_LEN]!;
      const src = bufs[buf]!;
      words[base + i] = wordIn(src, ko, kl, 0);
      words2[base + i] = wordIn(src, ko, kl, WORD_BYTES);
      txns[base + i] = txn;
      const v = wvalues[i];
      locs[at + OBJ] = v === undefined ? INLINE : v === null ? DELETED : objects.push(v) - 1;
    }
    this.n = base + w.size;
    return base;
  }

  /**
   * Makes this (empty) set hold entries [first, from.n) of `from`, entry `first + i` becoming entry
   * `i`: their columns are copied in bulk, and their buffers and value objects (suffixes of
   * `from`'s, since entries are numbered in arrival order) renumbered.
   */
  copyTail(from: Entries, first: number): void {
    const n = from.n - first;
    // As large as `from` grew: the commits that follow a fold fill the next memtable about as far
    // as the last one, and growing to that by doubling allocates (and faults in) twice the memory.
    this.reserve(Math.max(n, from.words.length) - this.n);
    this.locs.set(from.locs.subarray(first * LOC, from.n * LOC));
    this.words.set(from.words.subarray(first, from.n));
    this.words2.set(from.words2.subarray(first, from.n));
    this.txns.set(from.txns.subarray(first, from.n));
    this.n = n;
    const srcBase = n > 0 ? from.locs[first * LOC + SRC]! : 0;
    let objBase = -1;
    const locs = this.locs;
    for (let i = 0; i < n; i++) {
      locs[i * LOC + SRC]! -= srcBase;
      const obj = locs[i * LOC + OBJ]!;
      if (obj < 0) continue;
      if (objBase < 0) objBase = obj;
      locs[i * LOC + OBJ] = obj - objBase;
    }
    this.srcs = from.srcs.slice(srcBase);
    this.objects = objBase < 0 ? [] : from.objects.slice(objBase);
  }

  /** The buffer entry `e` lies in. */
  src(e: number): Uint8Array {
    return this.srcs[this.locs[e * LOC + SRC]!]!;
  }

  /** A view of the key of entry `e`. */
  key(e: number): Uint8Array {
    const o = this.locs[e * LOC + KEY_OFF]!;
    return this.src(e).subarray(o, o + this.locs[e * LOC + KEY_LEN]!);
  }

  /** The value of entry `e` (a view when inline; the shared NO_BYTES when empty). */
  value(e: number): MemValue {
    const v = this.valueObject(e);
    if (v !== undefined) return v;
    const n = this.locs[e * LOC + VALUE_LEN]!;
    if (n === 0) return NO_BYTES;
    const o = this.locs[e * LOC + VALUE_OFF]!;
    return this.src(e).subarray(o, o + n);
  }

  /** The value object of entry `e`: undefined when inline, null for a deletion. */
  valueObject(e: number): MemValue | undefined {
    const k = this.locs[e * LOC + OBJ]!;
    return k === INLINE ? undefined : k === DELETED ? null : this.objects[k]!;
  }

  /** Orders the key of entry `e` against `key` (whose words are `word` and `word2`). */
  compareKey(e: number, key: Uint8Array, word: number, word2: number): number {
    // -1 or 1, not the words' difference: a 48-bit difference is a heap number when returned.
    const w = this.words[e]!;
    if (w !== word) return w < word ? -1 : 1;
    const w2 = this.words2[e]!;
    if (w2 !== word2) return w2 < word2 ? -1 : 1;
    const len = this.locs[e * LOC + KEY_LEN]!;
    return compareAt(this.src(e), this.locs[e * LOC + KEY_OFF]!, len, key, 0, key.length, pastWords(len, key.length));
  }

  /** Orders the keys of entries `a` and `b`. */
  compare(a: number, b: number): number {
    return compareEntries(this, a, b);
  }

  /** Whether entries `a` and `b` hold the same key. */
  sameKey(a: number, b: number): boolean {
    return sameKeyEntries(this, a, b);
  }
}

/** An immutable sorted run: entries of one memtable's Entries, ordered by key, then newest txn first. */
class Run {
  constructor(
    readonly e: Entries,
    readonly ids: Int32Array,
  ) {}

  get length(): number {
    return this.ids.length;
  }

  /** A view of the key at `i`. */
  key(i: number): Uint8Array {
    return this.e.key(this.ids[i]!);
  }

  /** The value at `i` (a view when inline). */
  value(i: number): MemValue {
    return this.e.value(this.ids[i]!);
  }

  word(i: number): number {
    return this.e.words[this.ids[i]!]!;
  }

  word2(i: number): number {
    return this.e.words2[this.ids[i]!]!;
  }

  txn(i: number): number {
    return this.e.txns[this.ids[i]!]!;
  }

  /** The value object at `i`: undefined when inline, null for a deletion. */
  valueObject(i: number): MemValue | undefined {
    return this.e.valueObject(this.ids[i]!);
  }

  /** Orders the key at `i` against `key` (whose words are `word` and `word2`). */
  compareKey(i: number, key: Uint8Array, word: number, word2: number): number {
    return this.e.compareKey(this.ids[i]!, key, word, word2);
  }

  /** Whether entries i and j hold the same key. */
  sameKey(i: number, j: number): boolean {
    return this.e.sameKey(this.ids[i]!, this.ids[j]!);
  }

  /** Index of the first entry with key >= `key` (> when `after`). */
  bound(key: Uint8Array, word: number, word2: number, after: boolean): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.compareKey(mid, key, word, word2);
      if (c < 0 || (c === 0 && after)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the version of the key at `i` a reader at `txn` sees (scanning its older versions), or -1. */
  visibleFrom(i: number, txn: number): number {
    for (let j = i; j < this.length; j++) {
      if (j > i && !this.sameKey(i, j)) return -1;
      if (this.txn(j) <= txn) return j;
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
    const txns = this.e.txns;
    return new Run(this.e, this.ids.filter((id) => txns[id]! <= txn));
  }
}

/**
 * Entries two runs hold together from which their merge goes to the helper thread, when it is free.
 * Below, the thread would save little: a merge of 32,768 entries takes about a millisecond here.
 */
const BACKGROUND_MERGE_ENTRIES = 4096;

/** Merges two runs of the same entries; every txn of `newer` is above every txn of `older`. */
function mergeRuns(newer: Run, older: Run): Run {
  const out = retainedInt32(newer.length + older.length);
  mergeIds(newer.e, newer.ids, older.ids, out);
  return new Run(newer.e, out);
}

/**
 * The newest version of every key of a memtable, in key order: what a fold writes into the tree.
 * Keys and values are handed out as views made on demand, so a fold of a large memtable does not
 * hold two objects per key at once (they would outlive young-generation collections).
 */
export class NewestVersions {
  constructor(
    private readonly e: Entries,
    /** The entry of each key's newest version, in key order. */
    private readonly firsts: Int32Array,
    /** Whether any of them is a deletion. */
    readonly deletions: boolean,
  ) {}

  get length(): number {
    return this.firsts.length;
  }

  key(i: number): Uint8Array {
    return this.e.key(this.firsts[i]!);
  }

  value(i: number): MemValue {
    return this.e.value(this.firsts[i]!);
  }
}

/**
 * The newest version of every key of a set of runs, in key order, a chunk at a time: a checkpoint
 * folds a memtable into its tree slice by slice while commits go on (the memtable meanwhile gains
 * runs of its own; these stay as they were). Every version in the runs is visible (the checkpoint
 * holds them all), so a key's newest version is the first of its group in the newest run holding it.
 *
 * Keys come from the runs merged into one by the helper thread when that was started with the source
 * (MemTable.foldSource) and is done before the first key is asked for: one run is walked with a
 * comparison per entry. Otherwise from the runs themselves, through a heap.
 */
export class FoldSource {
  private readonly pos: Int32Array;
  /**
   * The runs with keys left, as a binary min-heap on the key at each one's position (equal keys: the
   * newer run first): a key costs about two comparisons per level, not two per run.
   */
  private readonly heap: Int32Array;
  private heapSize = 0;
  /** The helper thread's merge of the runs, until it is taken or given up. */
  private premerge: BackgroundMerge | null;
  /** The runs merged into one, once taken, and the next entry of it to hand out. */
  private merged: Int32Array | null = null;
  private at = 0;
  /** Keys handed out so far. */
  done = 0;

  constructor(
    private readonly runs: readonly Run[],
    premerge: BackgroundMerge | null = null,
  ) {
    this.premerge = premerge;
    this.pos = new Int32Array(runs.length);
    this.heap = new Int32Array(runs.length);
    for (let r = 0; r < runs.length; r++) if (runs[r]!.length > 0) this.heap[this.heapSize++] = r;
    for (let i = (this.heapSize >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  /**
   * Whether the helper thread is still merging the runs into one: a key asked for now would come
   * from the runs themselves (and so would every later one).
   */
  merging(): boolean {
    const m = this.premerge;
    if (m === null) return false;
    if (!m.settled()) return true;
    this.premerge = null;
    if (m.done() && this.done === 0) this.merged = m.out;
    return false;
  }

  /** Hands out keys from the runs themselves, whatever the helper thread does. */
  stopMerging(): void {
    this.premerge = null;
  }

  /** Whether run `r`'s next key goes before run `s`'s. */
  private before(r: number, s: number): boolean {
    const c = this.runs[r]!.e.compare(this.runs[r]!.ids[this.pos[r]!]!, this.runs[s]!.ids[this.pos[s]!]!);
    return c < 0 || (c === 0 && r > s);
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const size = this.heapSize;
    const r = heap[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && this.before(heap[child + 1]!, heap[child]!)) child++;
      if (!this.before(heap[child]!, r)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = r;
  }

  /** Moves the run at the top of the heap on to its entry `i` (out of the heap when none is left). */
  private advanceTop(i: number): void {
    const r = this.heap[0]!;
    this.pos[r] = i;
    if (i >= this.runs[r]!.length) this.heap[0] = this.heap[--this.heapSize]!;
    if (this.heapSize > 0) this.siftDown(0);
  }

  /**
   * The next (up to) `max` keys with their newest values, or null when every key has been handed out;
   * the value objects of older versions (which never reach the tree) go to `superseded`.
   */
  next(max: number, superseded: (value: LeafValue) => void): NewestVersions | null {
    if (this.merging()) this.stopMerging();
    if (this.merged !== null) return this.nextMerged(max, superseded);
    const runs = this.runs;
    if (this.heapSize === 0) return null;
    const e = runs[0]!.e;
    const firsts = new Int32Array(max);
    let n = 0;
    let deletions = false;
    while (n < max && this.heapSize > 0) {
      // The least key is at the top, in the newest run holding it: its first version there wins.
      let run = runs[this.heap[0]!]!;
      let i = this.pos[this.heap[0]!]!;
      const winner = run.ids[i++]!;
      for (;;) {
        while (i < run.length && e.sameKey(run.ids[i]!, winner)) {
          const v = e.valueObject(run.ids[i++]!);
          if (v !== undefined && v !== null) superseded(v);
        }
        this.advanceTop(i);
        // Older runs holding the same key come to the top in turn; all their versions are superseded.
        if (this.heapSize === 0) break;
        run = runs[this.heap[0]!]!;
        i = this.pos[this.heap[0]!]!;
        if (!e.sameKey(run.ids[i]!, winner)) break;
      }
      firsts[n++] = winner;
      if (e.valueObject(winner) === null) deletions = true;
    }
    if (n === 0) return null;
    this.done += n;
    return new NewestVersions(e, firsts.subarray(0, n), deletions);
  }

  /**
   * next() from the merged run, where each key's first entry is its newest version and the older
   * ones are marked (stored as ~entry: run-merge.ts, markRepeats).
   */
  private nextMerged(max: number, superseded: (value: LeafValue) => void): NewestVersions | null {
    const ids = this.merged!;
    if (this.at === ids.length) return null;
    const e = this.runs[0]!.e;
    const firsts = new Int32Array(max);
    let n = 0;
    let deletions = false;
    let i = this.at;
    while (n < max && i < ids.length) {
      const winner = ids[i++]!;
      for (; i < ids.length && ids[i]! < 0; i++) {
        const v = e.valueObject(~ids[i]!);
        if (v !== undefined && v !== null) superseded(v);
      }
      firsts[n++] = winner;
      if (e.valueObject(winner) === null) deletions = true;
    }
    this.at = i;
    this.done += n;
    return new NewestVersions(e, firsts.subarray(0, n), deletions);
  }
}

export class MemTable {
  /** Every write given, in arrival order; runs index into it. */
  private readonly entries = new Entries();
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
  /** The entry of every kept write of every commit, in commit order (writeCount of them). */
  private writes: Int32Array = new Int32Array(64);
  private writeCount = 0;
  /** sums[i]: the change in entry count made by commits[0..i], computed as far as asked. */
  private sums: number[] = [];
  /** Versions held (a key written by several commits counts once per commit). */
  size = 0;
  /** Bytes of keys and values held, plus bookkeeping: what folding it would free. */
  bytes = 0;
  /** Pairs of neighbouring runs the helper thread is merging (see compact). */
  private merging: { newer: Run; older: Run; job: BackgroundMerge }[] = [];

  /** `treeHas` answers whether the tree under this memtable holds a key. */
  constructor(private readonly treeHas: (key: Uint8Array) => boolean) {}

  /**
   * Adds one commit's writes, in the order made: a later write of a key replaces an earlier one of the
   * same commit, whose value goes to `superseded` (it never reaches the tree). The memtable keeps
   * the bytes the writes point at (see WriteColumns), not the columns.
   */
  add(txn: number, writes: WriteColumns, superseded: (value: MemValue) => void): void {
    const n = writes.size;
    const e = this.entries;
    e.reserve(n);
    // One pass in write order, the order the bytes were logged in (so memory is read in sequence):
    // each write as an entry. The sorted pass then orders entry numbers only.
    const base = e.addAll(writes, txn);
    let bytes = 0;
    const wl = writes.locs;
    for (let i = 0; i < n; i++) {
      const v = writes.values[i];
      bytes += wl[i * W_LOC + W_KEY_LEN]! + (v === undefined ? wl[i * W_LOC + W_VALUE_LEN]! : heldBytes(v)) + WRITE_OVERHEAD;
    }
    // Sorted by the entries' words first (most comparisons end there), equal keys in write order.
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = base + i;
    if (n > 1) order.sort((a, b) => e.compare(a, b) || a - b);
    const ids = retainedInt32(n);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const at = order[i]!;
      // Of equal keys, the last one written comes last and wins.
      if (i + 1 < n && e.sameKey(order[i + 1]!, at)) {
        superseded(writes.value(at - base));
        continue;
      }
      ids[kept++] = at;
    }
    this.pushCommit(txn, new Run(e, kept === n ? ids : ids.slice(0, kept)), bytes);
  }

  /** Records a commit whose kept writes are `run`, and stacks the run. */
  private pushCommit(txn: number, run: Run, bytes: number): void {
    const kept = run.length;
    if (this.writeCount + kept > this.writes.length) {
      let cap = this.writes.length * 2;
      while (cap < this.writeCount + kept) cap *= 2;
      const w = retainedInt32(cap);
      w.set(this.writes.subarray(0, this.writeCount));
      this.writes = w;
    }
    this.writes.set(run.ids, this.writeCount);
    this.writeCount += kept;
    this.commitTxns.push(txn);
    this.commitEnds.push(this.writeCount);
    this.commitBytes.push(bytes);
    this.bytes += bytes;
    this.size += run.length;
    this.runs.push(run);
    this.compact();
  }

  /**
   * Merges the top two runs while the lower one is no larger (the binary counter). A merge of
   * BACKGROUND_MERGE_ENTRIES or more goes to the helper thread when it takes it (background-merge.ts):
   * the two runs stay in the stack until the merged run replaces them (takeMerged), and the runs
   * pushed above them meanwhile merge among themselves.
   */
  private compact(): void {
    if (this.merging.length > 0) this.takeMerged();
    for (;;) {
      const n = this.runs.length;
      if (n < 2) return;
      const newer = this.runs[n - 1]!;
      const older = this.runs[n - 2]!;
      if (older.length > newer.length || this.isMerging(newer) || this.isMerging(older)) return;
      if (newer.length + older.length >= BACKGROUND_MERGE_ENTRIES) {
        const job = startBackgroundMerge(this.entries, [older.ids, newer.ids], retainedInt32(newer.length + older.length));
        if (job) {
          this.merging.push({ newer, older, job });
          return;
        }
      }
      this.runs.length = n - 2;
      this.runs.push(mergeRuns(newer, older));
    }
  }

  private isMerging(run: Run): boolean {
    for (const m of this.merging) if (m.newer === run || m.older === run) return true;
    return false;
  }

  /**
   * Puts each merged run the helper thread has finished in place of the two it merged, if they are
   * still neighbours in the stack (a rollback may have replaced one).
   */
  private takeMerged(): void {
    let kept = 0;
    for (const m of this.merging) {
      if (!m.job.settled()) {
        this.merging[kept++] = m;
        continue;
      }
      if (!m.job.done()) continue;
      const i = this.runs.indexOf(m.older);
      if (i >= 0 && this.runs[i + 1] === m.newer) this.runs.splice(i, 2, new Run(this.entries, m.job.out));
    }
    this.merging.length = kept;
  }

  /** Removes every commit above `txn` (their WAL records were lost). */
  rollback(txn: number): void {
    let n = this.commitTxns.length;
    while (n > 0 && this.commitTxns[n - 1]! > txn) {
      n--;
      this.bytes -= this.commitBytes[n]!;
      const start = n > 0 ? this.commitEnds[n - 1]! : 0;
      this.size -= this.commitEnds[n]! - start;
      this.writeCount = start;
    }
    this.commitTxns.length = n;
    this.commitEnds.length = n;
    this.commitBytes.length = n;
    if (this.sums.length > n) this.sums.length = n;
    // Runs hold newer txns the higher they are: trim from the top until one holds none above txn.
    for (let r = this.runs.length - 1; r >= 0; r--) {
      const run = this.runs[r]!;
      let newest = 0;
      for (let i = 0; i < run.length; i++) if (run.txn(i) > newest) newest = run.txn(i);
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
    const word2 = wordAt(key, WORD_BYTES);
    for (let r = this.runs.length - 1; r >= 0; r--) {
      const run = this.runs[r]!;
      const i = run.bound(key, word, word2, false);
      if (i === run.length || run.compareKey(i, key, word, word2) !== 0) continue;
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
    all ??= new Run(this.entries, new Int32Array(0));
    const firsts = new Int32Array(all.length);
    let n = 0;
    let deletions = false;
    const superseded: LeafValue[] = [];
    for (let i = 0; i < all.length; i++) {
      if (i > 0 && all.sameKey(i - 1, i)) {
        const v = all.valueObject(i);
        // Inline values hold no reference to give back; only value objects matter.
        if (v !== undefined && v !== null) superseded.push(v);
      } else {
        firsts[n++] = all.ids[i]!;
        if (all.valueObject(i) === null) deletions = true;
      }
    }
    return { newest: new NewestVersions(this.entries, firsts.subarray(0, n), deletions), superseded };
  }

  /**
   * For a checkpoint that folds this memtable a slice at a time while commits go on: the newest
   * version of every key written so far, in key order, handed out in chunks. Later commits do not
   * disturb it (it keeps the runs of now, which never change).
   */
  foldSource(premerge = false): FoldSource {
    const runs = this.runs.slice();
    let total = 0;
    for (const run of runs) total += run.length;
    // With `premerge`, the helper thread merges the runs into one while the checkpoint waits a
    // little (see CheckpointRun): the fold then walks one run instead of keeping a heap over them all.
    const job = premerge && runs.length >= 2 && total >= BACKGROUND_MERGE_ENTRIES ? startBackgroundMerge(this.entries, runs.map((r) => r.ids), retainedInt32(total), true) : null;
    return new FoldSource(runs, job);
  }

  /**
   * A new memtable holding only the commits above `txn`, over the tree `treeHas` asks: the one a
   * checkpoint at `txn` built by folding this memtable's commits up to `txn` into its tree. Those
   * commits' entries are copied out (so that everything older can be collected once no reader
   * holds this memtable). Null when no commit is above `txn`.
   */
  since(txn: number, treeHas: (key: Uint8Array) => boolean): MemTable | null {
    let first = this.commitTxns.length;
    while (first > 0 && this.commitTxns[first - 1]! > txn) first--;
    if (first === this.commitTxns.length) return null;
    const from = first > 0 ? this.commitEnds[first - 1]! : 0;
    // Entries are numbered in arrival order, so the commits kept hold every entry from the first one
    // of theirs on (and perhaps entries of rolled-back commits, which no run refers to).
    let firstEntry = this.entries.n;
    for (let j = from; j < this.commitEnds[first]!; j++) if (this.writes[j]! < firstEntry) firstEntry = this.writes[j]!;
    const out = new MemTable(treeHas);
    out.entries.copyTail(this.entries, firstEntry);
    // Each run keeps its entries of those commits, in order: no key is compared again.
    for (const run of this.runs) {
      let kept = 0;
      for (let i = 0; i < run.ids.length; i++) if (run.ids[i]! >= firstEntry) kept++;
      if (kept === 0) continue;
      const ids = retainedInt32(kept);
      let k = 0;
      for (let i = 0; i < run.ids.length; i++) if (run.ids[i]! >= firstEntry) ids[k++] = run.ids[i]! - firstEntry;
      out.runs.push(new Run(out.entries, ids));
    }
    const count = this.writeCount - from;
    out.writes = retainedInt32(Math.max(64, count, this.writes.length));
    for (let j = 0; j < count; j++) out.writes[j] = this.writes[from + j]! - firstEntry;
    out.writeCount = count;
    for (let k = first; k < this.commitTxns.length; k++) {
      out.commitTxns.push(this.commitTxns[k]!);
      out.commitEnds.push(this.commitEnds[k]! - from);
      out.commitBytes.push(this.commitBytes[k]!);
      out.bytes += this.commitBytes[k]!;
    }
    out.size = count;
    return out;
  }

  /** Every value object held (out of line, deduplicated), every version: for giving back references. */
  *valueObjects(): IterableIterator<LeafValue> {
    const e = this.entries;
    for (const run of this.runs) for (const id of run.ids) {
      const v = e.valueObject(id);
      if (v !== undefined && v !== null) yield v;
    }
  }

  /** A cursor over what a reader at `txn` sees. */
  cursor(txn: number, reverse: boolean): MemCursor {
    return new MemCursor(this.runs.slice(), txn, reverse);
  }

  private commitDelta(k: number): number {
    const txn = this.commitTxns[k]!;
    let delta = 0;
    for (let j = k > 0 ? this.commitEnds[k - 1]! : 0; j < this.commitEnds[k]!; j++) {
      const id = this.writes[j]!;
      const key = this.entries.key(id);
      const before = this.find(key, txn - 1);
      const existed = before === undefined ? this.treeHas(key) : before !== null;
      delta += (this.entries.valueObject(id) === null ? 0 : 1) - (existed ? 1 : 0);
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
    const word2 = key === null ? 0 : wordAt(key, WORD_BYTES);
    for (let r = 0; r < this.runs.length; r++) {
      const run = this.runs[r]!;
      if (!this.reverse) this.pos[r] = key === null ? 0 : run.bound(key, word, word2, exclusive);
      else this.pos[r] = key === null ? run.length - 1 : run.bound(key, word, word2, !exclusive) - 1;
    }
    return this.next();
  }

  /** Moves to the next visible key; false at the end. */
  next(): boolean {
    for (;;) {
      // The next key in the cursor's direction over every run.
      let best: Uint8Array | null = null;
      let bestWord = 0;
      let bestWord2 = 0;
      for (let r = 0; r < this.runs.length; r++) {
        const run = this.runs[r]!;
        const i = this.pos[r]!;
        if (i < 0 || i >= run.length) continue;
        const c = best === null ? -1 : run.compareKey(i, best, bestWord, bestWord2) * (this.reverse ? -1 : 1);
        if (c < 0) {
          best = run.key(i);
          bestWord = run.word(i);
          bestWord2 = run.word2(i);
        }
      }
      if (best === null) return false;
      // Newest runs first: the first visible version wins. Every run then moves past the key.
      let found = false;
      for (let r = this.runs.length - 1; r >= 0; r--) {
        const run = this.runs[r]!;
        let i = this.pos[r]!;
        if (i < 0 || i >= run.length || run.compareKey(i, best, bestWord, bestWord2) !== 0) continue;
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
