import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { Database } from '../../src/index.js';
import { dirBytes, tmpDir } from '../support/tmp.js';

test('after deleting 90% of 300k entries, compaction shrinks the files to at most 20% of their size', (t) => {
  const dir = tmpDir(t);
  const db = Database.open(dir, { checkpointIntervalMs: 0 });
  const n = 300_000;
  const keys = crypto.randomBytes(16 * n);
  const value = Buffer.alloc(100, 7);
  for (let b = 0; b < n; b += 20_000) {
    db.write((tx) => {
      for (let i = b; i < b + 20_000; i++) tx.put(keys.subarray(i * 16, i * 16 + 16), value);
    });
  }
  db.checkpoint();
  const before = dirBytes(dir);
  for (let b = 0; b < n; b += 20_000) {
    db.write((tx) => {
      for (let i = b; i < b + 20_000; i++) if (i % 10 !== 0) tx.delete(keys.subarray(i * 16, i * 16 + 16));
    });
  }
  const info = db.compact();
  const after = dirBytes(dir);
  t.diagnostic(`files: ${before} bytes before the deletes, ${after} after compaction (${((after / before) * 100).toFixed(1)}%)`);
  assert.equal(db.count(), n / 10);
  assert.ok(after <= before * 0.2, `files are ${after} bytes after compaction, ${before} before the deletes (${((after / before) * 100).toFixed(1)}%)`);
  assert.ok(info.bytesAfter < info.bytesBefore);
  assert.equal(db.get(keys.subarray(0, 16))?.length, 100);
  assert.equal(db.get(keys.subarray(16, 32)), undefined);
  assert.ok(db.verify().ok);
  db.close();
});

test('close compacts a page file that is mostly free space, unless told not to', (t) => {
  const sizes: Record<string, number> = {};
  for (const compactOnClose of [true, false]) {
    const dir = tmpDir(t, `close-${compactOnClose}`);
    let db = Database.open(dir, { compactOnClose, checkpointIntervalMs: 0, compression: 'none' });
    const value = Buffer.alloc(200, 1);
    db.write((tx) => {
      for (let i = 0; i < 20_000; i++) tx.put(Buffer.from(`key${i}`), value);
    });
    db.close();
    db = Database.open(dir, { compactOnClose, compression: 'none' });
    // Deleting most entries rewrites nearly every leaf; the old ones become free space.
    db.write((tx) => {
      for (let i = 0; i < 20_000; i++) if (i % 8 !== 0) tx.delete(Buffer.from(`key${i}`));
    });
    db.close();
    sizes[String(compactOnClose)] = dirBytes(dir);
    db = Database.open(dir);
    assert.equal(db.count(), 2500);
    assert.ok(db.verify().ok);
    db.close();
  }
  assert.ok(sizes.true! < sizes.false! / 2, `compacted on close: ${sizes.true} bytes, not compacted: ${sizes.false}`);
});
