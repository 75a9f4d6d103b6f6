/**
 * verify() reads and decodes every node of the newest checkpoint; it leaves them in the node cache
 * (when they fit), so the reads after a verify at open load nothing again, and the answers are the
 * same as from a cold cache. Nodes never push the cache past its budget to get there.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Database } from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';

const OPTIONS = { pageSize: 512, compression: 'none' as const, durability: 'none' as const };

function fill(dir: string, n: number): void {
  const db = Database.open(dir, OPTIONS);
  db.write((tx) => {
    for (let i = 0; i < n; i++) tx.put(Buffer.from(`key-${String(i).padStart(6, '0')}`), Buffer.from(`value ${i} `.repeat(3)));
  });
  db.close();
}

test('after verify, reads of the newest checkpoint are cache hits and return the same entries', (t) => {
  const dir = tmpDir(t, 'verify-cache');
  {
    fill(dir, 3000);
    const cold = Database.open(dir, OPTIONS);
    const expected = [...cold.range()].map((e) => [e.key.toString(), e.value.toString()]);
    const coldMisses = cold.stats().cache.misses;
    cold.close();
    assert.ok(coldMisses > 10, `a cold scan loads nodes (${coldMisses} misses)`);

    const db = Database.open(dir, OPTIONS);
    try {
      assert.equal(db.verify().ok, true);
      const before = db.stats().cache.misses;
      const got = [...db.range()].map((e) => [e.key.toString(), e.value.toString()]);
      assert.deepEqual(got, expected);
      assert.equal(db.stats().cache.misses - before, 0, 'every node the scan needs was left in the cache by verify');
      for (let i = 0; i < 3000; i += 97) assert.equal(db.get(Buffer.from(`key-${String(i).padStart(6, '0')}`))?.toString(), `value ${i} `.repeat(3));
    } finally {
      db.close();
    }
  }
});

test('verify leaves the cache within its budget when the tree does not fit', (t) => {
  const dir = tmpDir(t, 'verify-cache-small');
  {
    fill(dir, 40000);
    const db = Database.open(dir, { ...OPTIONS, cacheSizeBytes: 1 << 20 });
    try {
      assert.equal(db.verify().ok, true);
      const { usedBytes, limitBytes } = db.stats().cache;
      assert.ok(usedBytes > 0 && usedBytes <= limitBytes, `cache holds ${usedBytes} of ${limitBytes} bytes`);
      assert.equal([...db.range()].length, 40000);
      assert.ok(db.stats().cache.usedBytes <= limitBytes * 1.01 + 64 * 1024);
    } finally {
      db.close();
    }
  }
});
