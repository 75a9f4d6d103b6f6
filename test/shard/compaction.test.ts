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
  assert.equal(db.count(), n / 10);
  assert.ok(after <= before * 0.2, `files are ${after} bytes after compaction, ${before} before the deletes (${((after / before) * 100).toFixed(1)}%)`);
  assert.ok(info.bytesAfter < info.bytesBefore);
  assert.equal(db.get(keys.subarray(0, 16))?.length, 100);
  assert.equal(db.get(keys.subarray(16, 32)), undefined);
  assert.ok(db.verify().ok);
  db.close();
});
