/**
 * Unit tests of MemTable, the per-table sorted buffer of commits not yet folded into the tree: which
 * version a reader at txn T sees, same-commit overwrites, rollback, the count delta against the tree
 * under it, and cursors (including cursors that keep walking while later commits insert, overwrite,
 * delete and roll back around them). Tests use the memtable only through the helpers below, and check
 * behaviour, not layout (it has been a two-level sorted array and a stack of sorted runs), with sizes
 * large enough to exercise either (hundreds of keys, many commits). The last test runs random
 * operations against a plain sorted-array model.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { OutOfLineValue } from '../../src/btree/node.js';
import { backgroundMergesDone } from '../../src/shard/data/background-merge.js';
import { MemTable, type MemValue } from '../../src/shard/data/memtable.js';
import { WriteColumns } from '../../src/shard/data/write-columns.js';

// ---------------------------------------------------------------------------------------------
// The MemTable API, used only through these helpers (it is young and still changing shape: this is
// the one place that knows it). Everything below tests behaviour through them.
// ---------------------------------------------------------------------------------------------

/** One write of a commit: a key and its value, or null for a deletion. */
interface Write {
  key: Uint8Array;
  value: MemValue;
}

/** Adds one commit's writes, in the order made; superseded values (same key, same commit) go to the callback. */
function addCommit(mem: MemTable, txn: number, writes: readonly Write[], superseded: (value: MemValue) => void): void {
  const columns = new WriteColumns();
  for (const w of writes) columns.pushViews(w.key, w.value);
  mem.add(txn, columns, superseded);
}

/** What a reader at `txn` sees of `key` in the memtable: a value, null (a deletion), or undefined (nothing). */
function findValue(mem: MemTable, key: Uint8Array, txn: number): MemValue | undefined {
  return mem.find(key, txn);
}

/** One step of a cursor: the key it is on and the value the reader sees there (null: a deletion). */
interface Row {
  key: Uint8Array;
  value: MemValue;
}

/** A cursor at `txn`; `seek` and `next` return the row it moved to (read at once), or null at the end. */
function openCursor(mem: MemTable, txn: number, reverse: boolean): { seek(from: Uint8Array | null, exclusive: boolean): Row | null; next(): Row | null } {
  const c = mem.cursor(txn, reverse);
  const row = (on: boolean): Row | null => (on ? { key: Buffer.from(c.key), value: c.value } : null);
  return {
    seek: (from, exclusive) => row(c.seek(from, exclusive)),
    next: () => row(c.next()),
  };
}

// ---------------------------------------------------------------------------------------------

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex');
const show = (v: MemValue | undefined): string | null => (v === undefined || v === null ? null : Buffer.from(v as Uint8Array).toString('latin1'));
/** Zero-padded numeric key: byte order is numeric order. */
const nk = (n: number): Buffer => b(`k${String(n).padStart(5, '0')}`);
/** Values in a canonical order (null first), to compare reports whose order does not matter. */
const sortValues = (vs: (string | null)[]): (string | null)[] => [...vs].sort((x, y) => (x === y ? 0 : x === null ? -1 : y === null ? 1 : x < y ? -1 : 1));
/** A txn above every commit of these tests: a reader that sees everything. */
const ALL = 1e9;

/** A memtable over a tree holding `tree` (by latin1 string). */
function memOver(tree: Iterable<string> = []): MemTable {
  const set = new Set(tree);
  return new MemTable((key) => set.has(Buffer.from(key).toString('latin1')));
}

/** Adds one commit of [key, value|null] writes; returns the superseded values, as strings. */
function commit(mem: MemTable, txn: number, writes: [string, string | null][]): (string | null)[] {
  const superseded: (string | null)[] = [];
  addCommit(
    mem,
    txn,
    writes.map(([k, v]) => ({ key: b(k), value: v === null ? null : b(v) })),
    (v) => superseded.push(show(v)),
  );
  return superseded;
}

/** What a reader at `txn` sees of `key`: the value, 'DELETED' for a deletion version, or undefined. */
function seen(mem: MemTable, key: string, txn: number): string | undefined {
  const v = findValue(mem, b(key), txn);
  if (v === undefined) return undefined;
  return v === null ? 'DELETED' : show(v)!;
}

/** Everything a cursor returns, as [key, value | null] strings, read to the end. */
function walk(mem: MemTable, txn: number, reverse: boolean, from: string | null = null, exclusive = false): [string, string | null][] {
  const c = openCursor(mem, txn, reverse);
  const out: [string, string | null][] = [];
  for (let r = c.seek(from === null ? null : b(from), exclusive); r !== null; r = c.next()) {
    out.push([Buffer.from(r.key).toString('latin1'), show(r.value)]);
  }
  return out;
}

test('a reader at txn T sees the newest version at or below T, and nothing when every version is newer', () => {
  const mem = memOver();
  commit(mem, 3, [['a', 'a3']]);
  commit(mem, 5, [['a', 'a5'], ['b', 'b5']]);
  commit(mem, 8, [['a', null]]);
  assert.equal(seen(mem, 'a', 0), undefined);
  assert.equal(seen(mem, 'a', 2), undefined);
  assert.equal(seen(mem, 'a', 3), 'a3');
  assert.equal(seen(mem, 'a', 4), 'a3');
  assert.equal(seen(mem, 'a', 5), 'a5');
  assert.equal(seen(mem, 'a', 7), 'a5');
  assert.equal(seen(mem, 'a', 8), 'DELETED');
  assert.equal(seen(mem, 'a', 1000), 'DELETED');
  assert.equal(seen(mem, 'b', 4), undefined);
  assert.equal(seen(mem, 'b', 5), 'b5');
  assert.equal(seen(mem, 'c', 1000), undefined);
  // Cursors agree with find, deletions included (they hide the tree's entry).
  assert.deepEqual(walk(mem, 4, false), [['a', 'a3']]);
  assert.deepEqual(walk(mem, 6, false), [['a', 'a5'], ['b', 'b5']]);
  assert.deepEqual(walk(mem, 9, true), [['b', 'b5'], ['a', null]]);
  assert.deepEqual(walk(mem, 2, false), []);
});

test('a later write of a key in the same commit replaces the earlier one and reports the superseded value', () => {
  const mem = memOver();
  assert.deepEqual(commit(mem, 1, [['a', 'a1']]), []);
  const superseded = commit(mem, 2, [
    ['a', 'a2-first'],
    ['n', 'n2-first'],
    ['a', 'a2-second'],
    ['n', null],
    ['a', 'a2-last'],
    ['n', 'n2-last'],
  ]);
  // Every earlier write of the commit is reported, once (commit 1's a1 is not: it stays, as an
  // older version). The order of the reports is not part of the contract.
  assert.deepEqual(sortValues(superseded), sortValues(['a2-first', 'n2-first', 'a2-second', null]));
  assert.equal(seen(mem, 'a', 2), 'a2-last');
  assert.equal(seen(mem, 'n', 2), 'n2-last');
  // The commit left one version per key: the older reader still sees commit 1's value, and no
  // intermediate value of commit 2 became a version of its own, for any reader.
  assert.equal(seen(mem, 'a', 1), 'a1');
  assert.equal(seen(mem, 'n', 1), undefined);
  assert.deepEqual(walk(mem, ALL, false), [['a', 'a2-last'], ['n', 'n2-last']]);
  assert.equal(mem.countDelta(2), 2);
  // Rolling the commit back brings commit 1's version back, not one of the replaced values.
  mem.rollback(1);
  assert.equal(seen(mem, 'a', 99), 'a1');
  assert.equal(seen(mem, 'n', 99), undefined);
  assert.deepEqual(walk(mem, ALL, true), [['a', 'a1']]);
  assert.equal(mem.countDelta(99), 1);
});

test('rollback(txn) removes exactly the commits above txn: their entries go, older versions come back, countDelta agrees', () => {
  const tree = ['t1', 't2', 't3'];
  const mem = memOver(tree);
  commit(mem, 1, [['a', 'a1'], ['t1', 't1-1'], ['t2', null]]);
  commit(mem, 2, [['b', 'b2'], ['a', 'a2']]);
  commit(mem, 4, [['c', 'c4'], ['t2', 't2-4']]);
  const keys = ['a', 'b', 'c', 'd', 'e', 't1', 't2', 't3', 'x'];
  const view = (txn: number): unknown => ({
    find: keys.map((k) => seen(mem, k, txn)),
    forward: walk(mem, txn, false),
    reverse: walk(mem, txn, true),
    delta: mem.countDelta(txn),
  });
  const txns = [0, 1, 2, 3, 4, 5, 6, 7, 8, 100];
  // Ask for the delta now, so the rollback has to correct cached sums.
  const before = txns.map(view);
  const bytesBefore = mem.bytes;

  commit(mem, 5, [['a', 'a5'], ['d', 'd5'], ['t3', null], ['t1', null]]);
  commit(mem, 7, [['a', null], ['e', 'e7'], ['d', 'd7'], ['c', null], ['t2', null]]);
  // Live now: b, d, e (a and c deleted again), and none of the tree's t1, t2, t3.
  assert.equal(mem.countDelta(100), 3 - 3);
  assert.equal(mem.countDelta(5), 4 - 2, 'at 5: a, b, c, d added, t1 and t3 deleted, t2 back');
  assert.equal(seen(mem, 'a', 100), 'DELETED');

  mem.rollback(4);
  assert.deepEqual(txns.map(view), before, 'after rollback(4) every reader sees what it saw before commits 5 and 7');
  assert.equal(mem.bytes, bytesBefore);
  // Rolling back to a txn between commits keeps the commits at or below it.
  mem.rollback(3);
  assert.equal(seen(mem, 'c', 100), undefined);
  assert.equal(seen(mem, 't2', 100), 'DELETED');
  assert.equal(seen(mem, 'a', 100), 'a2');
  assert.equal(mem.countDelta(100), 2 - 1, 'a and b added, t2 deleted');
  assert.deepEqual(walk(mem, 100, false), [['a', 'a2'], ['b', 'b2'], ['t1', 't1-1'], ['t2', null]]);
  // The next commits reuse the txns given back.
  commit(mem, 4, [['c', 'c4-again']]);
  assert.equal(seen(mem, 'c', 4), 'c4-again');
  assert.equal(mem.countDelta(4), 2);
  // Rolling back everything leaves an empty memtable that takes commits again.
  mem.rollback(0);
  assert.equal(mem.bytes, 0);
  assert.equal(seen(mem, 'a', ALL), undefined);
  assert.equal(mem.countDelta(100), 0);
  assert.deepEqual(walk(mem, 100, false), []);
  assert.deepEqual(walk(mem, 100, true), []);
  commit(mem, 1, [['z', 'z1']]);
  assert.deepEqual(walk(mem, 1, true), [['z', 'z1']]);
  assert.equal(mem.countDelta(1), 1);
});

test('countDelta at an older txn, asked after newer commits, counts what that reader sees, tree keys included', () => {
  const tree = ['a', 'b', 'c'];
  const build = (): MemTable => {
    const mem = memOver(tree);
    commit(mem, 1, [['a', 'a1'], ['x', 'x1'], ['y', null]]); // overwrite tree key 0, add +1, remove absent 0
    commit(mem, 2, [['b', null], ['x', null], ['a', null]]); // delete tree keys -2, delete memtable key -1
    commit(mem, 3, [['b', 'b3'], ['y', 'y3'], ['x', null]]); // re-add tree key +1, add +1, delete again 0
    commit(mem, 5, [['c', 'c5'], ['a', 'a5'], ['z', 'z5'], ['z', null]]); // overwrite 0, re-add +1, add-then-delete 0
    return mem;
  };
  const expected = [0, 1, -2, 0, 0, 1, 1];
  // Newest first, then older (the sums are computed once, for the newest).
  const newestFirst = build();
  for (let txn = 6; txn >= 0; txn--) assert.equal(newestFirst.countDelta(txn), expected[txn], `countDelta(${txn}) asked newest first`);
  // Oldest first, and in a scrambled order.
  const oldestFirst = build();
  for (let txn = 0; txn <= 6; txn++) assert.equal(oldestFirst.countDelta(txn), expected[txn], `countDelta(${txn}) asked oldest first`);
  const scrambled = build();
  for (const txn of [4, 1, 6, 0, 2, 5, 3]) assert.equal(scrambled.countDelta(txn), expected[txn], `countDelta(${txn}) asked out of order`);
  // The delta is what a full count would find: tree keys the reader does not see overwritten or
  // deleted, plus the memtable's live entries.
  for (let txn = 0; txn <= 6; txn++) {
    const live = new Set(tree);
    for (const [k, v] of walk(scrambled, txn, false)) {
      if (v === null) live.delete(k);
      else live.add(k);
    }
    assert.equal(live.size - tree.length, expected[txn], `delta at ${txn} against a full recount`);
  }
});

test('a cursor seeks forward and backward from a key, inclusive or exclusive, and from either end', () => {
  const mem = memOver();
  commit(mem, 1, [['c', 'c1'], ['e', 'e1'], ['g', 'g1'], ['a', 'a1']]);
  commit(mem, 2, [['e', null], ['b', 'b2']]);
  commit(mem, 9, [['d', 'd9'], ['h', 'h9']]); // newer than the readers below: never returned
  const at = (reverse: boolean, from: string | null, exclusive = false): string =>
    walk(mem, 2, reverse, from, exclusive)
      .map(([k, v]) => (v === null ? `-${k}` : k))
      .join('');
  // The reader at txn 2 sees a, b, c, e deleted (returned, so it can hide the tree's e), g.
  assert.equal(at(false, null), 'abc-eg');
  assert.equal(at(false, 'b'), 'bc-eg');
  assert.equal(at(false, 'b', true), 'c-eg');
  assert.equal(at(false, 'd'), '-eg');
  assert.equal(at(false, 'd', true), '-eg');
  assert.equal(at(false, '0'), 'abc-eg');
  assert.equal(at(false, 'g'), 'g');
  assert.equal(at(false, 'g', true), '');
  assert.equal(at(false, 'z'), '');
  assert.equal(at(true, null), 'g-ecba');
  assert.equal(at(true, 'e'), '-ecba');
  assert.equal(at(true, 'e', true), 'cba');
  assert.equal(at(true, 'd'), 'cba');
  assert.equal(at(true, 'd', true), 'cba');
  assert.equal(at(true, 'z'), 'g-ecba');
  assert.equal(at(true, 'a'), 'a');
  assert.equal(at(true, 'a', true), '');
  assert.equal(at(true, '0'), '');
  // A reader at txn 1 sees e's value, no b; one at 9 sees d and h.
  assert.equal(walk(mem, 1, false).map(([k]) => k).join(''), 'aceg');
  assert.equal(walk(mem, 9, true).map(([k]) => k).join(''), 'hgedcba');
  // Prefixes and shared first four bytes: byte order, shorter first.
  const p = memOver();
  commit(p, 1, [['abcd', '1'], ['abc', '2'], ['abcde', '3'], ['abcd\u0000', '4'], ['ab\u00ff', '5'], ['\u00ff', '6'], ['\u0000', '7']]);
  const order = ['\u0000', 'abc', 'abcd', 'abcd\u0000', 'abcde', 'ab\u00ff', '\u00ff'];
  assert.deepEqual(walk(p, 1, false).map(([k]) => k), order);
  assert.deepEqual(walk(p, 1, true).map(([k]) => k), [...order].reverse());
  assert.deepEqual(walk(p, 1, false, 'abcd', true).map(([k]) => k), order.slice(3));
  assert.deepEqual(walk(p, 1, false, 'abcd', false).map(([k]) => k), order.slice(2));
  assert.deepEqual(walk(p, 1, true, 'abcd', true).map(([k]) => k), order.slice(0, 2).reverse());
  assert.deepEqual(walk(p, 1, true, 'abcd', false).map(([k]) => k), order.slice(0, 3).reverse());
});

test('seeks and walks over 1,500 keys written by 15 commits in scrambled order agree with a sorted array, from every kind of start', () => {
  const mem = memOver();
  // 1,500 keys inserted in a scrambled order over 15 commits: every commit's keys land all over the
  // key space (inserts into the middle of full chunks, runs that interleave when merged).
  const all = Array.from({ length: 1500 }, (_, i) => i * 2);
  const scrambled = [...all].sort((x, y) => ((x * 7919) % 1501) - ((y * 7919) % 1501));
  for (let c = 0; c < 15; c++) commit(mem, c + 1, scrambled.slice(c * 100, c * 100 + 100).map((n) => [nk(n).toString('latin1'), `v${n}`]));
  const sorted = all.map((n) => nk(n).toString('latin1'));
  assert.deepEqual(walk(mem, ALL, false).map(([k]) => k), sorted);
  for (let probe = -1; probe <= 3001; probe += 37) {
    const from = nk(probe).toString('latin1');
    const present = probe >= 0 && probe % 2 === 0 && probe < 3000;
    for (const exclusive of [false, true]) {
      const fwd = walk(mem, 15, false, from, exclusive).map(([k]) => k);
      const wantFwd = sorted.filter((k) => (exclusive ? k > from : k >= from));
      assert.deepEqual(fwd, wantFwd, `forward from ${from}${exclusive ? ' exclusive' : ''} (present: ${present})`);
      const rev = walk(mem, 15, true, from, exclusive).map(([k]) => k);
      const wantRev = sorted.filter((k) => (exclusive ? k < from : k <= from)).reverse();
      assert.deepEqual(rev, wantRev, `reverse from ${from}${exclusive ? ' exclusive' : ''} (present: ${present})`);
    }
  }
  // A reader that sees only the first commits skips the keys written by later ones wherever they are.
  const firstTwo = new Set(scrambled.slice(0, 200).map((n) => nk(n).toString('latin1')));
  assert.deepEqual(walk(mem, 2, false).map(([k]) => k), sorted.filter((k) => firstTwo.has(k)));
  assert.deepEqual(walk(mem, 2, true).map(([k]) => k), sorted.filter((k) => firstTwo.has(k)).reverse());
});

for (const reverse of [false, true]) {
  test(`a ${reverse ? 'reverse' : 'forward'} cursor that keeps going while later commits insert, overwrite, delete and roll back returns each key it sees exactly once, in order, with its value`, () => {
    const mem = memOver();
    // The reader's commits: even keys 0..598, each written at txn 1 and some overwritten at txn 2.
    commit(mem, 1, Array.from({ length: 300 }, (_, i): [string, string] => [nk(i * 4).toString('latin1'), `v1-${i * 4}`]));
    commit(mem, 2, Array.from({ length: 100 }, (_, i): [string, string] => [nk(i * 12).toString('latin1'), `v2-${i * 12}`]));
    const reader = 2;
    const want = walk(mem, reader, reverse);
    assert.equal(want.length, 300);

    const cursor = openCursor(mem, reader, reverse);
    const got: [string, string | null][] = [];
    let txn = reader;
    let odd = 0;
    let steps = 0;
    let r = cursor.seek(null, false);
    while (r !== null) {
      got.push([Buffer.from(r.key).toString('latin1'), show(r.value)]);
      // After every step, a commit: 40 new keys spread over the whole key space (in the gaps
      // between the reader's keys, before and after it), overwrites and deletions of keys the reader
      // has seen and has yet to see. Every 7th step the newest commit is rolled back again.
      txn++;
      const writes: [string, string | null][] = [];
      for (let j = 0; j < 40; j++) writes.push([nk(1 + 2 * ((odd++ * 37) % 600)).toString('latin1'), `new${txn}`]);
      writes.push([nk(((txn * 52) % 300) * 4).toString('latin1'), `over${txn}`]);
      writes.push([nk(((txn * 88 + 4) % 300) * 4).toString('latin1'), null]);
      writes.push([nk(5000 + txn).toString('latin1'), `after${txn}`]);
      writes.push([b('a').toString('latin1') + String(txn), `before${txn}`]);
      commit(mem, txn, writes);
      if (++steps % 7 === 0) {
        txn--;
        mem.rollback(txn);
      }
      r = cursor.next();
    }
    // Enough commits ran to move the reader's entries around many times over.
    const keysNow = walk(mem, ALL, false).length;
    assert.ok(keysNow > 300 + 128 * 4, `only ${keysNow} keys`);
    assert.deepEqual(got, want);
  });
}

// ---------------------------------------------------------------------------------------------
// Model-based: random commits, rollbacks, reads and interleaved cursors against a sorted array
// ---------------------------------------------------------------------------------------------

type MWrite = { key: Buffer; value: Buffer | null };
type Op =
  | { kind: 'add'; writes: MWrite[]; gap: number }
  | { kind: 'rollback'; back: number }
  | { kind: 'check'; at: number; from: Buffer | null; exclusive: boolean }
  | { kind: 'scanDuring'; at: number; from: Buffer | null; exclusive: boolean; reverse: boolean; every: number; during: { writes: MWrite[]; rollback: boolean }[] };

interface ModelCommit {
  txn: number;
  /** The last write of each key (hex), in the commit. */
  writes: Map<string, Buffer | null>;
  /** mem.bytes right after this commit was added. */
  bytesAfter: number;
}

/**
 * Keys: mostly 4-byte keys of a 600-key space (hundreds per run), some sharing their first four bytes, some random,
 * and some of 9 to 16 bytes sharing their first nine, with tails of 0, 1 and 2: keys whose 12-byte words tie, keys
 * that end inside or just past them, and keys that are prefixes of others.
 */
const keyArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 7, max: 2 }).map((tail) => Buffer.concat([Buffer.from('k0@!audit', 'latin1'), tail])) },
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 599 }).map((n) => Buffer.from([0x6b, 0x30 + (n >> 6), 0x40 + (n & 63), 0x21])) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 9 }), fc.uint8Array({ maxLength: 2 })).map(([n, tail]) => Buffer.concat([Buffer.from([0x6b, 0x30, 0x40 + n, 0x21]), tail])) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 5 }).map((a) => Buffer.from(a)) },
);
const writeArb: fc.Arbitrary<MWrite> = fc.record({
  key: keyArb,
  value: fc.option(fc.uint8Array({ maxLength: 6 }).map((a) => Buffer.from(a)), { nil: null, freq: 4 }),
});
const writesArb = fc.array(writeArb, { minLength: 1, maxLength: 60, size: 'max' });
const fromArb = fc.option(keyArb, { nil: null, freq: 4 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('add' as const), writes: writesArb, gap: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rollback' as const), back: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('check' as const), at: fc.nat(), from: fromArb, exclusive: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('scanDuring' as const),
      at: fc.nat(),
      from: fromArb,
      exclusive: fc.boolean(),
      reverse: fc.boolean(),
      every: fc.integer({ min: 1, max: 5 }),
      during: fc.array(fc.record({ writes: writesArb, rollback: fc.integer({ min: 0, max: 9 }).map((n) => n < 3) }), { minLength: 1, maxLength: 8 }),
    }),
  },
);

const TREE_KEYS = (() => {
  const keys: string[] = [];
  for (let n = 0; n < 600; n += 3) keys.push(hex(Buffer.from([0x6b, 0x30 + (n >> 6), 0x40 + (n & 63), 0x21])));
  return new Set(keys);
})();

class Model {
  commits: ModelCommit[] = [];
  lastTxn = 0;

  add(txn: number, writes: MWrite[], bytesAfter: number): (string | null)[] {
    const m = new Map<string, Buffer | null>();
    const superseded: (string | null)[] = [];
    for (const w of writes) {
      const k = hex(w.key);
      if (m.has(k)) {
        const prev = m.get(k)!;
        superseded.push(prev === null ? null : prev.toString('hex'));
      }
      m.set(k, w.value);
    }
    this.commits.push({ txn, writes: m, bytesAfter });
    this.lastTxn = txn;
    return superseded;
  }

  rollback(txn: number): void {
    this.commits = this.commits.filter((c) => c.txn <= txn);
    this.lastTxn = txn;
  }

  /** Per key (hex), the version a reader at `txn` sees: [txn, value]. */
  visible(txn: number): Map<string, [number, Buffer | null]> {
    const out = new Map<string, [number, Buffer | null]>();
    for (const c of this.commits) if (c.txn <= txn) for (const [k, v] of c.writes) out.set(k, [c.txn, v]);
    return out;
  }

  keys(): Set<string> {
    const s = new Set<string>();
    for (const c of this.commits) for (const k of c.writes.keys()) s.add(k);
    return s;
  }

  /** What a cursor at `txn` returns, as [key hex, value hex | null], in its order. */
  scan(txn: number, reverse: boolean, from: Buffer | null, exclusive: boolean): [string, string | null][] {
    const f = from === null ? null : hex(from);
    // Hex strings of bytes compare like the bytes (a prefix sorts first).
    let rows = [...this.visible(txn)].map(([k, [, v]]) => [k, v === null ? null : v.toString('hex')] as [string, string | null]).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    if (reverse) rows = rows.reverse();
    if (f !== null) rows = rows.filter(([k]) => (reverse ? (exclusive ? k < f : k <= f) : exclusive ? k > f : k >= f));
    return rows;
  }

  countDelta(txn: number): number {
    let d = 0;
    for (const [k, [, v]] of this.visible(txn)) d += (v !== null ? 1 : 0) - (TREE_KEYS.has(k) ? 1 : 0);
    return d;
  }
}

function cursorRows(mem: MemTable, txn: number, reverse: boolean, from: Buffer | null, exclusive: boolean): [string, string | null][] {
  const c = openCursor(mem, txn, reverse);
  const out: [string, string | null][] = [];
  for (let r = c.seek(from, exclusive); r !== null; r = c.next()) out.push([hex(r.key), r.value === null ? null : hex(r.value as Uint8Array)]);
  return out;
}

function checkAgainstModel(mem: MemTable, model: Model, at: number, from: Buffer | null, exclusive: boolean): void {
  const txns = [0, at % (model.lastTxn + 2), model.lastTxn, model.lastTxn + 5];
  const keys = model.keys();
  // Every key any commit still holds is there, once, in order, for a reader that sees everything.
  assert.deepEqual(cursorRows(mem, ALL, false, null, false).map(([k]) => k), [...keys].sort(), 'keys held');
  const last = model.commits[model.commits.length - 1];
  assert.equal(mem.bytes, last ? last.bytesAfter : 0, 'bytes after rollbacks match the bytes when the last remaining commit was added');
  for (const txn of txns) {
    const vis = model.visible(txn);
    for (const k of keys) {
      const got = findValue(mem, Buffer.from(k, 'hex'), txn);
      const want = vis.get(k);
      if (!want) assert.equal(got, undefined, `find(${k}, ${txn}) should find nothing`);
      else assert.equal(got === undefined ? 'nothing' : got === null ? null : hex(got as Uint8Array), want[1] === null ? null : want[1].toString('hex'), `find(${k}, ${txn})`);
    }
    assert.equal(mem.countDelta(txn), model.countDelta(txn), `countDelta(${txn})`);
    for (const reverse of [false, true]) {
      assert.deepEqual(cursorRows(mem, txn, reverse, from, exclusive), model.scan(txn, reverse, from, exclusive), `cursor at ${txn}, ${reverse ? 'reverse' : 'forward'}`);
    }
  }
}

function runOps(ops: Op[]): void {
  const mem = new MemTable((key) => TREE_KEYS.has(hex(key)));
  const model = new Model();
  const add = (writes: MWrite[], gap: number): void => {
    const txn = model.lastTxn + 1 + gap;
    const superseded: (string | null)[] = [];
    addCommit(mem, txn, writes, (v) => superseded.push(v === null ? null : hex(v as Uint8Array)));
    assert.deepEqual(sortValues(superseded), sortValues(model.add(txn, writes, mem.bytes)), 'superseded values of the commit');
  };
  for (const op of ops) {
    switch (op.kind) {
      case 'add':
        add(op.writes, op.gap);
        break;
      case 'rollback': {
        const to = Math.max(0, model.lastTxn - op.back);
        mem.rollback(to);
        model.rollback(to);
        break;
      }
      case 'check':
        checkAgainstModel(mem, model, op.at, op.from, op.exclusive);
        break;
      case 'scanDuring': {
        // A reader at `txn` keeps walking while later commits (and rollbacks that never go below
        // the reader) change the memtable; it must return exactly what it saw when it started.
        const txn = op.at % (model.lastTxn + 1);
        const want = model.scan(txn, op.reverse, op.from, op.exclusive);
        const c = openCursor(mem, txn, op.reverse);
        const got: [string, string | null][] = [];
        let during = 0;
        for (let r = c.seek(op.from, op.exclusive); r !== null; r = c.next()) {
          got.push([hex(r.key), r.value === null ? null : hex(r.value as Uint8Array)]);
          if (got.length % op.every === 0 && during < op.during.length) {
            const d = op.during[during++]!;
            add(d.writes, 0);
            if (d.rollback && model.lastTxn - 1 >= txn) {
              mem.rollback(model.lastTxn - 1);
              model.rollback(model.lastTxn - 1);
            }
          }
        }
        assert.deepEqual(got, want, `cursor at ${txn} across ${during} commits`);
        break;
      }
    }
  }
  checkAgainstModel(mem, model, 0, null, false);
}

/** A value as a string, an out-of-line one by its bytes. */
const showAny = (v: MemValue | undefined): string | null => (v instanceof OutOfLineValue ? show(v.data) : show(v));

/** Everything a fold source hands out, chunk by chunk of `chunk` keys, and the superseded value objects. */
function drainFold(mem: MemTable, chunk: number): { rows: [string, string | null][]; chunks: number; superseded: string[] } {
  const source = mem.foldSource();
  const rows: [string, string | null][] = [];
  const superseded: string[] = [];
  let chunks = 0;
  for (let w = source.next(chunk, (v) => superseded.push(showAny(v)!)); w !== null; w = source.next(chunk, (v) => superseded.push(showAny(v)!))) {
    chunks++;
    assert.ok(w.length <= chunk, `a chunk of ${w.length} keys, asked for ${chunk}`);
    for (let i = 0; i < w.length; i++) rows.push([Buffer.from(w.key(i)).toString('latin1'), showAny(w.value(i))]);
  }
  return { rows, chunks, superseded };
}

test('a fold source hands out each key once, with its newest version, in key order and in chunks, and later commits do not disturb it', () => {
  const mem = memOver();
  // 12 commits over 600 keys: overwrites, deletions and re-puts across commits, so runs overlap.
  const want = new Map<string, string | null>();
  for (let txn = 1; txn <= 12; txn++) {
    const writes: [string, string | null][] = [];
    for (let i = 0; i < 120; i++) {
      const k = `k${String((i * 37 + txn * 101) % 600).padStart(5, '0')}`;
      const v = (i + txn) % 9 === 0 ? null : `v${txn}-${i}`;
      writes.push([k, v]);
      want.set(k, v);
    }
    commit(mem, txn, writes);
  }
  const source = mem.foldSource();
  // Commits after the fold source was taken: it must not see them.
  commit(mem, 13, [['k00001', 'late'], ['zzz', 'late']]);
  const rows: [string, string | null][] = [];
  for (let w = source.next(50, () => {}); w !== null; w = source.next(50, () => {})) {
    for (let i = 0; i < w.length; i++) rows.push([Buffer.from(w.key(i)).toString('latin1'), show(w.value(i))]);
  }
  const expected = [...want.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
  assert.deepEqual(rows, expected);
  assert.equal(source.done, expected.length);
  // The chunk size is respected, and the memtable's own readers still see the late commit.
  const again = drainFold(mem, 64);
  assert.equal(again.chunks, Math.ceil(again.rows.length / 64));
  assert.equal(seen(mem, 'k00001', ALL), 'late');
});

test('a fold source reports every older version of a value object as superseded, and never the winning one', () => {
  const mem = memOver();
  const big = (s: string): OutOfLineValue => new OutOfLineValue(b(s));
  const add = (txn: number, writes: [string, MemValue][]): void => addCommit(mem, txn, writes.map(([k, value]) => ({ key: b(k), value })), () => {});
  add(1, [['a', big('a1')], ['b', big('b1')], ['c', b('c1')]]);
  add(2, [['a', big('a2')], ['c', null]]);
  add(3, [['a', big('a3')], ['b', b('b3')]]);
  const { rows, superseded } = drainFold(mem, 2);
  assert.deepEqual(rows, [['a', 'a3'], ['b', 'b3'], ['c', null]]);
  assert.equal(show((mem.find(b('a'), ALL) as OutOfLineValue).data), 'a3');
  // a1 and a2 lost to a3, b1 to the inline b3; inline values and deletions hold no reference to give back.
  assert.deepEqual(superseded.sort(), ['a1', 'a2', 'b1']);
});

test('since(txn) keeps exactly the commits above txn, readable as before, with their count delta over the folded tree', () => {
  const mem = memOver(['k00000', 'k00001']);
  commit(mem, 1, [['k00002', 'one'], ['k00003', 'one']]);
  commit(mem, 2, [['k00000', null], ['k00004', 'two']]);
  commit(mem, 3, [['k00002', 'three'], ['k00005', 'three'], ['k00001', null]]);
  commit(mem, 4, [['k00006', 'four'], ['k00003', null]]);
  // The tree after folding commits 1 and 2 into the one holding k00000 and k00001.
  const folded = new Set(['k00001', 'k00002', 'k00003', 'k00004']);
  assert.equal(mem.since(4, (k) => folded.has(Buffer.from(k).toString('latin1'))), null, 'nothing above the newest commit');
  const later = mem.since(2, (k) => folded.has(Buffer.from(k).toString('latin1')))!;
  assert.equal(later.size, 5);
  assert.equal(seen(later, 'k00002', ALL), 'three');
  assert.equal(seen(later, 'k00003', ALL), 'DELETED');
  assert.equal(seen(later, 'k00004', ALL), undefined, 'commit 2 is in the tree now, not the memtable');
  assert.equal(seen(later, 'k00002', 2), undefined, 'a reader at 2 finds nothing of its own in the new memtable');
  // Over the folded tree: commit 3 adds k00005 and deletes k00001; commit 4 adds k00006 and deletes k00003.
  assert.equal(later.countDelta(3), 0);
  assert.equal(later.countDelta(ALL), 0);
  assert.deepEqual(walk(later, ALL, false), [
    ['k00001', null],
    ['k00002', 'three'],
    ['k00003', null],
    ['k00005', 'three'],
    ['k00006', 'four'],
  ]);
  // The new memtable takes commits of its own like any other.
  commit(later, 5, [['k00007', 'five']]);
  assert.equal(later.countDelta(ALL), 1);
  assert.equal(seen(mem, 'k00007', ALL), undefined, 'the old memtable is left as it was');
});

test('since(txn) after a rollback keeps the later commits only, value objects included, and none of the rolled-back writes', () => {
  const mem = memOver();
  const big = (s: string): OutOfLineValue => new OutOfLineValue(b(s));
  const add = (txn: number, writes: [string, MemValue][]): void => addCommit(mem, txn, writes.map(([k, value]) => ({ key: b(k), value })), () => {});
  add(1, [['a', big('a1')], ['b', b('b1')]]);
  add(2, [['c', big('c2')], ['a', b('a2')]]);
  add(3, [['d', big('d3')], ['b', null]]);
  mem.rollback(2);
  add(3, [['e', big('e3')], ['b', b('b3')]]);
  const later = mem.since(1, () => false)!;
  const c = openCursor(later, ALL, false);
  const rows: [string, string | null][] = [];
  for (let r = c.seek(null, false); r !== null; r = c.next()) rows.push([Buffer.from(r.key).toString('latin1'), showAny(r.value)]);
  assert.deepEqual(rows, [['a', 'a2'], ['b', 'b3'], ['c', 'c2'], ['e', 'e3']]);
  assert.equal(later.find(b('d'), ALL), undefined, 'a rolled-back write came back');
  assert.equal(later.size, 4);
  assert.equal(later.countDelta(ALL), 4);
});

test('random commits, rollbacks, reads and cursors running across commits agree with a sorted-array model', () => {
  const seed = Number(process.env.MEMTABLE_SEED ?? Date.now() % 2 ** 31);
  const numRuns = Number(process.env.MEMTABLE_RUNS ?? 75);
  console.log(`memtable model seed ${seed} (rerun with MEMTABLE_SEED=${seed}), ${numRuns} runs`);
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 40, size: 'max' }), (ops) => runOps(ops)),
    { seed, numRuns, includeErrorInReport: true },
  );
});

test('runs that interleave in long stretches (index keys: one prefix at a time, newer commits after older) merge into key order, newer versions first', () => {
  let state = 12345;
  const rand = (n: number): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  const mem = memOver();
  // Every version written, by key: [txn, value | null], oldest first.
  const model = new Map<string, [number, string | null][]>();
  const written: string[] = [];
  for (let txn = 1; txn <= 64; txn++) {
    const writes: [string, string | null][] = [];
    for (let p = 0; p < 40; p++) {
      if (rand(3) === 0) continue;
      // A stretch of keys under one prefix, all after this prefix's keys from earlier commits.
      for (let i = 0; i < 1 + rand(30); i++) writes.push([`p${String(p).padStart(2, '0')}|${String(txn * 100 + i).padStart(6, '0')}`, `v${txn}.${p}.${i}`]);
    }
    // Keys of earlier commits again: equal keys in two runs, where the newer version must come first.
    for (let j = 0; j < 5 && written.length > 0; j++) writes.push([written[rand(written.length)]!, rand(4) === 0 ? null : `again${txn}.${j}`]);
    const kept = new Map(writes);
    commit(mem, txn, [...kept]);
    for (const [k, v] of kept) {
      if (!model.has(k)) {
        model.set(k, []);
        written.push(k);
      }
      model.get(k)!.push([txn, v]);
    }
  }
  for (const txn of [1, 7, 32, 63, 64]) {
    const want: [string, string | null][] = [];
    for (const k of [...model.keys()].sort()) {
      const versions = model.get(k)!.filter(([t]) => t <= txn);
      if (versions.length > 0) want.push([k, versions[versions.length - 1]![1]]);
    }
    assert.deepEqual(walk(mem, txn, false), want, `ascending at txn ${txn}`);
    assert.deepEqual(walk(mem, txn, true), [...want].reverse(), `descending at txn ${txn}`);
  }
});

/**
 * Integers below n from mulberry32, seeded: the low bits of a power-of-two LCG (as the tests above
 * use) repeat too soon for keys drawn from thousands.
 */
function mulberry(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) % n;
  };
}

/**
 * One commit's [key, value | null] writes with their bytes in one SharedArrayBuffer, as a commit
 * log lays them out (key, then value): memory the helper thread that merges large runs can read.
 */
function sharedWrites(writes: [string, string | null][]): Write[] {
  let size = 0;
  for (const [k, v] of writes) size += k.length + (v?.length ?? 0);
  const arena = Buffer.from(new SharedArrayBuffer(Math.max(1, size)));
  let at = 0;
  return writes.map(([k, v]) => {
    const key = arena.subarray(at, (at += arena.write(k, at, 'latin1')));
    if (v === null) return { key, value: null };
    return { key, value: arena.subarray(at, (at += arena.write(v, at, 'latin1'))) };
  });
}

test('runs merged on the helper thread read exactly as runs merged in place, while commits, rollbacks and cursors go on', async () => {
  const rand = mulberry(4242);
  const doneBefore = backgroundMergesDone();
  const mem = memOver();
  // Every version written, by key: [txn, value | null], oldest first.
  const model = new Map<string, [number, string | null][]>();
  const expect = (txn: number): [string, string | null][] => {
    const out: [string, string | null][] = [];
    for (const k of [...model.keys()].sort()) {
      const versions = model.get(k)!.filter(([t]) => t <= txn);
      if (versions.length > 0) out.push([k, versions[versions.length - 1]![1]]);
    }
    return out;
  };
  let txn = 0;
  for (let round = 0; round < 48; round++) {
    txn++;
    // Runs of 1,500 writes: their merges (3,000 entries and up) go to the thread from the second on.
    const writes: [string, string | null][] = [];
    for (let i = 0; i < 1500; i++) writes.push([`k${String(rand(6000)).padStart(5, '0')}`, rand(10) === 0 ? null : `v${txn}.${i}`]);
    addCommit(mem, txn, sharedWrites(writes), () => {});
    for (const [k, v] of new Map(writes)) {
      if (!model.has(k)) model.set(k, []);
      model.get(k)!.push([txn, v]);
    }
    if (rand(6) === 0) {
      // A lost commit: its run goes, whether or not a merge of it is under way.
      mem.rollback(txn - 1);
      for (const versions of model.values()) if (versions[versions.length - 1]?.[0] === txn) versions.pop();
      txn--;
    }
    // Merges finish at different points of the commits: sometimes at once, sometimes later.
    if (rand(3) === 0) await sleep(rand(20));
    for (let j = 0; j < 40; j++) {
      const key = `k${String(rand(6000)).padStart(5, '0')}`;
      const at = 1 + rand(txn);
      const versions = (model.get(key) ?? []).filter(([t]) => t <= at);
      const want = versions.length === 0 ? undefined : (versions[versions.length - 1]![1] ?? 'DELETED');
      assert.equal(seen(mem, key, at), want, `${key} at txn ${at} after commit ${txn}`);
    }
    if (round % 12 === 11) assert.deepEqual(walk(mem, txn, false), expect(txn), `ascending after commit ${txn}`);
  }
  for (let waited = 0; backgroundMergesDone() === doneBefore && waited < 10_000; waited += 20) await sleep(20);
  assert.ok(backgroundMergesDone() > doneBefore, 'no merge ran on the helper thread');
  // One more commit takes in the merges finished meanwhile.
  txn++;
  addCommit(mem, txn, sharedWrites([['k99999', 'last']]), () => {});
  model.set('k99999', [[txn, 'last']]);
  for (const at of [1, Math.ceil(txn / 2), txn]) {
    assert.deepEqual(walk(mem, at, false), expect(at), `ascending at txn ${at}`);
    assert.deepEqual(walk(mem, at, true), expect(at).reverse(), `descending at txn ${at}`);
  }
});

test('a fold source over runs the helper thread merged into one hands out what one over the runs does: each key once, newest version first, every older value object superseded', async () => {
  const rand = mulberry(99);
  const mem = memOver();
  const want = new Map<string, string | null>();
  const objects: string[] = [];
  // Value objects a later write of the same commit replaced: reported by add, never by the fold.
  const replacedInCommit = new Set<string | null>();
  for (let txn = 1; txn <= 9; txn++) {
    const writes: Write[] = [];
    const inline: [string, string | null][] = [];
    for (let i = 0; i < 1200; i++) inline.push([`k${String(rand(4000)).padStart(5, '0')}`, rand(8) === 0 ? null : `v${txn}.${i}`]);
    // A few values as objects (out of line): the ones a later version replaces must be reported.
    const shared = sharedWrites(inline);
    for (let i = 0; i < shared.length; i++) {
      const obj = i % 50 === 0 && inline[i]![1] !== null;
      writes.push(obj ? { key: shared[i]!.key, value: new OutOfLineValue(b(`o${txn}.${i}`)) } : shared[i]!);
      if (obj) objects.push(`o${txn}.${i}`);
      want.set(inline[i]![0], obj ? `o${txn}.${i}` : inline[i]![1]);
    }
    addCommit(mem, txn, writes, (v) => replacedInCommit.add(showAny(v)));
  }
  const drain = (source: ReturnType<MemTable['foldSource']>): { rows: [string, string | null][]; superseded: string[] } => {
    const rows: [string, string | null][] = [];
    const superseded: string[] = [];
    for (let w = source.next(700, (v) => superseded.push(showAny(v)!)); w !== null; w = source.next(700, (v) => superseded.push(showAny(v)!))) {
      assert.ok(w.length <= 700);
      for (let i = 0; i < w.length; i++) rows.push([Buffer.from(w.key(i)).toString('latin1'), showAny(w.value(i))]);
    }
    return { rows, superseded: superseded.sort() };
  };
  const before = backgroundMergesDone();
  const premerged = mem.foldSource(true);
  for (let waited = 0; premerged.merging() && waited < 10_000; waited += 10) await sleep(10);
  assert.ok(backgroundMergesDone() > before, 'the helper thread merged nothing');
  const fromRuns = mem.foldSource();
  fromRuns.stopMerging();
  const a = drain(premerged);
  const b2 = drain(fromRuns);
  const expected = [...want.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
  assert.deepEqual(a.rows, expected);
  assert.deepEqual(b2.rows, expected);
  assert.deepEqual(a.superseded, b2.superseded);
  // Every value object a later commit's version of its key replaced, and only those.
  const winning = new Set(expected.map(([, v]) => v));
  assert.deepEqual(a.superseded, objects.filter((o) => !winning.has(o) && !replacedInCommit.has(o)).sort());
  assert.equal(premerged.done, expected.length);
});
