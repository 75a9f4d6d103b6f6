/**
 * The lost-commit count of a repair is exact wherever the damage sits in the WAL: in a segment that
 * has successors, in a record's length field (so the records after it must be found by content), or
 * in a segment's header. Crash images are the files of a store copied while it is still open.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Database } from '../../src/index.js';
import { repairShard } from '../../src/shard/maintenance/repair.js';
import { mapWal } from '../support/corruption-harness.js';
import { tmpDir } from '../support/tmp.js';

const OPTIONS = { checkpointIntervalMs: 0, checkpointWalBytes: 2 ** 40, walSegmentBytes: 64 * 1024, durability: 'none' as const, compression: 'none' as const };
const COMMITS = 300;
const key = (i: number): Buffer => Buffer.from(`k/${String(i).padStart(6, '0')}`);

/** A crash image of COMMITS commits of about 600 bytes each, spread over several WAL segments. */
function crashImage(t: import('node:test').TestContext): string {
  const dir = tmpDir(t, 'walloss');
  const image = tmpDir(t, 'walloss-image');
  const db = Database.open(dir, OPTIONS);
  for (let i = 1; i <= COMMITS; i++) db.write((tx) => tx.put(key(i), Buffer.alloc(600, i % 251)));
  fs.cpSync(dir, image, { recursive: true });
  db.close();
  for (const lock of ['lock', 'lock.owner']) fs.rmSync(path.join(image, lock), { recursive: true, force: true });
  return image;
}

function flip(file: string, at: number, mask: number): void {
  const b = fs.readFileSync(file);
  b[at]! ^= mask;
  fs.writeFileSync(file, b);
}

function assertLost(dir: string, firstLost: number, replayed: number): void {
  const r = repairShard(dir, OPTIONS);
  assert.equal(r.status, 'repaired');
  assert.equal(r.walCommitsReplayed, replayed);
  assert.deepEqual(r.replayedTxns, replayed > 0 ? { first: 1, last: replayed } : null);
  assert.equal(r.lostCommits, COMMITS - firstLost + 1);
  assert.deepEqual(r.lostTxns, { first: firstLost, last: COMMITS });
  const db = Database.open(dir, OPTIONS);
  try {
    assert.equal(db.count(), replayed);
    if (replayed > 0) assert.equal(db.get(key(replayed))?.length, 600);
    assert.equal(db.get(key(firstLost)), undefined);
  } finally {
    db.close();
  }
}

test('damage in a WAL segment that has successors counts every later commit, in every segment', (t) => {
  const image = crashImage(t);
  const records = mapWal(path.join(image, 'wal'), { segment: 1, offset: 4096 });
  assert.equal(records.length, COMMITS);
  assert.ok(new Set(records.map((r) => r.segment)).size >= 3, 'the commits span several segments');
  const bad = records.find((r) => r.segment === records[0]!.segment && r.txn > 20)!;
  flip(bad.file, bad.start + 100, 0x01);
  assertLost(image, bad.txn, bad.txn - 1);
});

test('a damaged length field does not hide the records after it: they are found by content', (t) => {
  const image = crashImage(t);
  const records = mapWal(path.join(image, 'wal'), { segment: 1, offset: 4096 });
  const bad = records[150]!;
  // The length grows past the segment: the chain cannot be followed through it.
  flip(bad.file, bad.start + 2, 0x7f);
  assertLost(image, bad.txn, bad.txn - 1);
});

test('a damaged header of a middle WAL segment counts its records and all later ones as lost', (t) => {
  const image = crashImage(t);
  const records = mapWal(path.join(image, 'wal'), { segment: 1, offset: 4096 });
  const segments = [...new Set(records.map((r) => r.segment))];
  const middle = segments[1]!;
  const first = records.find((r) => r.segment === middle)!;
  flip(first.file, 20, 0x55);
  assertLost(image, first.txn, first.txn - 1);
});
