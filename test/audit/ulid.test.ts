// ULIDs: the string and binary forms round-trip, sort alike, carry their time, and a generator is
// monotonic within one millisecond.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isCanonicalUlid, newUlid, ulidTime, ulidToBytes, ulidToString, writeUlidChars } from '../../src/audit/ulid.js';

test('binary and string forms of a ULID round-trip and sort alike', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (a, b) => {
      const sa = ulidToString(a);
      const sb = ulidToString(b);
      assert.ok(isCanonicalUlid(sa));
      const back = new Uint8Array(16);
      ulidToBytes(sa, back);
      assert.deepEqual(back, a);
      assert.equal(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), sa < sb ? -1 : sa > sb ? 1 : 0);
    }),
    { numRuns: 500 },
  );
});

test('the characters of a ULID written as bytes are exactly its string form', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 6 }), (b, off, o) => {
      const out = Buffer.alloc(40, 0x2e);
      assert.equal(writeUlidChars(b, off, out, o), o + 26);
      assert.equal(out.toString('latin1', o, o + 26), ulidToString(b, off));
      // Nothing outside its 26 bytes is touched.
      assert.equal(out.toString('latin1', 0, o) + out.toString('latin1', o + 26), '.'.repeat(14));
    }),
    { numRuns: 500 },
  );
});

test('a new ULID carries its time and is monotonic within a millisecond', () => {
  const t = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
  const ids = Array.from({ length: 1000 }, () => newUlid(t));
  assert.ok(ids.every((id) => ulidTime(id) === t));
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!);
  assert.equal(isCanonicalUlid('01arz3ndektsv4rrffq69g5fav'), false);
  assert.equal(isCanonicalUlid('81ARZ3NDEKTSV4RRFFQ69G5FAV'), false);
  assert.equal(isCanonicalUlid('01ARZ3NDEKTSV4RRFFQ69G5FAV'), true);
});
