import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ExtentAllocator } from '../../src/pagefile/allocator.js';
import { HEADER_SIZE } from '../../src/pagefile/layout.js';

test('allocation takes the smallest free extent that fits, and grows the file when none does', () => {
  const a = new ExtentAllocator(HEADER_SIZE + 64 * 100);
  a.free(HEADER_SIZE, 64 * 4);
  a.free(HEADER_SIZE + 64 * 10, 64 * 2);
  a.free(HEADER_SIZE + 64 * 20, 64 * 8);
  assert.equal(a.allocate(128), HEADER_SIZE + 64 * 10);
  assert.equal(a.allocate(192), HEADER_SIZE);
  assert.equal(a.allocate(64 * 9), HEADER_SIZE + 64 * 100);
  assert.equal(a.end, HEADER_SIZE + 64 * 109);
});

test('allocating in a hole takes the best fit and never grows the file', () => {
  const a = new ExtentAllocator(HEADER_SIZE + 64 * 100);
  a.free(HEADER_SIZE, 64 * 4);
  a.free(HEADER_SIZE + 64 * 20, 64 * 8);
  assert.equal(a.allocateInHole(64 * 3), HEADER_SIZE);
  assert.equal(a.allocateInHole(64 * 9), null);
  assert.equal(a.allocateInHole(64 * 8), HEADER_SIZE + 64 * 20);
  assert.equal(a.end, HEADER_SIZE + 64 * 100);
  assert.deepEqual(a.extents(), [{ offset: HEADER_SIZE + 64 * 3, length: 64 }]);
});

test('freeing merges touching extents, and trimTail gives a free tail back', () => {
  const a = new ExtentAllocator(HEADER_SIZE + 64 * 10);
  a.free(HEADER_SIZE + 64 * 6, 64 * 2);
  a.free(HEADER_SIZE + 64 * 8, 64 * 2);
  a.free(HEADER_SIZE + 64 * 4, 64 * 2);
  assert.deepEqual(a.extents(), [{ offset: HEADER_SIZE + 64 * 4, length: 64 * 6 }]);
  assert.equal(a.trimTail(), HEADER_SIZE + 64 * 4);
  assert.equal(a.freeBytes, 0);
});

test('random allocate and free sequences never hand out overlapping extents', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 40 }), fc.nat()), { maxLength: 300 }), (ops) => {
      const a = new ExtentAllocator();
      const live: { offset: number; length: number }[] = [];
      for (const [alloc, units, pick] of ops) {
        if (alloc || live.length === 0) {
          const length = units * 64;
          const offset = a.allocate(length);
          for (const l of live) assert.ok(offset + length <= l.offset || l.offset + l.length <= offset, 'overlap');
          live.push({ offset, length });
        } else {
          const [e] = live.splice(pick % live.length, 1);
          a.free(e!.offset, e!.length);
        }
      }
      // Live extents plus free extents tile [HEADER_SIZE, end) exactly.
      const all = [...live, ...a.extents()].sort((x, y) => x.offset - y.offset);
      let at = HEADER_SIZE;
      for (const e of all) {
        assert.equal(e.offset, at);
        at += e.length;
      }
      assert.equal(at, a.end);
    }),
  );
});
