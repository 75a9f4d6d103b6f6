// The planner's tenant totals cache (src/audit/totals-cache.ts): each snapshot gets the totals its
// own committed state holds, however many commits came since another snapshot filled the cache.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { totalKey } from '../../src/audit/keys.js';
import { encodeTotals } from '../../src/audit/stats.js';
import { T_STATS } from '../../src/audit/tables.js';
import { TotalsCache } from '../../src/audit/totals-cache.js';
import { Database } from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';

test('a cached tenant total is the one of the snapshot asking, before and after later commits', (t) => {
  const dir = tmpDir(t, 'totals');
  const db = Database.open(dir, { checkpointIntervalMs: 0, durability: 'none' });
  try {
    db.write((tx) => tx.table(T_STATS).put(totalKey(5), encodeTotals({ count: 3, minTs: 10, maxTs: 20 })));
    const cache = new TotalsCache();
    const before = db.read();
    assert.deepEqual(cache.totals(before, before.table(T_STATS), 5), { count: 3, minTs: 10, maxTs: 20 });
    assert.deepEqual(cache.totals(before, before.table(T_STATS), 6), { count: 0, minTs: 0, maxTs: 0 });
    db.write((tx) => {
      tx.table(T_STATS).put(totalKey(5), encodeTotals({ count: 4, minTs: 10, maxTs: 30 }));
      tx.table(T_STATS).put(totalKey(6), encodeTotals({ count: 1, minTs: 7, maxTs: 7 }));
    });
    const after = db.read();
    assert.deepEqual(cache.totals(after, after.table(T_STATS), 5), { count: 4, minTs: 10, maxTs: 30 });
    assert.deepEqual(cache.totals(after, after.table(T_STATS), 6), { count: 1, minTs: 7, maxTs: 7 });
    // The older snapshot, still open, keeps seeing its own state.
    assert.deepEqual(cache.totals(before, before.table(T_STATS), 5), { count: 3, minTs: 10, maxTs: 20 });
    assert.deepEqual(cache.totals(before, before.table(T_STATS), 6), { count: 0, minTs: 0, maxTs: 0 });
    before.close();
    after.close();
  } finally {
    db.close();
  }
});
