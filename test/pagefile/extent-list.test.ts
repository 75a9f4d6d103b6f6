import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExtentList } from '../../src/pagefile/extent-list.js';

test('an extent list keeps every extent in order as it grows, offsets past 4 GiB included', () => {
  const list = new ExtentList();
  const expected: { offset: number; length: number }[] = [];
  for (let i = 0; i < 10_000; i++) {
    const e = { offset: 8192 + i * 2 ** 33, length: 64 * (1 + (i % 100)) };
    list.push(e.offset, e.length);
    expected.push(e);
  }
  assert.equal(list.length, 10_000);
  assert.deepEqual(list.toArray(), expected);
  assert.equal(list.bytes(), expected.reduce((n, e) => n + e.length, 0));
});

test('splicing an extent list returns its tail and leaves the head', () => {
  const list = new ExtentList();
  for (let i = 0; i < 40; i++) list.push(i * 64, 64);
  const tail = list.splice(30);
  assert.equal(list.length, 30);
  assert.equal(tail.length, 10);
  assert.equal(tail.offsetAt(0), 30 * 64);
  assert.equal(list.offsetAt(29), 29 * 64);
  // Pushing after a splice overwrites the spliced-off slots, not the tail handed out.
  list.push(999 * 64, 128);
  assert.equal(list.offsetAt(30), 999 * 64);
  assert.equal(tail.offsetAt(0), 30 * 64);
  assert.equal(list.splice(100).length, 0);
});

test('an extent list appends another list or plain extents', () => {
  const a = new ExtentList();
  a.push(0, 64);
  const b = new ExtentList();
  b.push(128, 192);
  a.append(b);
  a.append([{ offset: 4096, length: 64 }]);
  assert.deepEqual(a.toArray(), [
    { offset: 0, length: 64 },
    { offset: 128, length: 192 },
    { offset: 4096, length: 64 },
  ]);
});
