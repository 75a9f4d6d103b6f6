import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compareBytes } from '../../src/util/bytes.js';
import { sortByKey } from '../../src/util/key-sort.js';

interface Item {
  key: Uint8Array;
  seq: number;
}

/** The reference: a stable comparator sort. */
const reference = (items: Item[]): Item[] => [...items].sort((a, b) => compareBytes(a.key, b.key));

// Keys drawn from a small alphabet over a shared prefix, so that ties of the 4-byte word, equal keys
// and keys that are prefixes of one another are all common.
const keyArb = fc.tuple(fc.constantFrom('', 'tenant/', 'tenant/2026-'), fc.uint8Array({ maxLength: 7, max: 3 })).map(([p, tail]) => {
  const key = new Uint8Array(p.length + tail.length);
  key.set(Buffer.from(p));
  key.set(tail, p.length);
  return key;
});

test('sorting by key matches a stable byte-order sort, equal keys keeping their write order', () => {
  fc.assert(
    fc.property(fc.array(keyArb, { minLength: 0, maxLength: 400 }), (keys) => {
      const items = keys.map((key, seq) => ({ key, seq }));
      const got = sortByKey(items);
      assert.deepEqual(
        got.map((i) => i.seq),
        reference(items).map((i) => i.seq),
      );
    }),
    { numRuns: 300 },
  );
});

test('sorting many random keys (the numeric path) matches a stable byte-order sort', () => {
  const items: Item[] = [];
  for (let i = 0; i < 5000; i++) items.push({ key: new Uint8Array([i % 7, (i * 7919) & 0xff, (i * 104729) & 0xff, i & 3, (i * 31) & 0xff]), seq: i });
  // Repeat some keys exactly, so equal keys meet inside a run of equal words.
  for (let i = 0; i < 500; i++) items.push({ key: items[i * 3]!.key, seq: items.length });
  assert.deepEqual(
    sortByKey(items).map((i) => i.seq),
    reference(items).map((i) => i.seq),
  );
});
