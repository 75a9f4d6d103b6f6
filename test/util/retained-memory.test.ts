import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  REPORT_STEP,
  retainedBytes,
  retainedDropped,
  retainedFloat64,
  retainedInt32,
  retainedMemoryReports,
  retainedSlab,
  retainedSlabBytesDropped,
  setRetainedReportStep,
} from '../../src/util/retained-memory.js';

test('retained buffers of 16 KiB and more are zeroed SharedArrayBuffer memory, smaller ones ordinary buffers', () => {
  const big = retainedBytes(64 << 10);
  assert.ok(big.buffer instanceof SharedArrayBuffer);
  assert.equal(big.length, 64 << 10);
  assert.ok(big.every((b) => b === 0));
  const ints = retainedInt32(8192);
  assert.ok(ints.buffer instanceof SharedArrayBuffer);
  assert.equal(ints.length, 8192);
  const floats = retainedFloat64(4096);
  assert.ok(floats.buffer instanceof SharedArrayBuffer);
  assert.ok(floats.every((x) => x === 0));
  const small = retainedBytes(1000);
  assert.ok(small.buffer instanceof ArrayBuffer);
  assert.ok(small.every((b) => b === 0));
});

test('V8 is told of retained memory once per report step allocated, and never for ordinary buffers', (t) => {
  setRetainedReportStep(1 << 20);
  t.after(() => setRetainedReportStep(REPORT_STEP));
  const before = retainedMemoryReports();
  for (let i = 0; i < 100; i++) retainedBytes(1000);
  assert.equal(retainedMemoryReports(), before, 'buffers under 16 KiB are ordinary ones, which V8 counts itself');
  for (let i = 0; i < 3; i++) retainedBytes(300 << 10);
  assert.equal(retainedMemoryReports(), before, '900 KiB allocated: below one step');
  retainedInt32(40 << 10);
  assert.equal(retainedMemoryReports(), before + 1, '1,060 KiB allocated: one step');
  for (let i = 0; i < 4; i++) retainedFloat64(32 << 10);
  assert.equal(retainedMemoryReports(), before + 2, 'another 1 MiB: a second report');
});

test('leaf slabs are told to V8 when they are dropped, once per 64 MiB of them, never when allocated', () => {
  const before = retainedMemoryReports();
  const droppedBefore = retainedSlabBytesDropped();
  const slabs = Array.from({ length: 80 }, () => retainedSlab(1 << 20));
  assert.ok(slabs.every((s) => s instanceof SharedArrayBuffer && s.byteLength === 1 << 20));
  assert.equal(retainedMemoryReports(), before, '80 MiB of slabs allocated: no report');
  // Whatever an earlier test dropped is below one step; top it up to just under the next step.
  const pending = (retainedSlabBytesDropped() % (64 << 20));
  retainedDropped((64 << 20) - pending - 1);
  assert.equal(retainedMemoryReports(), before, 'one byte short of 64 MiB dropped: no report');
  retainedDropped(1);
  assert.equal(retainedMemoryReports(), before + 1, '64 MiB dropped: one report');
  assert.equal(retainedSlabBytesDropped() - droppedBefore, (64 << 20) - pending);
});
