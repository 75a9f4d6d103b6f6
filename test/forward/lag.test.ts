import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LagTracker } from '../../src/forward/lag.js';

test('lag counts the events past the cursor and the age of the oldest one waiting', () => {
  let now = 1000;
  const lag = new LagTracker(2, () => now);
  assert.deepEqual(lag.shard(0), { shard: 0, head: 0, cursor: 0, events: 0, seconds: 0 });
  lag.observeHead(0, 10);
  now = 3000;
  lag.observeHead(0, 25);
  now = 4000;
  assert.deepEqual(lag.shard(0), { shard: 0, head: 25, cursor: 0, events: 25, seconds: 3 });
  lag.observeCursor(0, 10);
  assert.deepEqual(lag.shard(0), { shard: 0, head: 25, cursor: 10, events: 15, seconds: 1 }, 'events 11..25 were first seen at 3000');
  lag.observeCursor(0, 25);
  assert.deepEqual(lag.shard(0), { shard: 0, head: 25, cursor: 25, events: 0, seconds: 0 });
  assert.equal(lag.shard(1).events, 0);
});

test('lag never understates the wait, however many heads were noted', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 1200 }), fc.nat(), (steps, cut) => {
      let now = 0;
      const lag = new LagTracker(1, () => now);
      const seen: { head: number; at: number }[] = [];
      let head = 0;
      for (const step of steps) {
        now += 7;
        head += step;
        lag.observeHead(0, head);
        seen.push({ head, at: now });
      }
      const cursor = cut % (head + 1);
      lag.observeCursor(0, cursor);
      now += 1;
      const oldest = seen.find((n) => n.head > cursor);
      const exact = oldest ? (now - oldest.at) / 1000 : 0;
      const l = lag.shard(0);
      assert.equal(l.events, head - cursor);
      assert.ok(l.seconds >= exact - 1e-9, `reported ${l.seconds} s, at least ${exact} s waited`);
    }),
    { numRuns: 200 },
  );
});
