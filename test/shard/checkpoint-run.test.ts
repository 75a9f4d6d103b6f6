/**
 * Automatic checkpoints work between commits (durability/checkpoint.ts, CheckpointRun): a commit
 * that crosses the memtable or WAL threshold starts one, and each later commit gives it a slice of
 * time. These tests catch one in progress (stats().checkpointRunningTxn) and check what must hold
 * meanwhile and after: every commit readable at once, counts exact, the finished checkpoint and
 * the commits after it recovered on reopen, the page file accounted for block by block (verify).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Database } from '../../src/index.js';
import { enc, tmpDir } from '../support/tmp.js';

/** Small pages and memtable: a few thousand keys make a tree whose fold takes many slices. */
const OPTS = { pageSize: 1024, memtableBytes: 256 * 1024, checkpointWalBytes: 64 << 20, checkpointIntervalMs: 0, compactOnClose: false } as const;

const key = (i: number): Buffer => enc(`key-${String(i).padStart(7, '0')}`);
const value = (i: number, round: number): Buffer => enc(`v${round}-${i}-${'x'.repeat(20 + (i % 60))}`);

/** A deterministic scramble of 0..n-1 (multiplication by a unit mod n). */
const scrambled = (n: number, k: number): number => (k * 7919 + 17) % n;

/** Puts `count` keys out of `space` (scrambled, from `from` on), in one commit. */
function putSome(db: Database, want: Map<string, string>, space: number, from: number, count: number, round: number): void {
  db.write((tx) => {
    for (let k = from; k < from + count; k++) {
      const i = scrambled(space, k);
      tx.put(key(i), value(i, round));
      want.set(key(i).toString(), value(i, round).toString());
    }
  });
}

function contents(db: Database, table?: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const { key: k, value: v } of table ? db.table(table).range() : db.range()) out.set(k.toString(), v.toString());
  return out;
}

test('commits made while an automatic checkpoint runs are readable at once, and the checkpoint and they survive a reopen', (t) => {
  const dir = tmpDir(t, 'ckpt-run');
  const want = new Map<string, string>();
  const SPACE = 40_000;
  {
    const db = Database.open(dir, OPTS);
    // A tree of 40,000 keys, checkpointed.
    for (let from = 0; from < SPACE; from += 4000) putSome(db, want, SPACE, from, 4000, 0);
    db.checkpoint();
    // Overwrites scattered over the whole tree until one crosses the threshold and starts a checkpoint.
    let at = 0;
    const startedBefore = db.stats().checkpoints;
    // Small commits: a checkpoint step gets about as much time as a commit takes.
    while (db.stats().checkpointRunningTxn === null && at < 4 * SPACE) {
      putSome(db, want, SPACE, at % SPACE, 50, 1);
      at += 50;
    }
    const running = db.stats().checkpointRunningTxn;
    assert.notEqual(running, null, 'no automatic checkpoint started');
    // Commits go on beside it: each is readable at once, the count stays exact, and the checkpoint
    // goes on storing the txn it began with.
    let during = 0;
    while (db.stats().checkpointRunningTxn === running) {
      putSome(db, want, SPACE, at % SPACE, 20, 2);
      at += 20;
      during++;
      const i = scrambled(SPACE, at - 1);
      assert.equal(db.get(key(i))?.toString(), want.get(key(i).toString()), `commit ${during} during the checkpoint is not readable`);
      assert.equal(db.count(), want.size);
      assert.ok(during < 10_000, 'the checkpoint never finished');
    }
    assert.ok(during >= 2, `the checkpoint finished ${during} commit(s) after it began: it did not run between commits`);
    const s = db.stats();
    assert.equal(s.checkpoints, startedBefore + 1);
    assert.equal(s.checkpointTxn, running, 'the finished checkpoint holds the txn it began with');
    assert.equal(s.lastCheckpointError, null);
    assert.deepEqual(contents(db), want);
    // The commits after it are in the WAL: a reopen without close must replay them over it.
    const report = db.verify();
    assert.ok(report.ok, JSON.stringify(report.issues.slice(0, 3)));
    db.close();
  }
  const again = Database.open(dir, OPTS);
  assert.deepEqual(contents(again), want);
  assert.ok(again.verify().ok);
  again.close();
});

test('a store killed while a checkpoint runs between commits recovers every acknowledged commit (the checkpoint before it plus the WAL)', (t) => {
  const dir = tmpDir(t, 'ckpt-run-crash');
  const want = new Map<string, string>();
  const SPACE = 30_000;
  const db = Database.open(dir, OPTS);
  for (let from = 0; from < SPACE; from += 3000) putSome(db, want, SPACE, from, 3000, 0);
  db.checkpoint();
  let at = 0;
  while (db.stats().checkpointRunningTxn === null) {
    putSome(db, want, SPACE, at % SPACE, 50, 1);
    at += 50;
  }
  putSome(db, want, SPACE, at % SPACE, 20, 2);
  assert.notEqual(db.stats().checkpointRunningTxn, null, 'the checkpoint finished too soon for this test');
  // What a kill leaves: the files as they are now, half a checkpoint's blocks written into free space.
  const copy = `${dir}-killed`;
  t.after(() => fs.rmSync(copy, { recursive: true, force: true }));
  fs.cpSync(dir, copy, { recursive: true, filter: (p) => !path.basename(p).startsWith('lock') });
  db.close();
  const recovered = Database.open(copy, OPTS);
  assert.deepEqual(contents(recovered), want);
  const report = recovered.verify();
  assert.ok(report.ok, JSON.stringify(report.issues.slice(0, 3)));
  recovered.close();
});

test('two stores checkpointing between their commits in one process keep each other’s blocks intact', (t) => {
  const dirs = [tmpDir(t, 'ckpt-run-a'), tmpDir(t, 'ckpt-run-b')];
  const wants = [new Map<string, string>(), new Map<string, string>()];
  const SPACE = 20_000;
  const dbs = dirs.map((d) => Database.open(d, OPTS));
  for (let from = 0; from < SPACE; from += 2000) dbs.forEach((db, n) => putSome(db, wants[n]!, SPACE, from, 2000, n));
  dbs.forEach((db) => db.checkpoint());
  // Interleaved commits until both have had a checkpoint run beside the other's.
  let both = 0;
  for (let at = 0; at < 4 * SPACE && both < 3; at += 300) {
    dbs.forEach((db, n) => putSome(db, wants[n]!, SPACE, at % SPACE, 300, 10 + n));
    if (dbs.every((db) => db.stats().checkpointRunningTxn !== null)) both++;
  }
  assert.ok(both > 0, 'the two stores never had checkpoints running at the same time');
  dbs.forEach((db) => db.close());
  dirs.forEach((d, n) => {
    const db = Database.open(d, OPTS);
    assert.deepEqual(contents(db), wants[n]);
    const report = db.verify();
    assert.ok(report.ok, `store ${n}: ${JSON.stringify(report.issues.slice(0, 3))}`);
    db.close();
  });
});

test('clearing a table while a checkpoint folds it abandons that checkpoint, and nothing is lost', (t) => {
  const dir = tmpDir(t, 'ckpt-run-clear');
  const SPACE = 30_000;
  const want = new Map<string, string>();
  const side = new Map<string, string>();
  const db = Database.open(dir, OPTS);
  for (let from = 0; from < SPACE; from += 3000) putSome(db, want, SPACE, from, 3000, 0);
  db.write((tx) => {
    for (let i = 0; i < 500; i++) tx.table('side').put(key(i), value(i, 5));
  });
  db.checkpoint();
  let at = 0;
  while (db.stats().checkpointRunningTxn === null) {
    putSome(db, want, SPACE, at, 500, 1);
    db.write((tx) => tx.table('side').put(key(at), value(at, 6)));
    at += 500;
  }
  const before = db.stats().checkpoints;
  db.write((tx) => {
    tx.clear();
    tx.put(key(1), value(1, 7));
  });
  want.clear();
  want.set(key(1).toString(), value(1, 7).toString());
  assert.equal(db.stats().checkpointRunningTxn, null, 'the checkpoint went on after its table was cleared');
  assert.equal(db.stats().checkpoints, before, 'the abandoned checkpoint was counted');
  assert.deepEqual(contents(db), want);
  for (let i = 0; i < 500; i++) side.set(key(i).toString(), value(i, 5).toString());
  for (let k = 0; k < at; k += 500) side.set(key(k).toString(), value(k, 6).toString());
  assert.deepEqual(contents(db, 'side'), side);
  db.checkpoint();
  const report = db.verify();
  assert.ok(report.ok, JSON.stringify(report.issues.slice(0, 3)));
  db.close();
  const again = Database.open(dir, OPTS);
  assert.deepEqual(contents(again), want);
  assert.deepEqual(contents(again, 'side'), side);
  again.close();
});
