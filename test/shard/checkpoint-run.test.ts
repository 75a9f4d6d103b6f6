/**
 * Automatic checkpoints work between commits (durability/checkpoint.ts, CheckpointRun): a commit
 * that crosses the memtable or WAL threshold starts one, and each later commit gives it a slice of
 * time. These tests catch one in progress (stats().checkpointRunningTxn) and check what must hold
 * meanwhile and after: every commit readable at once, counts exact, the finished checkpoint and
 * the commits after it recovered on reopen, the page file accounted for block by block (verify).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Database } from '../../src/index.js';
import type { Node } from '../../src/btree/node.js';
import type { ShardCore } from '../../src/shard/core.js';
import { CheckpointRun } from '../../src/shard/durability/checkpoint.js';
import { FaultyFileIO } from '../support/fault-file-io.js';
import { enc, tmpDir } from '../support/tmp.js';

/** Small pages and memtable: a few thousand keys make a tree whose fold takes many slices. */
const OPTS = { pageSize: 1024, memtableBytes: 256 * 1024, checkpointWalBytes: 64 << 20, checkpointIntervalMs: 0, compactOnClose: false } as const;

const key = (i: number): Buffer => enc(`key-${String(i).padStart(7, '0')}`);
const value = (i: number, round: number): Buffer => enc(`v${round}-${i}-${'x'.repeat(20 + (i % 60))}`);

/** A deterministic scramble of 0..n-1 (multiplication by a unit mod n). */
const scrambled = (n: number, k: number): number => (k * 7919 + 17) % n;

/** Puts `count` keys out of `space` (scrambled, from `from` on), in one commit. */
function putSome(db: Database, want: Map<string, string>, space: number, from: number, count: number, round: number, valueOf = value): void {
  db.write((tx) => {
    for (let k = from; k < from + count; k++) {
      const i = scrambled(space, k);
      const v = valueOf(i, round);
      tx.put(key(i), v);
      want.set(key(i).toString(), v.toString());
    }
  });
}

/** `db` holds `want` and verifies clean; it is closed, and the reopened store does the same. */
function intactAfterReopen(db: Database, dir: string, want: Map<string, string>): void {
  assert.deepEqual(contents(db), want);
  const report = db.verify();
  assert.ok(report.ok, JSON.stringify(report.issues.slice(0, 3)));
  db.close();
  const again = Database.open(dir, OPTS);
  assert.deepEqual(contents(again), want);
  assert.ok(again.verify().ok);
  again.close();
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
    // The commits after it are in the WAL: a reopen without close must replay them over it.
    intactAfterReopen(db, dir, want);
  }
});

test('a store killed while a checkpoint runs between commits recovers every acknowledged commit (the checkpoint before it plus the WAL)', (t) => {
  const dir = tmpDir(t, 'ckpt-run-crash');
  const want = new Map<string, string>();
  const SPACE = 30_000;
  const db = Database.open(dir, OPTS);
  for (let from = 0; from < SPACE; from += 3000) putSome(db, want, SPACE, from, 3000, 0);
  db.checkpoint();
  // A run may finish within the slice the next commit gives it (how much work a slice does depends
  // on the machine's pace): then wait for the next run.
  let at = 0;
  let caught = false;
  for (let attempt = 0; attempt < 20 && !caught; attempt++) {
    while (db.stats().checkpointRunningTxn === null) {
      putSome(db, want, SPACE, at % SPACE, 50, 1);
      at += 50;
    }
    putSome(db, want, SPACE, at % SPACE, 20, 2);
    at += 20;
    caught = db.stats().checkpointRunningTxn !== null;
  }
  assert.ok(caught, 'every checkpoint finished within one commit, so none could be interrupted');
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

test('dropping a table whose tree a running checkpoint stores without folding it leaks no block', (t) => {
  const dir = tmpDir(t, 'ckpt-run-drop');
  const SPACE = 30_000;
  const want = new Map<string, string>();
  const db = Database.open(dir, OPTS);
  for (let from = 0; from < SPACE; from += 3000) putSome(db, want, SPACE, from, 3000, 0);
  db.checkpoint();
  db.write((tx) => {
    for (let i = 0; i < 200; i++) tx.table('side').put(key(i), value(i, 5));
  });
  // verify() folds the memtables in memory: 'side' is left with a tree no checkpoint has stored
  // and no memtable, so the next checkpoint stores it without folding it.
  assert.ok(db.verify().ok);
  let at = 0;
  while (db.stats().checkpointRunningTxn === null) {
    putSome(db, want, SPACE, at, 500, 1);
    at += 500;
  }
  db.write((tx) => {
    tx.dropTable('side');
    tx.table('side').put(key(1), value(1, 7));
  });
  assert.deepEqual(contents(db, 'side'), new Map([[key(1).toString(), value(1, 7).toString()]]));
  // Later commits give the checkpoint its slices until it ends (installed over the drop).
  for (let round = 2; db.stats().checkpointRunningTxn !== null; round++) {
    putSome(db, want, SPACE, at, 100, round);
    at += 100;
  }
  db.checkpoint();
  // Installed over the drop, the abandoned run's copy of the old 'side' tree would be reachable from
  // nothing: verify reported its blocks as leaked ("belong to no block and are not free").
  const report = db.verify();
  assert.ok(report.ok, JSON.stringify(report.issues.slice(0, 3)));
  intactAfterReopen(db, dir, want);
});

test('a checkpoint stores the leaves its fold has finished with as it goes, holding few of them until its end', (t) => {
  const dir = tmpDir(t, 'ckpt-run-stream');
  const SPACE = 30_000;
  const want = new Map<string, string>();
  // A memtable large enough that no automatic checkpoint starts: this test steps its own run.
  const db = Database.open(dir, { ...OPTS, memtableBytes: 64 << 20 });
  for (let from = 0; from < SPACE; from += 3000) putSome(db, want, SPACE, from, 3000, 0);
  db.checkpoint();
  // Every key rewritten in scrambled order: the fold rebuilds leaves all over the tree.
  for (let from = 0; from < SPACE; from += 3000) putSome(db, want, SPACE, from, 3000, 1);
  const run = new CheckpointRun((db as unknown as { core: ShardCore }).core);
  const inside = run as unknown as { stored: unknown; order: Node[]; writer: { blocks: number } };
  // A deadline already passed: one slice per step.
  while (inside.stored === null) run.step(0);
  const leavesLeft = inside.order.filter((n) => n.isLeaf).length;
  const written = inside.writer.blocks;
  assert.ok(written > 200, `the fold stored ${written} blocks before it ended`);
  assert.ok(leavesLeft * 10 < written, `${leavesLeft} folded leaves were still held in memory at the end of the fold, ${written} stored`);
  run.finish();
  intactAfterReopen(db, dir, want);
});

test('a checkpoint that writes many megabytes flushes the page file as it goes, not all in its last step', (t) => {
  const dir = tmpDir(t, 'ckpt-run-sync');
  const io = new FaultyFileIO();
  const opts = { ...OPTS, pageSize: 4096, memtableBytes: 64 << 20 };
  const want = new Map<string, Buffer>();
  const db = Database.open(dir, { ...opts, io });
  // Random bytes do not compress: 14,000 values of 700 bytes make about 10 MB of leaves.
  for (let from = 0; from < 14_000; from += 2000) {
    db.write((tx) => {
      for (let i = from; i < from + 2000; i++) {
        const v = randomBytes(700);
        tx.put(key(i), v);
        want.set(key(i).toString(), v);
      }
    });
  }
  const run = new CheckpointRun((db as unknown as { core: ShardCore }).core);
  const written = (): number => (run as unknown as { writer: { bytes: number } }).writer.bytes;
  const before = io.syncs;
  // A deadline already passed: one slice (or one round of leaves) per step, and no commit between.
  while (!run.step(0));
  const during = io.syncs - before;
  assert.ok(written() > 8 << 20, `the run wrote ${written()} bytes`);
  assert.ok(during >= 1, `the page file was flushed ${during} times before the run's end, with ${written()} bytes written`);
  run.finish();
  db.close();
  const again = Database.open(dir, opts);
  let n = 0;
  for (const { key: k, value: v } of again.range()) {
    assert.ok(want.get(k.toString())?.equals(v), `the value of ${k.toString()} reads back`);
    n++;
  }
  assert.equal(n, want.size);
  assert.ok(again.verify().ok);
  again.close();
});

test('a checkpoint step given 50 ms or more folds at once rather than waiting for the merging thread', async (t) => {
  const dir = tmpDir(t, 'ckpt-run-nowait');
  const SPACE = 40_000;
  const want = new Map<string, string>();
  // A memtable large enough that no automatic checkpoint starts: this test starts its own run.
  const db = Database.open(dir, { ...OPTS, memtableBytes: 64 << 20 });
  const core = (db as unknown as { core: ShardCore }).core;
  // A store's first log starts in an ordinary buffer, which the merging thread cannot read; a log
  // that outgrows it moves to shared memory, where the next ones follow. Checkpointed away, so that
  // the memtable below lies in shared memory only.
  putSome(db, want, SPACE, 0, 1500, 0);
  db.checkpoint();
  // 21 commits leave the memtable with runs of several sizes: a run between commits has the
  // merging thread merge them into one before it folds, and small steps wait for that.
  for (let c = 1; c <= 21; c++) putSome(db, want, SPACE, c * 1500, 1500, 0);
  const merging = (r: CheckpointRun): boolean => (r as unknown as { folds: { source: { merging(): boolean } }[] }).folds[0]!.source.merging();
  // The thread takes a merge only while few wait for it (the commits' own merges may still be
  // there): a run that found it busy is abandoned and begun again.
  let run: CheckpointRun | null = null;
  for (let tries = 0; tries < 200 && !run; tries++) {
    const r = new CheckpointRun(core, false, true);
    if (merging(r)) run = r;
    else {
      r.abort();
      await sleep(10);
    }
  }
  assert.ok(run, 'within 2 s the merging thread took the runs of a checkpoint');
  run.step(performance.now() + 100);
  assert.ok(run.progress() > 0, 'a step of 100 ms folded keys while the merging thread had the runs');
  while (!run.step(performance.now() + 100));
  run.finish();
  intactAfterReopen(db, dir, want);
});

/**
 * Deduplicated values (dedupThreshold 64, values 80-200 bytes): a pool of 40 values shared between
 * keys, and values of their own that the next overwrite of the key leaves unreferenced.
 */
const BLOB_OPTS = { ...OPTS, dedupThreshold: 64 } as const;
const sharedValue = (n: number): Buffer => enc(`shared-${n}-`.padEnd(80 + (n % 5) * 20, 's'));
const ownValue = (i: number, round: number): Buffer => enc(`own-${i}-${round}-`.padEnd(90 + (i % 7) * 15, 'o'));

/** Half the keys to a shared value, half to one of their own. */
const blobValue = (i: number, round: number): Buffer => ((i + round) % 2 === 0 ? sharedValue((i + round) % 40) : ownValue(i, round));

/** Puts `count` keys out of `space` (see putSome) to deduplicated values, in one commit. */
function putBlobs(db: Database, want: Map<string, string>, space: number, from: number, count: number, round: number): void {
  putSome(db, want, space, from, count, round, blobValue);
}

function blobCount(db: Database): number {
  return (db as unknown as { core: ShardCore }).core.latest.tables.get('__blobs')?.count ?? 0;
}

/** Distinct values the model holds at or above the dedup threshold: the blobs a folded store keeps. */
function distinctBlobs(want: Map<string, string>): number {
  return new Set([...want.values()].filter((v) => v.length >= 64)).size;
}

test('a store of deduplicated values checkpoints between commits too, and its blob counts stay exact through a crash and a reopen', (t) => {
  const dir = tmpDir(t, 'ckpt-run-blobs');
  const want = new Map<string, string>();
  const SPACE = 6000;
  const db = Database.open(dir, BLOB_OPTS);
  for (let from = 0; from < SPACE; from += 1000) putBlobs(db, want, SPACE, from, 1000, 0);
  db.checkpoint();
  assert.equal(blobCount(db), distinctBlobs(want));
  // Overwrites release the values of round 0; commits beside the run add and release blobs too.
  let at = 0;
  let round = 1;
  let finishedBetween = 0;
  for (let attempt = 0; attempt < 10 && finishedBetween < 2; attempt++) {
    while (db.stats().checkpointRunningTxn === null) {
      putBlobs(db, want, SPACE, at % SPACE, 40, round);
      at += 40;
      assert.ok(at < 100 * SPACE, 'no checkpoint was ever running after a commit: each ran within one');
    }
    const running = db.stats().checkpointRunningTxn;
    const before = db.stats().checkpoints;
    let during = 0;
    // The page file as it is before each commit: the one that finishes the run writes its header slot.
    const pageFileBefore = `${dir}-before`;
    t.after(() => fs.rmSync(pageFileBefore, { force: true }));
    while (db.stats().checkpointRunningTxn === running) {
      fs.copyFileSync(path.join(dir, 'data.redb'), pageFileBefore);
      round++;
      putBlobs(db, want, SPACE, at % SPACE, 20, round);
      at += 20;
      during++;
      assert.ok(during < 10_000, 'the checkpoint never finished');
    }
    if (during < 2 || db.stats().checkpoints !== before + 1) continue;
    finishedBetween++;
    assert.equal(db.stats().lastCheckpointError, null);
    // verify() reads the checkpoint from disk: its blob counts plus the releases its fold logged.
    const report = db.verify();
    assert.ok(report.ok, JSON.stringify(report.issues.slice(0, 3)));
    // A crash now: recovery replays the logged releases over the checkpoint they belong to.
    const crashed = `${dir}-crash-${finishedBetween}`;
    t.after(() => fs.rmSync(crashed, { recursive: true, force: true }));
    fs.cpSync(dir, crashed, { recursive: true, filter: (p) => !path.basename(p).startsWith('lock') });
    const recovered = Database.open(crashed, BLOB_OPTS);
    assert.deepEqual(contents(recovered), want);
    assert.ok(recovered.verify().ok);
    recovered.checkpoint();
    assert.equal(blobCount(recovered), distinctBlobs(want), 'blob count after recovery and a full fold');
    assert.ok(recovered.verify().ok, 'blob counts after recovery and a full fold');
    recovered.close();
    // A crash after the releases were logged but before the header slot landed: the older
    // checkpoint and the whole WAL. Replay over that checkpoint must ignore the releases.
    const torn = `${dir}-torn-${finishedBetween}`;
    t.after(() => fs.rmSync(torn, { recursive: true, force: true }));
    fs.cpSync(dir, torn, { recursive: true, filter: (p) => !path.basename(p).startsWith('lock') });
    fs.copyFileSync(pageFileBefore, path.join(torn, 'data.redb'));
    const older = Database.open(torn, BLOB_OPTS);
    assert.ok(older.stats().checkpointTxn < running!, 'the copy should start from the checkpoint before the run');
    assert.deepEqual(contents(older), want);
    assert.ok(older.verify().ok);
    older.checkpoint();
    assert.equal(blobCount(older), distinctBlobs(want), 'blob count after replay over the older checkpoint and a full fold');
    // Every count equals the references to its blob (a release applied twice leaves shared ones low).
    const folded = older.verify();
    assert.ok(folded.ok, JSON.stringify(folded.issues.slice(0, 3)));
    older.close();
  }
  assert.equal(finishedBetween, 2, 'no checkpoint of the deduplicated store ran between commits');
  db.checkpoint();
  assert.equal(blobCount(db), distinctBlobs(want));
  intactAfterReopen(db, dir, want);
});
