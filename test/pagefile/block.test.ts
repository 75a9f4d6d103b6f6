import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreCodec } from '../../src/codec/store-codec.js';
import { CorruptionError } from '../../src/errors.js';
import { openBlock, prepareBlock, sealBlock } from '../../src/pagefile/block.js';
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
