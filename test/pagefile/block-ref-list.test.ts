/**
 * BlockRefList (src/pagefile/block-ref-list.ts): refs packed as numbers read back exactly, nulls
 * included, through the edits a branch makes to its children.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BlockRefList } from '../../src/pagefile/block-ref-list.js';
import type { BlockRef } from '../../src/pagefile/layout.js';

const ref = (offset: number, length: number, crc: number): BlockRef => ({ offset, length, crc });

test('refs past 4 GiB with checksums above 2^31 read back exactly, and nulls stay null', () => {
  const refs = [ref(4096, 4096, 0), null, ref(2 ** 40 + 8192, 12288, 0xffffffff), ref(5 * 2 ** 30, 4096, 2 ** 31 + 7)];
  const list = BlockRefList.from(refs);
  assert.equal(list.length, 4);
  assert.deepEqual([...list], refs);
  assert.deepEqual(
    refs.map((_, i) => list.stored(i)),
    [true, false, true, true],
  );
  assert.equal(list.get(4), null, 'past the end reads as null');
  assert.deepEqual([...BlockRefList.nulls(2)], [null, null]);
  assert.equal(BlockRefList.empty().length, 0);
  assert.equal(list.stored(4), false);
});

test('set, splice, slice and truncate edit the list as the same edits edit an array', () => {
  const a = ref(8192, 4096, 1);
  const b = ref(16384, 8192, 2);
  const c = ref(2 ** 33, 4096, 3);
  const list = BlockRefList.from([a, b, c]);
  const model: (BlockRef | null)[] = [a, b, c];
  list.set(1, null);
  model[1] = null;
  list.splice(1, 0, 2);
  model.splice(1, 0, null, null);
  list.set(2, c);
  model[2] = c;
  assert.deepEqual([...list], model);
  list.splice(0, 2, 1);
  model.splice(0, 2, null);
  assert.deepEqual([...list], model);
  assert.deepEqual([...list.slice(1)], model.slice(1));
  assert.deepEqual([...list.slice(0, 2)], model.slice(0, 2));
  list.truncate(2);
  model.length = 2;
  assert.deepEqual([...list], model);
  list.push(a);
  list.push(null);
  model.push(a, null);
  assert.deepEqual([...list], model);
});
