import assert from 'node:assert/strict';
import test from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { ResumingRange } from '../../src/shard/data/resuming-range.js';
import type { Entry } from '../../src/shard/data/tree-read.js';
import type { RangeOptions } from '../../src/shard/validate.js';

const keys = ['a', 'b', 'c', 'd', 'e', 'f'];

/** A scan over `keys` honouring gt/gte/lt/lte/reverse/limit that fails once after `failAfter` entries. */
function flakyScans(failures: number[]) {
  const calls: RangeOptions[] = [];
  const scan = (o: RangeOptions): IterableIterator<Entry> => {
    calls.push(o);
    const failAfter = failures.shift();
    let ks = keys.filter((k) => {
      const b = Buffer.from(k);
      if (o.gt && Buffer.compare(b, Buffer.from(o.gt)) <= 0) return false;
      if (o.gte && Buffer.compare(b, Buffer.from(o.gte)) < 0) return false;
      if (o.lt && Buffer.compare(b, Buffer.from(o.lt)) >= 0) return false;
      if (o.lte && Buffer.compare(b, Buffer.from(o.lte)) > 0) return false;
      return true;
    });
    if (o.reverse) ks = ks.reverse();
    if (o.limit !== undefined) ks = ks.slice(0, o.limit);
    let i = 0;
    return {
      [Symbol.iterator]() {
        return this;
      },
      next(): IteratorResult<Entry> {
        if (failAfter !== undefined && i === failAfter) throw new CorruptionError('data.redb', 4096, 'block is not the one its parent references');
        if (i >= ks.length) return { done: true, value: undefined };
        const k = Buffer.from(ks[i++]!);
        return { done: false, value: { key: k, value: k } };
      },
    };
  };
  return { scan, calls };
}

test('a read-only scan that meets a recycled block resumes after the last key it returned, never repeating one', () => {
  const { scan, calls } = flakyScans([2, 1]);
  let refreshes = 0;
  const it = new ResumingRange({ gte: Buffer.from('a') }, scan, () => refreshes++);
  assert.deepEqual([...it].map((e) => e.key.toString()), keys);
  assert.equal(refreshes, 2);
  assert.equal(calls[1]!.gt?.toString(), 'b');
  assert.equal(calls[1]!.gte, undefined);
  assert.equal(calls[2]!.gt?.toString(), 'c');
});

test('a resumed reverse scan continues below the last key and keeps the limit', () => {
  const { scan, calls } = flakyScans([3]);
  const it = new ResumingRange({ reverse: true, limit: 5, lte: Buffer.from('f') }, scan, () => {});
  assert.deepEqual([...it].map((e) => e.key.toString()), ['f', 'e', 'd', 'c', 'b']);
  assert.equal(calls[1]!.lt?.toString(), 'd');
  assert.equal(calls[1]!.lte, undefined);
  assert.equal(calls[1]!.limit, 2);
});

test('damage that persists over fresh snapshots is reported as corruption', () => {
  const { scan } = flakyScans([0, 0, 0, 0, 0]);
  const it = new ResumingRange({}, scan, () => {});
  assert.throws(() => [...it], CorruptionError);
});

test('a scan that returns entries between recycled blocks resumes as often as it needs', () => {
  const { scan } = flakyScans([1, 1, 1, 1, 1]);
  let refreshes = 0;
  const it = new ResumingRange({}, scan, () => refreshes++);
  assert.deepEqual([...it].map((e) => e.key.toString()), keys);
  assert.equal(refreshes, 5);
});

test('failures with no entry returned in between count towards the limit even after progress', () => {
  const { scan } = flakyScans([2, 0, 0, 0, 0]);
  const it = new ResumingRange({}, scan, () => {});
  const seen: string[] = [];
  assert.throws(() => {
    for (const e of it) seen.push(e.key.toString());
  }, CorruptionError);
  assert.deepEqual(seen, ['a', 'b']);
});
