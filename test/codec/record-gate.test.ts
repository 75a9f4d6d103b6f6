import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { RecordCompressionGate } from '../../src/codec/record-gate.js';
import { StoreCodec } from '../../src/codec/store-codec.js';

test('WAL records that compress to half or less keep being compressed; others pause compression for 16 records', () => {
  const gate = new RecordCompressionGate();
  for (let i = 0; i < 100; i++) {
    assert.equal(gate.shouldTry(), true, `record ${i} of well-compressing data is tried`);
    gate.observe(10_000, 2_000);
  }
  gate.observe(10_000, 6_000);
  for (let i = 0; i < 16; i++) assert.equal(gate.shouldTry(), false, `record ${i} after a poor one is stored raw`);
  assert.equal(gate.shouldTry(), true, 'the 17th record is tried again');
  gate.observe(10_000, null);
  assert.equal(gate.shouldTry(), false, 'a record that did not shrink at all pauses compression too');
});

test('a store codec compresses WAL records of repetitive data and stores records of random data raw after the first', () => {
  const codec = new StoreCodec('zstd', 3, null);
  const text = new TextEncoder().encode('{"actor":"svc","action":"read","outcome":"ok"}\n'.repeat(200));
  for (let i = 0; i < 40; i++) assert.notEqual(codec.compressRecord(text, 1024).flags, 0, `repetitive record ${i} is compressed`);
  const random = new Uint8Array(randomBytes(8192));
  const flags = Array.from({ length: 20 }, () => codec.compressRecord(random, 1024).flags);
  // The first random record is tried (and does not shrink enough); the next 16 are not even tried.
  assert.deepEqual(flags.slice(1, 17), new Array(16).fill(0));
  // Repetitive data is noticed again at the next try, within 16 records, and stays compressed.
  const after = Array.from({ length: 40 }, () => codec.compressRecord(text, 1024).flags !== 0);
  const first = after.indexOf(true);
  assert.ok(first >= 0 && first <= 16, `repetitive records are compressed again from record ${first}`);
  assert.ok(after.slice(first).every(Boolean), 'and every one after it');
});
