// The registry of open snapshots (src/shard/txn/reader-registry.ts) against a plain multiset of
// open transactions: its hot slot must never lose, double or misplace a count.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ReaderRegistry } from '../../../src/shard/txn/reader-registry.js';

test('oldest, newest and size match the open snapshots whatever the order of opens and closes', () => {
  const step = fc.oneof(fc.record({ open: fc.integer({ min: 0, max: 6 }) }), fc.record({ close: fc.nat() }));
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
      const reg = new ReaderRegistry();
      const open: number[] = [];
      for (const s of steps) {
        if ('open' in s) {
          reg.add(s.open);
          open.push(s.open);
        } else if (open.length > 0) {
          const [txn] = open.splice(s.close % open.length, 1);
          reg.remove(txn!);
        }
        assert.equal(reg.size, open.length);
        assert.equal(reg.oldest(), open.length ? Math.min(...open) : Infinity);
        assert.equal(reg.newest(), open.length ? Math.max(...open) : -Infinity);
      }
    }),
    { numRuns: 2000 },
  );
});
