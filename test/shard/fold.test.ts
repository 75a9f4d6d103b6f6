/**
 * Folding memtables into trees: a memtable is merged in one pass (btree/sorted-merge.ts), whether it
 * holds puts only or deletions too (which rebalance the nodes they shrink). Both must leave exactly
 * the expected entries, a tree that verifies after a checkpoint, and a snapshot of the version before
 * the fold reading what it read before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Database } from '../../src/index.js';
import { enc, tmpDir } from '../support/tmp.js';

/** Small pages make a few thousand entries a tree three or four levels deep. */
const OPTS = { pageSize: 512, checkpointIntervalMs: 0, compactOnClose: false } as const;

/** A deterministic pseudo-random permutation of 0..n-1. */
function shuffled(n: number, seed: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  let x = seed;
  for (let i = n - 1; i > 0; i--) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const key = (i: number): Buffer => enc(`key-${String(i).padStart(6, '0')}`);
const value = (i: number, round: number): Buffer => enc(`v${round}-${i}-${'x'.repeat(i % 40)}`);

function contents(db: { range(): Iterable<{ key: Buffer; value: Buffer }> }): Map<string, string> {
  const out = new Map<string, string>();
  for (const { key: k, value: v } of db.range()) out.set(k.toString(), v.toString());
  return out;
}

test('a fold of puts merged in one pass leaves exactly the expected entries in a deep tree, and the snapshot before it intact', (t) => {
  const dir = tmpDir(t, 'fold-puts');
  {
    const db = Database.open(dir, OPTS);
    const want = new Map<string, string>();
    // Round 0 builds a deep tree; rounds 1 and 2 add new keys between the old ones and overwrite some.
    for (const round of [0, 1, 2]) {
      const ids = shuffled(3000, 7 + round).map((i) => i * 3 + round).concat(round > 0 ? shuffled(500, round).map((i) => i * 3) : []);
      for (let c = 0; c < ids.length; c += 250) {
        db.write((tx) => {
          for (const i of ids.slice(c, c + 250)) tx.put(key(i), value(i, round));
        });
      }
      for (const i of ids) want.set(key(i).toString(), value(i, round).toString());
      const before = new Map(want);
      const snap = db.read();
      const seenBefore = contents(snap);
      db.checkpoint();
      // The snapshot still shows the version before the fold; the database shows the same entries.
      assert.deepEqual(contents(snap), seenBefore, `round ${round}: the snapshot changed with the fold`);
      assert.equal(snap.count(), before.size, `round ${round}: snapshot count`);
      snap.close();
      assert.deepEqual(contents(db), want, `round ${round}: contents after the fold`);
      assert.equal(db.count(), want.size, `round ${round}: count after the fold`);
      const report = db.verify();
      assert.equal(report.ok, true, `round ${round}: verify found ${JSON.stringify(report.issues.slice(0, 3))}`);
      assert.ok(db.stats().pageFileBytes > 0);
    }
    db.close();
    const again = Database.open(dir, OPTS);
    assert.deepEqual(contents(again), want, 'contents after a reopen');
    again.close();
  }
});

test('a fold with deletions among its puts leaves exactly the expected entries and a tree that verifies', (t) => {
  const dir = tmpDir(t, 'fold-deletes');
  {
    const db = Database.open(dir, OPTS);
    const want = new Map<string, string>();
    const ids = shuffled(4000, 3);
    db.write((tx) => {
      for (const i of ids) tx.put(key(i), value(i, 0));
    });
    for (const i of ids) want.set(key(i).toString(), value(i, 0).toString());
    db.checkpoint();
    // Delete two thirds (blind and not), put some back, and add new keys, all in the memtable.
    db.write((tx) => {
      for (const i of ids) {
        if (i % 3 === 0) tx.remove(key(i));
        else if (i % 3 === 1) assert.equal(tx.delete(key(i)), true);
      }
      for (let i = 4000; i < 4500; i++) tx.put(key(i), value(i, 1));
      for (let i = 0; i < 300; i += 3) tx.put(key(i), value(i, 2));
    });
    for (const i of ids) if (i % 3 !== 2) want.delete(key(i).toString());
    for (let i = 4000; i < 4500; i++) want.set(key(i).toString(), value(i, 1).toString());
    for (let i = 0; i < 300; i += 3) want.set(key(i).toString(), value(i, 2).toString());
    db.checkpoint();
    assert.deepEqual(contents(db), want);
    assert.equal(db.count(), want.size);
    const report = db.verify();
    assert.equal(report.ok, true, `verify found ${JSON.stringify(report.issues.slice(0, 3))}`);
    db.close();
  }
});
