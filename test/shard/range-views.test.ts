/**
 * Range scans in view mode (SnapshotTable.rangeViews, for the engine's own layers): every step
 * yields the same key and value bytes as the copying scan, whether the entry lives in the memtable
 * or the tree, inline, out of line or deduplicated, forward or reverse, with bounds and limits; and
 * a view taken from a snapshot still holds its bytes at its step while later commits and folds
 * change the same keys.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Database } from '../../src/index.js';
import type { RangeOptions } from '../../src/shard/validate.js';
import { tmpDir } from '../support/tmp.js';

const OPTIONS = { pageSize: 512, compression: 'none' as const, durability: 'none' as const, dedupThreshold: 200 };

const key = (i: number): Buffer => Buffer.from(`k${String(i).padStart(5, '0')}`);
/** Small inline values, large ones (out of line past the page), and repeated ones (deduplicated). */
function value(i: number, round: number): Buffer {
  if (i % 7 === 0) return Buffer.alloc(0);
  if (i % 11 === 0) return Buffer.alloc(300, 'd'); // the same bytes each time: deduplicated
  if (i % 13 === 0) return Buffer.alloc(900 + i, String.fromCharCode(97 + (round % 26)));
  return Buffer.from(`v${i}.${round}`);
}

function copyScan(it: Iterable<{ key: Uint8Array; value: Uint8Array }>): [string, string][] {
  const out: [string, string][] = [];
  for (const e of it) out.push([Buffer.from(e.key).toString('hex'), Buffer.from(e.value).toString('hex')]);
  return out;
}

test('a view-mode scan yields at each step the bytes the copying scan returns', (t) => {
  const dir = tmpDir(t, 'range-views');
  const db = Database.open(dir, OPTIONS);
  t.after(() => db.close());
  // Tree entries (checkpointed), then memtable entries over them: changes, deletes, new keys.
  db.write((tx) => {
    for (let i = 0; i < 600; i++) tx.put(key(i), value(i, 0));
  });
  db.checkpoint();
  db.write((tx) => {
    for (let i = 0; i < 600; i += 3) tx.put(key(i), value(i, 1));
    for (let i = 1; i < 600; i += 10) tx.remove(key(i));
    for (let i = 600; i < 650; i++) tx.put(key(i), value(i, 1));
  });
  fc.assert(
    fc.property(fc.nat(700), fc.nat(700), fc.boolean(), fc.option(fc.nat(80), { nil: undefined }), fc.boolean(), (a, b, reverse, limit, exclusive) => {
      const lo = Math.min(a, b);
      const hi = Math.max(a, b);
      const opts: RangeOptions = exclusive ? { gt: key(lo), lt: key(hi), reverse, limit } : { gte: key(lo), lte: key(hi), reverse, limit };
      const snap = db.read();
      try {
        assert.deepEqual(copyScan(snap.rangeViews(opts)), copyScan(snap.range(opts)));
      } finally {
        snap.close();
      }
    }),
    { numRuns: 60 },
  );
});

test('a view from a snapshot keeps its bytes at its step while commits and folds change the key', (t) => {
  const dir = tmpDir(t, 'range-views-live');
  const db = Database.open(dir, OPTIONS);
  t.after(() => db.close());
  db.write((tx) => {
    for (let i = 0; i < 300; i++) tx.put(key(i), value(i, 0));
  });
  db.checkpoint();
  const snap = db.read();
  try {
    let n = 0;
    for (const e of snap.rangeViews()) {
      const i = Number(Buffer.from(e.key).toString().slice(1));
      // Every entry is rewritten and folded into the trees while the scan is paused on it.
      db.write((tx) => tx.put(key(i), value(i, 5)));
      if (n % 50 === 0) db.checkpoint();
      assert.equal(Buffer.from(e.value).toString('hex'), value(i, 0).toString('hex'), `entry ${i}`);
      n++;
    }
    assert.equal(n, 300);
  } finally {
    snap.close();
  }
});

test('a point read in view mode gives the bytes get returns, from the memtable or the tree, inline, out of line or deduplicated', (t) => {
  const db = Database.open(tmpDir(t, 'get-views'), OPTIONS);
  t.after(() => db.close());
  db.write((tx) => {
    for (let i = 0; i < 300; i++) tx.put(key(i), value(i, 0));
  });
  db.checkpoint();
  db.write((tx) => {
    for (let i = 0; i < 300; i += 3) tx.put(key(i), value(i, 1));
    for (let i = 1; i < 300; i += 10) tx.remove(key(i));
  });
  const snap = db.read();
  t.after(() => snap.close());
  for (let i = 0; i < 310; i++) {
    const copy = snap.get(key(i));
    const view = snap.getView(key(i));
    if (copy === undefined) assert.equal(view, undefined, `key ${i}`);
    else assert.deepEqual(Buffer.from(view!), copy, `key ${i}`);
  }
});
