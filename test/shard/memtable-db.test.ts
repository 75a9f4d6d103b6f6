/**
 * The memtable seen through the Database API: blind deletes (remove), snapshots across folds, blob
 * reference counts of values superseded in the memtable, rollback of group commits whose fsync
 * failed, range scans that run across commits, and the memtableBytes option.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Database, ValidationError, type DatabaseOptions, type Entry, type RangeOptions } from '../../src/index.js';
import { FaultyFileIO } from '../support/fault-file-io.js';
import { enc, tmpDir } from '../support/tmp.js';

const key = (i: number): Buffer => enc(`k${String(i).padStart(5, '0')}`);
const OPTS = { checkpointIntervalMs: 0 } satisfies DatabaseOptions;

/** Table name -> key -> value, as strings. */
type State = Map<string, Map<string, string>>;

function clone(s: State): State {
  return new Map([...s].map(([t, kv]) => [t, new Map(kv)]));
}

function tableOf(s: State, t: string): Map<string, string> {
  let kv = s.get(t);
  if (!kv) s.set(t, (kv = new Map()));
  return kv;
}

/** What a reader (database or snapshot) can show of one table. */
interface Reader {
  table(name: string): {
    range(o?: RangeOptions): IterableIterator<Entry>;
    count(): number;
    get(k: Uint8Array): Buffer | undefined;
    has(k: Uint8Array): boolean;
  };
  tableNames(): string[];
}

const rows = (it: Iterable<Entry>): [string, string][] => [...it].map((e) => [e.key.toString('latin1'), e.value.toString('latin1')]);

/**
 * Checks that `r` shows exactly `want` (the tables listed there; tables absent or empty there must be
 * empty or absent): full scans both ways, a bounded scan, count(), and get/has of every key plus some
 * that are absent.
 */
function assertReads(r: Reader, want: State, where: string, absent: Buffer[] = []): void {
  const names = [...new Set([...r.tableNames(), ...want.keys()])];
  for (const t of names) {
    const kv = want.get(t) ?? new Map<string, string>();
    const sorted = [...kv].sort((a, b) => Buffer.compare(Buffer.from(a[0], 'latin1'), Buffer.from(b[0], 'latin1')));
    const tb = r.table(t);
    assert.deepEqual(rows(tb.range()), sorted, `${where}: table ${t}, forward scan`);
    assert.deepEqual(rows(tb.range({ reverse: true })), [...sorted].reverse(), `${where}: table ${t}, reverse scan`);
    if (sorted.length > 2) {
      const lo = sorted[Math.floor(sorted.length / 3)]![0];
      const hi = sorted[Math.floor((2 * sorted.length) / 3)]![0];
      const inside = sorted.filter(([k]) => k > lo && k <= hi);
      assert.deepEqual(rows(tb.range({ gt: enc(lo), lte: enc(hi) })), inside, `${where}: table ${t}, bounded scan`);
      assert.deepEqual(rows(tb.range({ gt: enc(lo), lte: enc(hi), reverse: true, limit: 7 })), [...inside].reverse().slice(0, 7), `${where}: table ${t}, bounded reverse scan`);
    }
    assert.equal(tb.count(), kv.size, `${where}: table ${t}, count()`);
    for (const [k, v] of kv) {
      assert.equal(tb.get(Buffer.from(k, 'latin1'))?.toString('latin1'), v, `${where}: table ${t}, get(${k})`);
      assert.equal(tb.has(Buffer.from(k, 'latin1')), true, `${where}: table ${t}, has(${k})`);
    }
    for (const k of absent) {
      if (kv.has(k.toString('latin1'))) continue;
      assert.equal(tb.get(k), undefined, `${where}: table ${t}, get(${k}) of an absent key`);
      assert.equal(tb.has(k), false, `${where}: table ${t}, has(${k}) of an absent key`);
    }
  }
  const nonEmpty = [...want].filter(([, kv]) => kv.size > 0).map(([t]) => t);
  for (const t of nonEmpty) assert.ok(r.tableNames().includes(t), `${where}: table ${t} is not listed`);
}

/** Adds database-wide checks: db.count() and stats() agree with the tables' counts. */
function assertDb(db: Database, want: State, where: string, absent: Buffer[] = []): void {
  assertReads(db, want, where, absent);
  assert.equal(db.count(), want.get('default')?.size ?? 0, `${where}: db.count()`);
  for (const { name, entries } of db.stats().tables) assert.equal(entries, want.get(name)?.size ?? 0, `${where}: stats() entries of ${name}`);
}

/** Copies what a kill -9 at this moment would leave on disk (without the lock files of this live process). */
function crashImage(dir: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith('lock')) continue;
    fs.cpSync(path.join(dir, name), path.join(to, name), { recursive: true });
  }
}

function assertVerifies(db: Database, where: string): void {
  const report = db.verify();
  assert.ok(report.ok, `${where}: verify() found ${JSON.stringify(report.issues.slice(0, 3))}`);
}

/** Opens the store in `dir`, checks it shows exactly `want` and verifies, and closes it. */
function assertStore(dir: string, want: State, where: string, absent: Buffer[] = []): void {
  const db = Database.open(dir, OPTS);
  try {
    assertDb(db, want, where, absent);
    assertVerifies(db, where);
  } finally {
    db.close();
  }
}

test('remove() of absent keys changes nothing and remove() of present keys deletes them, before and after a checkpoint and after WAL replay', (t) => {
  const dir = tmpDir(t, 'remove');
  const db = Database.open(dir, OPTS);
  const want: State = new Map();
  const put = (tb: string, i: number, v: string): void => void tableOf(want, tb).set(key(i).toString('latin1'), v);
  const del = (tb: string, i: number): void => void tableOf(want, tb).delete(key(i).toString('latin1'));
  const absent = [key(200), key(205), key(300), key(150), key(3), key(102)];

  db.write((tx) => {
    for (let i = 0; i < 100; i++) {
      tx.put(key(i), enc(`tree${i}`));
      tx.table('events').put(key(i), enc(`ev${i}`));
      put('default', i, `tree${i}`);
      put('events', i, `ev${i}`);
    }
  });
  db.checkpoint(); // 0..99 now live in the trees
  db.write((tx) => {
    for (let i = 100; i < 150; i++) {
      tx.put(key(i), enc(`mem${i}`));
      tx.table('events').put(key(i), enc(`ev${i}`));
      put('default', i, `mem${i}`);
      put('events', i, `ev${i}`);
    }
  });

  const seen = db.write((tx) => {
    const before = tx.count();
    for (let i = 200; i < 210; i++) {
      tx.remove(key(i));
      tx.table('events').remove(key(i));
    }
    const afterAbsent = tx.count();
    for (let i = 0; i < 10; i++) tx.remove(key(i)); // held by the tree
    for (let i = 100; i < 105; i++) tx.remove(key(i)); // held by the memtable
    tx.remove(key(50));
    tx.put(key(50), enc('again')); // removed, then put back in the same commit
    tx.put(key(150), enc('brief'));
    tx.remove(key(150)); // put, then removed in the same commit: absent at the end
    for (let i = 20; i < 30; i++) tx.table('events').remove(key(i));
    tx.table('ghost').remove(key(1)); // a table that does not exist: not created
    return { before, afterAbsent, after: tx.count(), has0: tx.has(key(0)), get100: tx.get(key(100)), get50: tx.get(key(50))?.toString(), events: tx.table('events').count() };
  });
  for (let i = 0; i < 10; i++) del('default', i);
  for (let i = 100; i < 105; i++) del('default', i);
  put('default', 50, 'again');
  for (let i = 20; i < 30; i++) del('events', i);
  assert.deepEqual(seen, { before: 150, afterAbsent: 150, after: 135, has0: false, get100: undefined, get50: 'again', events: 140 }, 'what the transaction saw of its own removes');
  assertDb(db, want, 'after the removes', absent);
  assert.ok(!db.tableNames().includes('ghost'), 'remove() on a missing table created it');

  // Removing keys again that the memtable already deleted (some of which the tree still holds),
  // and keys that never existed, changes nothing.
  db.write((tx) => {
    for (let i = 0; i < 10; i++) tx.remove(key(i));
    for (let i = 100; i < 105; i++) tx.remove(key(i));
    for (let i = 300; i < 320; i++) tx.remove(key(i));
    for (let i = 20; i < 25; i++) tx.table('events').remove(key(i));
  });
  assertDb(db, want, 'after removing absent keys again', absent);

  // WAL replay rebuilds the memtable: a crash image reopens to the same contents and counts.
  crashImage(dir, `${dir}-crash`);
  t.after(() => fs.rmSync(`${dir}-crash`, { recursive: true, force: true }));
  const replayed = Database.open(`${dir}-crash`, OPTS);
  try {
    assert.ok(replayed.recovery.replayedCommits >= 3, `replayed only ${replayed.recovery.replayedCommits} commits`);
    assertDb(replayed, want, 'crash image, after WAL replay', absent);
    assert.ok(!replayed.tableNames().includes('ghost'));
    // Removes after replay behave the same.
    replayed.write((tx) => {
      tx.remove(key(0));
      tx.remove(key(11));
    });
    const after = clone(want);
    after.get('default')!.delete(key(11).toString('latin1'));
    assertDb(replayed, after, 'crash image, after one more remove');
  } finally {
    replayed.close();
  }

  // A checkpoint folds the deletions into the trees.
  db.checkpoint();
  assertDb(db, want, 'after a checkpoint', absent);
  db.write((tx) => {
    for (let i = 0; i < 10; i++) tx.remove(key(i)); // no longer in the tree either
    tx.remove(key(11)); // in the tree
    tx.table('events').remove(key(30));
  });
  del('default', 11);
  del('events', 30);
  assertDb(db, want, 'after removes over the folded trees', absent);

  db.close();
  assertStore(dir, want, 'after reopening', absent);
});

test('a snapshot taken before a checkpoint folds the memtable still reads its contents and counts, through the fold and later commits', (t) => {
  const db = Database.open(tmpDir(t, 'fold-snap'), { ...OPTS, pageSize: 1024 });
  const live: State = new Map();
  const set = (tb: string, i: number, v: string | null): void => {
    if (v === null) tableOf(live, tb).delete(key(i).toString('latin1'));
    else tableOf(live, tb).set(key(i).toString('latin1'), v);
  };
  const commit = (fn: (w: (tb: string, i: number, v: string | null, blind?: boolean) => void) => void): void => {
    db.write((tx) => {
      fn((tb, i, v, blind) => {
        const table = tb === 'default' ? tx : tx.table(tb);
        if (v !== null) table.put(key(i), enc(v));
        else if (blind) table.remove(key(i));
        else table.delete(key(i));
        set(tb, i, v);
      });
    });
  };
  const absent = [key(100), key(650), key(710), key(5000)];

  commit((w) => {
    for (let i = 0; i < 600; i++) w('a', i, `v1-${i}`);
    for (let i = 0; i < 50; i++) w('b', i, `b1-${i}`);
  });
  db.checkpoint();
  commit((w) => {
    for (let i = 0; i < 100; i++) w('a', i, `v2-${i}`); // overwrite tree keys
    for (let i = 100; i < 150; i++) w('a', i, null, i % 2 === 0); // delete tree keys
    for (let i = 600; i < 700; i++) w('a', i, `v2-${i}`); // new keys
    w('b', 60, 'b2-60');
  });
  const s1 = db.read();
  const want1 = clone(live);
  commit((w) => {
    for (let i = 0; i < 50; i++) w('a', i, `v3-${i}`); // overwrite memtable keys
    for (let i = 600; i < 620; i++) w('a', i, null, true); // delete memtable keys
    w('a', 150, null, true);
    for (let i = 700; i < 720; i++) w('a', i, `v3-${i}`);
    w('b', 0, null);
  });
  const s2 = db.read();
  const want2 = clone(live);
  try {
    assertReads(s1, want1, 'snapshot 1 before the fold', absent);
    assertReads(s2, want2, 'snapshot 2 before the fold', absent);

    db.checkpoint(); // folds both commits into the trees
    assertReads(s1, want1, 'snapshot 1 after the fold', absent);
    assertReads(s2, want2, 'snapshot 2 after the fold', absent);
    assertDb(db, live, 'live after the fold', absent);

    // Commits into the new memtable, over the folded trees, then a clear of one table.
    commit((w) => {
      for (let i = 0; i < 720; i += 3) w('a', i, `v4-${i}`);
      for (let i = 200; i < 300; i++) w('a', i, null, i % 3 === 0);
      for (let i = 1000; i < 1100; i++) w('a', i, `v4-${i}`);
    });
    db.write((tx) => tx.table('b').clear());
    live.set('b', new Map());
    assertReads(s1, want1, 'snapshot 1 after later commits', absent);
    assertReads(s2, want2, 'snapshot 2 after later commits', absent);
    assertDb(db, live, 'live after later commits', absent);

    db.checkpoint();
    db.compact();
    commit((w) => w('a', 7, 'v5-7'));
    assertReads(s1, want1, 'snapshot 1 after another checkpoint and a compaction', absent);
    assertReads(s2, want2, 'snapshot 2 after another checkpoint and a compaction', absent);
    assertDb(db, live, 'live after another checkpoint and a compaction', absent);
  } finally {
    s1.close();
    s2.close();
  }
  db.checkpoint();
  assertVerifies(db, 'at the end');
  db.close();
});

test('deduplicated values overwritten or removed while in the memtable leave blob reference counts right after the fold', (t) => {
  const dir = tmpDir(t, 'dedup-mem');
  let db = Database.open(dir, OPTS); // dedup on, threshold 1 KiB (the defaults)
  const blob = (c: string): string => c.repeat(2048);
  const live: State = new Map();
  const check = (where: string): void => {
    assertDb(db, live, where);
    // verify() checks what is on disk: checkpoint first, so the folded trees are what it checks.
    db.checkpoint();
    assertVerifies(db, where);
  };
  const w = (tb: string, k: string, v: string | null): void => {
    if (v === null) tableOf(live, tb).delete(k);
    else tableOf(live, tb).set(k, v);
  };

  db.write((tx) => {
    tx.put(enc('k1'), enc(blob('A')));
    tx.put(enc('k2'), enc(blob('A')));
    tx.put(enc('k3'), enc(blob('B')));
    tx.table('x').put(enc('k1'), enc(blob('A')));
    tx.table('x').put(enc('k2'), enc(blob('G')));
  });
  w('default', 'k1', blob('A'));
  w('default', 'k2', blob('A'));
  w('default', 'k3', blob('B'));
  w('x', 'k1', blob('A'));
  w('x', 'k2', blob('G'));
  db.write((tx) => {
    tx.put(enc('k1'), enc(blob('B'))); // overwrites a blob value in the memtable
    tx.remove(enc('k2')); // blind delete of a blob value in the memtable
    tx.put(enc('k4'), enc(blob('C')));
    tx.put(enc('k4'), enc(blob('D'))); // superseded within the commit
    tx.put(enc('k5'), enc(blob('C')));
    tx.delete(enc('k5')); // put and deleted within the commit
    tx.put(enc('k8'), enc(blob('H')));
    tx.remove(enc('k8')); // put and removed within the commit: H is referenced by nothing
  });
  w('default', 'k1', blob('B'));
  w('default', 'k2', null);
  w('default', 'k4', blob('D'));
  db.write((tx) => {
    tx.remove(enc('k3'));
    tx.put(enc('k6'), enc(blob('A')));
    tx.table('x').remove(enc('k1'));
    tx.table('x').put(enc('k2'), enc(blob('G'))); // the same value again
  });
  w('default', 'k3', null);
  w('default', 'k6', blob('A'));
  w('x', 'k1', null);
  check('after overwrites and removes in the memtable');

  // Now the tree holds blob values: overwrite and remove them from the memtable, with a snapshot
  // holding the versions from before.
  const snap = db.read();
  const before = clone(live);
  db.write((tx) => {
    tx.put(enc('k1'), enc(blob('C'))); // tree value B replaced
    tx.remove(enc('k4')); // tree value D removed
    tx.put(enc('k6'), enc(blob('A'))); // the same value again
    tx.put(enc('k7'), enc(blob('E')));
  });
  db.write((tx) => {
    tx.put(enc('k7'), enc(blob('F'))); // E was only ever in the memtable
    tx.table('x').put(enc('k9'), enc(blob('A')));
  });
  db.write((tx) => tx.table('x').clear()); // clears a tree value (G) and a memtable value (A)
  w('default', 'k1', blob('C'));
  w('default', 'k4', null);
  w('default', 'k7', blob('F'));
  live.set('x', new Map());
  assertReads(snap, before, 'snapshot before the fold');
  check('after overwriting and removing tree values from the memtable');
  assertReads(snap, before, 'snapshot after the fold');
  snap.close();

  db.write((tx) => tx.dropTable('x'));
  live.delete('x');
  db.close();
  db = Database.open(dir, OPTS);
  check('after reopening');

  // Removing every key gives every blob back: nothing is left in any table, blob tables included.
  db.write((tx) => {
    for (const k of ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8']) tx.remove(enc(k));
  });
  live.set('default', new Map());
  check('after removing every key');
  assert.equal(db.verify().checked.entries, 0, 'entries (blob tables included) left after removing every key');
  db.close();
});

test('a writeAsync commit whose WAL fsync fails is rolled back from the memtable; later commits and a reopen show only acknowledged data', async (t) => {
  const dir = tmpDir(t, 'rollback');
  const io = new FaultyFileIO();
  const db = Database.open(dir, { ...OPTS, io });
  const acked: State = new Map();
  const g = (): Map<string, string> => tableOf(acked, 'g');
  const absent = [key(9999), enc('m00000'), enc('m00299'), key(10), key(20)];

  db.write((tx) => {
    for (let i = 0; i < 50; i++) tx.table('g').put(key(i), enc(`base${i}`));
  });
  for (let i = 0; i < 50; i++) g().set(key(i).toString('latin1'), `base${i}`);
  db.checkpoint();
  db.write((tx) => {
    for (let i = 0; i < 10; i++) tx.table('g').put(key(i), enc(`v1-${i}`));
    for (let i = 10; i < 15; i++) tx.table('g').remove(key(i));
    for (let i = 0; i < 10; i++) tx.table('g').put(enc(`n${i}`), enc(`new${i}`));
  });
  for (let i = 0; i < 10; i++) g().set(key(i).toString('latin1'), `v1-${i}`);
  for (let i = 10; i < 15; i++) g().delete(key(i).toString('latin1'));
  for (let i = 0; i < 10; i++) g().set(`n${i}`, `new${i}`);
  await db.writeAsync((tx) => tx.table('g').put(key(40), enc('async-ok')));
  g().set(key(40).toString('latin1'), 'async-ok');

  const snap = db.read();
  const snapWant = clone(acked);
  // A scan already under way when the commits fail.
  const scan = db.table('g').range();
  const head = [scan.next(), scan.next(), scan.next()].map((r) => [r.value!.key.toString('latin1'), r.value!.value.toString('latin1')]);

  // Three commits share one fsync, which fails.
  io.arm({ op: 'sync', nth: 1, kind: 'EIO' });
  const settled = await Promise.allSettled([
    db.writeAsync((tx) => {
      const t = tx.table('g');
      for (let i = 0; i < 5; i++) t.put(key(i), enc('lost-a')); // memtable keys with older versions
      t.put(key(10), enc('lost-back')); // a key the memtable deleted
      t.remove(key(20)); // a tree key
      t.remove(enc('n0')); // a memtable key
      t.put(key(41), enc('lost-41')); // a tree key, overwritten
    }),
    db.writeAsync((tx) => {
      const t = tx.table('g');
      for (let i = 0; i < 300; i++) t.put(enc(`m${String(i).padStart(5, '0')}`), enc('lost-m')); // enough to split chunks
      t.put(key(0), enc('lost-b'));
      tx.table('newtable').put(enc('x'), enc('lost'));
      tx.put(enc('d'), enc('lost'));
    }),
    db.writeAsync((tx) => {
      tx.table('g').remove(key(1));
      tx.table('g').remove(key(30));
      tx.table('g').put(key(40), enc('lost-40'));
    }),
  ]);
  assert.equal(io.fired, 1, 'the fault fired once');
  settled.forEach((s, i) => assert.equal(s.status, 'rejected', `writeAsync #${i} resolved although its fsync failed`));

  assertDb(db, acked, 'live, after the failed fsync', absent);
  assert.ok(!db.tableNames().includes('newtable'), 'a table created by a failed commit is listed');
  assertReads(snap, snapWant, 'snapshot, after the failed fsync', absent);
  const rest = [...scan].map((e) => [e.key.toString('latin1'), e.value.toString('latin1')]);
  assert.deepEqual([...head, ...rest], [...g()].sort((a, b) => (a[0] < b[0] ? -1 : 1)), 'a scan running across the failed commits');
  snap.close();
  crashImage(dir, `${dir}-crash`);
  t.after(() => fs.rmSync(`${dir}-crash`, { recursive: true, force: true }));
  const imageWant = clone(acked);

  // The fault has passed: later commits, sync and async, build on the acknowledged state only.
  io.arm(null);
  db.write((tx) => {
    tx.table('g').put(key(0), enc('after-sync'));
    tx.table('g').remove(key(1));
    tx.table('g').put(enc('m00005'), enc('after'));
  });
  await db.writeAsync((tx) => tx.table('g').put(key(2), enc('after-async')));
  g().set(key(0).toString('latin1'), 'after-sync');
  g().delete(key(1).toString('latin1'));
  g().set('m00005', 'after');
  g().set(key(2).toString('latin1'), 'after-async');
  assertDb(db, acked, 'live, after later commits', absent);
  db.close();

  assertStore(`${dir}-crash`, imageWant, 'crash image taken right after the failure', absent);
  assertStore(dir, acked, 'reopened', absent);
});

test('a range scan that runs across later commits returns exactly its snapshot entries', (t) => {
  const db = Database.open(tmpDir(t, 'scan-across'), { ...OPTS, pageSize: 1024 });
  // The tree holds the even keys, the memtable overwrites some, deletes some (hiding the tree's)
  // and adds the multiples of 3 that are odd.
  const setUp = (): void => {
    db.write((tx) => {
      for (let i = 0; i < 400; i += 2) tx.table('s').put(key(i), enc(`tree${i}`));
    });
    db.checkpoint();
    db.write((tx) => {
      for (let i = 0; i < 400; i += 3) tx.table('s').put(key(i), enc(`mem${i}`));
      for (let i = 0; i < 400; i += 10) tx.table('s').remove(key(i));
    });
  };
  setUp();
  const want = new Map<string, string>();
  for (let i = 0; i < 400; i++) {
    if (i % 10 === 0) continue;
    if (i % 3 === 0) want.set(key(i).toString('latin1'), `mem${i}`);
    else if (i % 2 === 0) want.set(key(i).toString('latin1'), `tree${i}`);
  }
  const sorted = [...want].sort((a, b) => (a[0] < b[0] ? -1 : 1));

  let round = 0;
  /** A commit that changes every key near the scan's position, and beyond, in every way. */
  const disturb = (): void => {
    round++;
    db.write((tx) => {
      const s = tx.table('s');
      for (let i = 0; i < 400; i++) {
        if ((i + round) % 4 === 0) s.put(key(i), enc(`r${round}-${i}`)); // overwrites, re-puts of deleted keys
        else if ((i + round) % 4 === 1) s.remove(key(i)); // removes of tree and memtable keys
      }
      for (let i = 0; i < 40; i++) s.put(key(400 + round * 40 + i), enc('later')); // new keys past the end
      s.put(enc(`a${round}`), enc('before')); // new keys before the start
    });
  };

  for (const reverse of [false, true]) {
    const snap = db.read();
    const snapScan = snap.table('s').range({ reverse });
    const dbScan = db.table('s').range({ reverse });
    const got: [string, string][] = [];
    const gotSnap: [string, string][] = [];
    for (;;) {
      const r = dbScan.next();
      const rs = snapScan.next();
      if (r.done || rs.done) {
        assert.equal(r.done, rs.done);
        break;
      }
      got.push([r.value.key.toString('latin1'), r.value.value.toString('latin1')]);
      gotSnap.push([rs.value.key.toString('latin1'), rs.value.value.toString('latin1')]);
      if (got.length % 5 === 0) disturb();
      if (got.length % 60 === 0) db.checkpoint(); // folds the memtable the scan reads
    }
    const expected = reverse ? [...sorted].reverse() : sorted;
    assert.deepEqual(got, expected, `db.table().range(${reverse ? 'reverse' : ''}) across ${round} commits`);
    assert.deepEqual(gotSnap, expected, `snapshot range(${reverse ? 'reverse' : ''}) across ${round} commits`);
    assert.equal(snap.table('s').count(), want.size);
    snap.close();
    // Back to the state the next round expects.
    db.write((tx) => tx.table('s').clear());
    setUp();
  }
  db.close();
});

test('the memtableBytes option is validated: below 64 KiB or not an integer is refused with ValidationError naming it', (t) => {
  const dir = tmpDir(t, 'opt');
  for (const bad of [0, 1000, 64 * 1024 - 1, 64 * 1024 + 0.5, -65536, Number.NaN, Infinity, '1048576', null]) {
    assert.throws(
      () => Database.open(dir, { memtableBytes: bad as unknown as number }),
      (err: unknown) => err instanceof ValidationError && /option memtableBytes must be an integer from 65536/.test(err.message),
      `memtableBytes ${String(bad)} was not refused as expected`,
    );
  }
  // Nothing was created or locked by the refused opens; the smallest allowed value opens.
  const db = Database.open(dir, { memtableBytes: 64 * 1024 });
  db.write((tx) => tx.put(enc('k'), enc('v')));
  assert.equal(db.get(enc('k'))?.toString(), 'v');
  db.close();
});

test('a small memtableBytes makes commits checkpoint on their own, through write() and writeAsync()', async (t) => {
  // The WAL threshold is far away, so only the memtable size can trigger a checkpoint.
  const base = { checkpointIntervalMs: 0, checkpointWalBytes: 1 << 30 } satisfies DatabaseOptions;
  const load = async (dir: string, options: DatabaseOptions): Promise<{ sync: number; async: number; db: Database }> => {
    const db = Database.open(dir, options);
    const start = db.stats().checkpoints;
    // Twice 40 commits of 25 keys with 200-byte values: over 200 KiB of keys and values each.
    for (let c = 0; c < 40; c++) {
      db.write((tx) => {
        for (let j = 0; j < 25; j++) tx.table('t').put(key(c * 25 + j), Buffer.alloc(200, c));
      });
    }
    const afterSync = db.stats().checkpoints;
    for (let c = 40; c < 80; c++) {
      await db.writeAsync((tx) => {
        for (let j = 0; j < 25; j++) tx.table('t').put(key(c * 25 + j), Buffer.alloc(200, c));
      });
    }
    return { sync: afterSync - start, async: db.stats().checkpoints - afterSync, db };
  };

  const small = await load(tmpDir(t, 'small-mem'), { ...base, memtableBytes: 64 * 1024 });
  try {
    assert.ok(small.sync >= 2, `write() commits of over 200 KiB made ${small.sync} checkpoints with memtableBytes 64 KiB`);
    assert.ok(small.async >= 2, `writeAsync() commits of over 200 KiB made ${small.async} checkpoints with memtableBytes 64 KiB`);
    const stats = small.db.stats();
    assert.ok(stats.checkpointTxn > 0, 'the checkpoint slot holds a commit');
    assert.equal(stats.lastCheckpointError, null);
    assert.equal(small.db.table('t').count(), 2000);
    assert.deepEqual(small.db.table('t').get(key(1999)), Buffer.alloc(200, 79));
    assert.deepEqual(small.db.table('t').get(key(0)), Buffer.alloc(200, 0));
    assertVerifies(small.db, 'after automatic checkpoints');
  } finally {
    small.db.close();
  }
  // The same load with the default (64 MiB) makes no checkpoint: the option is what made them.
  const dflt = await load(tmpDir(t, 'default-mem'), base);
  try {
    assert.equal(dflt.sync + dflt.async, 0, 'checkpoints with the default memtableBytes');
    assert.equal(dflt.db.table('t').count(), 2000);
  } finally {
    dflt.db.close();
  }
});

test('memtableBytes counts the bytes of large values the memtable holds (dedup off: out-of-line values)', (t) => {
  // With dedup off, a value longer than pageSize/4 (1 KiB here) is held by the memtable as a copy of
  // its bytes until the checkpoint writes it out. 200 values of 8 KiB are 1.6 MiB held in memory:
  // far past a 64 KiB memtableBytes, so commits must checkpoint on their own. (The WAL threshold is
  // out of reach, so only the memtable size can trigger one.)
  const db = Database.open(tmpDir(t, 'ool-bytes'), { checkpointIntervalMs: 0, checkpointWalBytes: 1 << 30, memtableBytes: 64 * 1024, dedup: false });
  try {
    const before = db.stats().checkpoints;
    let n = 0;
    for (let c = 0; c < 40; c++) {
      db.write((tx) => {
        for (let j = 0; j < 5; j++, n++) tx.put(key(n), Buffer.alloc(8192, n & 0xff));
      });
    }
    assert.deepEqual(db.get(key(123)), Buffer.alloc(8192, 123));
    const made = db.stats().checkpoints - before;
    assert.ok(made >= 1, `${n} values of 8 KiB (${(n * 8192) / 1024} KiB) in the memtable made ${made} checkpoints with memtableBytes 64 KiB`);
  } finally {
    db.close();
  }
});

test('blocks a fold drops stay readable by a snapshot of the version before the fold, with the cache too small to hold them', (t) => {
  // A 1 MiB cache and a tree of several MiB: the snapshot's scans after the fold read its old leaves
  // from disk. Later commits and checkpoints write new trees, and would reuse the extents the fold
  // freed if the snapshot did not hold them.
  const db = Database.open(tmpDir(t, 'fold-blocks'), { ...OPTS, cacheSizeBytes: 1 << 20, compression: 'none' });
  const value = (tag: string, i: number): Buffer => Buffer.from(`${tag}-${i}-`.padEnd(120, '.'));
  db.write((tx) => {
    for (let i = 0; i < 30_000; i++) tx.put(key(i), value('v1', i));
  });
  db.checkpoint();
  db.write((tx) => {
    for (let i = 0; i < 30_000; i += 7) tx.put(key(i), value('v2', i)); // touches every leaf
    for (let i = 3; i < 30_000; i += 11) tx.remove(key(i));
  });
  const snap = db.read();
  const expect = (i: number): string | undefined => (i % 11 === 3 ? undefined : (i % 7 === 0 ? value('v2', i) : value('v1', i)).toString());
  const check = (where: string): void => {
    let n = 0;
    let i = 0;
    for (const e of snap.range()) {
      while (expect(i) === undefined) i++;
      assert.equal(e.key.toString(), key(i).toString(), `${where}: key #${n}`);
      assert.equal(e.value.toString(), expect(i), `${where}: value of ${key(i)}`);
      i++;
      n++;
    }
    assert.equal(n, snap.count(), `${where}: scan length against count()`);
    assert.equal(n, 30_000 - Math.ceil((30_000 - 3) / 11), `${where}: entries`);
  };
  try {
    check('before the fold');
    // The fold runs at the snapshot's own txn: the blocks it drops are still the snapshot's.
    db.checkpoint();
    check('right after the fold');
    for (let round = 3; round < 6; round++) {
      db.write((tx) => {
        for (let i = round; i < 30_000; i += 5) tx.put(key(i), value(`v${round}`, i));
      });
      db.checkpoint();
    }
    check('after three more folds and checkpoints');
  } finally {
    snap.close();
  }
  db.checkpoint();
  assertVerifies(db, 'at the end');
  db.close();
});

test('a commit whose log outgrows its buffer many times keeps every write: its own reads, later reads, a checkpoint and WAL replay all see the same bytes', (t) => {
  const dir = tmpDir(t);
  const db = Database.open(dir, OPTS);
  // Keys and values of many sizes, empty values included, each byte depending on its key: a write
  // that pointed into the wrong buffer (or the wrong place in it) after the log moved reads back
  // other bytes.
  const valueOf = (i: number): Buffer => Buffer.alloc((i * 37) % 900, (i * 13) & 255);
  const want = new Map<string, Buffer | null>();
  db.write((tx) => {
    for (let i = 0; i < 3000; i++) {
      const k = enc(`w${i}-${'x'.repeat(i % 50)}`);
      const table = i % 3 === 0 ? tx.table('events') : tx;
      table.put(k, valueOf(i));
      want.set(`${i % 3 === 0 ? 'events' : 'default'}/${k.toString('latin1')}`, valueOf(i));
      // Reads of its own writes made before the log moved.
      if (i % 500 === 499) {
        for (let j = 0; j < i; j += 97) {
          const kj = enc(`w${j}-${'x'.repeat(j % 50)}`);
          assert.deepEqual((j % 3 === 0 ? tx.table('events') : tx).get(kj), valueOf(j), `own write ${j} read at write ${i}`);
        }
      }
    }
    for (let i = 1; i < 3000; i += 7) {
      const k = enc(`w${i}-${'x'.repeat(i % 50)}`);
      (i % 3 === 0 ? tx.table('events') : tx).remove(k);
      want.set(`${i % 3 === 0 ? 'events' : 'default'}/${k.toString('latin1')}`, null);
    }
  });
  const check = (reader: Database, where: string): void => {
    for (const [name, v] of want) {
      const [table, k] = [name.slice(0, name.indexOf('/')), name.slice(name.indexOf('/') + 1)];
      const got = (table === 'events' ? reader.table('events') : reader).get(Buffer.from(k, 'latin1'));
      if (v === null) assert.equal(got, undefined, `${where}: ${name} was removed`);
      else assert.deepEqual(got, v, `${where}: ${name}`);
    }
  };
  try {
    check(db, 'after the commit');
    crashImage(dir, `${dir}-crash`);
    t.after(() => fs.rmSync(`${dir}-crash`, { recursive: true, force: true }));
    db.checkpoint();
    check(db, 'after a checkpoint');
  } finally {
    db.close();
  }
  const replayed = Database.open(`${dir}-crash`, OPTS);
  try {
    check(replayed, 'after WAL replay');
  } finally {
    replayed.close();
  }
});

test('a commit that keeps its writes logs the next commit into retained memory, one that overwrites most of its own writes into ordinary buffers, and both read back', (t) => {
  const dir = tmpDir(t);
  const db = Database.open(dir, OPTS);
  // The arena a commit logged into (private: which kind of memory it is has no other sign).
  const arena = (): ArrayBufferLike => (db as unknown as { logArena: Uint8Array }).logArena.buffer;
  const big = (tag: number): Buffer => Buffer.alloc(150_000, tag);
  try {
    // Distinct keys, each kept: the next log that outgrows its buffer moves to retained memory.
    db.write((tx) => {
      for (let i = 0; i < 100; i++) tx.put(key(i), enc(`v${i}`));
    });
    db.write((tx) => {
      for (let i = 0; i < 20; i++) tx.put(key(1000 + i), big(i));
    });
    assert.ok(arena() instanceof SharedArrayBuffer, 'after a commit that kept all its writes');
    // 2,000 puts of 10 keys: 1,990 of them overwritten within the commit.
    db.write((tx) => {
      for (let i = 0; i < 2000; i++) tx.put(key(2000 + (i % 10)), enc(`o${i}`));
    });
    db.write((tx) => {
      for (let i = 0; i < 20; i++) tx.put(key(3000 + i), big(100 + i));
    });
    assert.ok(arena() instanceof ArrayBuffer, 'after a commit that overwrote most of its writes');
    db.write((tx) => {
      for (let i = 0; i < 20; i++) tx.put(key(4000 + i), big(200 + i));
    });
    assert.ok(arena() instanceof SharedArrayBuffer, 'after a commit that kept all its writes again');
    const check = (where: string): void => {
      for (let i = 0; i < 100; i++) assert.deepEqual(db.get(key(i)), enc(`v${i}`), `${where}: ${i}`);
      for (let i = 0; i < 10; i++) assert.deepEqual(db.get(key(2000 + i)), enc(`o${1990 + i}`), `${where}: overwritten ${i}`);
      for (let i = 0; i < 20; i++) {
        assert.deepEqual(db.get(key(1000 + i)), big(i), `${where}: large ${i}`);
        assert.deepEqual(db.get(key(3000 + i)), big(100 + i), `${where}: large ${3000 + i}`);
        assert.deepEqual(db.get(key(4000 + i)), big(200 + i), `${where}: large ${4000 + i}`);
      }
    };
    check('in the memtable');
    db.checkpoint();
    check('after a checkpoint');
  } finally {
    db.close();
  }
});
