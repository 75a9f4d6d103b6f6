import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreCodec } from '../../src/codec/store-codec.js';
import { CorruptionError } from '../../src/errors.js';
import crypto from 'node:crypto';
import { KeyRing } from '../../src/codec/key-ring.js';
import { resolveKeySource } from '../../src/codec/key-source.js';
import { openBlock, prepareBlock, prepareMove, sealBlock } from '../../src/pagefile/block.js';
import { BlockKind } from '../../src/pagefile/layout.js';

const codec = new StoreCodec('none', 1, null);
const payload = Buffer.from('a payload of some length, not a multiple of 64');

function sealed(offset = 8192) {
  return sealBlock(prepareBlock(BlockKind.Leaf, payload, codec), offset, 7, codec);
}

test('a sealed block opens to the same payload and fills a 64-byte-aligned extent', () => {
  const { bytes, ref } = sealed();
  assert.equal(bytes.length % 64, 0);
  assert.equal(ref.length, bytes.length);
  const { header, payload: got } = openBlock(bytes, 8192, 'f', ref.crc, BlockKind.Leaf, codec);
  assert.deepEqual(Buffer.from(got), payload);
  assert.equal(header.txn, 7);
});

test('a block read back from another offset fails its checksum', () => {
  const { bytes, ref } = sealed(8192);
  assert.throws(() => openBlock(bytes, 8256, 'f', ref.crc, BlockKind.Leaf, codec), (e: unknown) => e instanceof CorruptionError && e.offset === 8256);
});

test('a valid block that is not the one its parent names is reported as stale', () => {
  const { bytes } = sealed();
  assert.throws(() => openBlock(bytes, 8192, 'f', 12345, BlockKind.Leaf, codec), /stale or misplaced/);
});

test('a flipped padding byte is corruption, since every byte of an extent is checked', () => {
  const { bytes, ref } = sealed();
  bytes[bytes.length - 1]! ^= 1;
  assert.throws(() => openBlock(bytes, 8192, 'f', undefined, BlockKind.Leaf, codec), CorruptionError);
  assert.throws(() => openBlock(bytes, 8192, 'f', ref.crc, BlockKind.Leaf, codec), CorruptionError);
});

test('a block of the wrong kind is refused', () => {
  const { bytes, ref } = sealed();
  assert.throws(() => openBlock(bytes, 8192, 'f', ref.crc, BlockKind.Branch, codec), /kind 1 where kind 2/);
});

test('a block moved to another offset keeps its stored bytes and checks only at its new offset', () => {
  const { bytes, ref } = sealed(8192);
  const original = Buffer.from(bytes);
  const moved = prepareMove(bytes, 8192, 'f', ref.crc, BlockKind.Leaf, codec).seal(16384, 9);
  assert.equal(moved.ref.length, ref.length);
  assert.deepEqual(Buffer.from(moved.bytes.subarray(24)), original.subarray(24), 'the stored payload changed');
  const { header, payload: got } = openBlock(moved.bytes, 16384, 'f', moved.ref.crc, BlockKind.Leaf, codec);
  assert.deepEqual(Buffer.from(got), payload);
  assert.equal(header.txn, 9);
  assert.throws(() => openBlock(moved.bytes, 8192, 'f', moved.ref.crc, BlockKind.Leaf, codec), CorruptionError);
});

test('an encrypted block moves by being sealed again, since its offset is authenticated', () => {
  const enc = new StoreCodec('zstd', 3, KeyRing.create(resolveKeySource(crypto.randomBytes(32))));
  const { bytes, ref } = sealBlock(prepareBlock(BlockKind.Value, payload, enc), 8192, 7, enc);
  const moved = prepareMove(bytes, 8192, 'f', ref.crc, BlockKind.Value, enc).seal(16384, 9);
  assert.deepEqual(Buffer.from(openBlock(moved.bytes, 16384, 'f', moved.ref.crc, BlockKind.Value, enc).payload), payload);
});

test('a block is not moved unless it is intact and the one its parent names', () => {
  const { bytes, ref } = sealed(8192);
  bytes[30] = (bytes[30]! ^ 1) & 0xff;
  assert.throws(() => prepareMove(bytes, 8192, 'f', ref.crc, BlockKind.Leaf, codec), CorruptionError);
  const fresh = sealed(8192);
  assert.throws(() => prepareMove(fresh.bytes, 8192, 'f', fresh.ref.crc ^ 1, BlockKind.Leaf, codec), CorruptionError);
  assert.throws(() => prepareMove(fresh.bytes, 8192, 'f', fresh.ref.crc, BlockKind.Value, codec), CorruptionError);
});
