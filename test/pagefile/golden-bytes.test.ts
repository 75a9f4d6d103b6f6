/**
 * Pins the on-disk format to exact bytes. These vectors are quoted in docs/format.md; a change here
 * is a format change, which needs a new FORMAT_VERSION and a note in that document.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreCodec } from '../../src/codec/store-codec.js';
import { makeBranch } from '../../src/btree/branch.js';
import { insertEntry } from '../../src/btree/leaf.js';
import { encodeBranch, encodeLeaf, decodeLeaf, decodeBranch } from '../../src/btree/node-codec.js';
import { BlobValue, LeafNode } from '../../src/btree/node.js';
import { prepareBlock, sealBlock } from '../../src/pagefile/block.js';
import { encodeFreelist, decodeFreelist } from '../../src/pagefile/freelist-codec.js';
import { decodeHeaderSlot, encodeHeaderSlot, type HeaderSlot } from '../../src/pagefile/header-slot.js';
import { BlockKind } from '../../src/pagefile/layout.js';
import { decodeCatalog, encodeCatalog } from '../../src/shard/data/catalog.js';
import { CommitLog, decodeCommit } from '../../src/wal/commit-payload.js';
import { encodeRecord } from '../../src/wal/record-format.js';
import { decodeSegmentHeader, encodeSegmentHeader } from '../../src/wal/segment-format.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Buffer => Buffer.from(h, 'hex');

test('a header slot encodes to the documented bytes and decodes back', () => {
  const slot: HeaderSlot = {
    pageSize: 4096,
    databaseId: 0x0102030405,
    seq: 7,
    checkpointTxn: 42,
    fileEnd: 8192 + 640,
    catalog: { offset: 8192 + 512, length: 64, crc: 0xdeadbeef },
    freelist: { offset: 8192 + 576, length: 64, crc: 0x01020304 },
    walSegment: 3,
    walOffset: 4096 + 100,
    flags: 0,
    keyId: 0,
    keyRing: [],
  };
  const b = encodeHeaderSlot(slot);
  assert.equal(b.length, 4096);
  assert.equal(
    hex(b.subarray(0, 100)),
    '52444241554449540100000000100000050403020100000007000000000000002a000000000000008022000000000000' +
      '002200000000000040000000efbeadde402200000000000040000000040302010300000000000000641000000000000000000000',
  );
  assert.ok(b.subarray(100, 4092).every((x) => x === 0));
  assert.equal(hex(b.subarray(4092)), 'd6d8ab05');
  assert.deepEqual(decodeHeaderSlot(b), { state: 'valid', slot });
});

test('a leaf payload and its block encode to the documented bytes', () => {
  const leaf = LeafNode.empty(1);
  insertEntry(leaf, 0, Buffer.from('apple'), Buffer.from('red'));
  insertEntry(leaf, 1, Buffer.from('kiwi'), Buffer.from(''));
  const payload = encodeLeaf(leaf);
  assert.equal(hex(payload), '020005006170706c65000300000072656404006b6977690000000000');
  const codec = new StoreCodec('none', 1, null);
  const { bytes: block, ref } = sealBlock(prepareBlock(BlockKind.Leaf, payload, codec), 8192, 42, codec);
  assert.equal(
    hex(block),
    '010000001c0000001c000000cd6f11a12a00000000000000020005006170706c65000300000072656404006b6977690000000000000000000000000000000000',
  );
  assert.deepEqual(ref, { offset: 8192, length: 64, crc: 0xa1116fcd });
  assert.equal(decodeLeaf(payload, ref).count, 2);
});

test('a branch payload encodes to the documented bytes', () => {
  const refs = [
    { offset: 8192, length: 64, crc: 0x11223344 },
    { offset: 8256, length: 128, crc: 0x55667788 },
  ];
  const payload = encodeBranch(makeBranch([Buffer.from('b')], [null, null], refs, 1));
  assert.equal(hex(payload), '02000020000000000000400000004433221140200000000000008000000088776655010062');
  assert.deepEqual([...decodeBranch(payload, refs[0]!).refs], refs);
});

test('freelist and catalog payloads encode to the documented bytes', () => {
  const extents = [
    { offset: 8192 + 128, length: 64 },
    { offset: 8192 + 1024, length: 256 },
  ];
  assert.equal(hex(encodeFreelist(extents)), '0200000002010d04');
  assert.deepEqual(decodeFreelist(bytes('0200000002010d04'), 1 << 20), extents);
  const tables = [{ name: 'default', count: 2, root: { offset: 8192, length: 64, crc: 0xaabbccdd } }];
  const catalog = '01000000070064656661756c740200000000000000002000000000000040000000ddccbbaa';
  assert.equal(hex(encodeCatalog(tables)), catalog);
  assert.deepEqual(decodeCatalog(bytes(catalog)), tables);
});

test('a WAL segment header, commit payload and record encode to the documented bytes', () => {
  const header = { databaseId: 0x0102030405, segment: 3, prevEnd: 8192, capacity: 16 << 20 };
  const h = encodeSegmentHeader(header);
  assert.equal(hex(h), '52444257414c303101000000000000000504030201000000030000000000000000200000000000000000000100000000000000000000000000000000bf781480');
  assert.deepEqual(decodeSegmentHeader(h), header);
  const log = new CommitLog(new Uint8Array(16));
  log.put('default', Buffer.from('k'), Buffer.from('v'));
  log.delete('events', Buffer.from('x'));
  assert.equal(hex(log.payload()), '01016b017605066576656e7473020178');
  assert.equal((decodeCommit(log.payload()) as unknown[]).length, 2);
  const record = encodeRecord(3, { txn: 43, durableTxn: 42, flags: 0, kind: 1, keyId: 0, rawLength: 16 }, log.payload());
  assert.equal(hex(record), '10000000b8c800542b000000000000002a00000000000000000100001000000001016b017605066576656e7473020178');
});

test('a header slot of an encrypted store records its key ring in the documented bytes', () => {
  const slot: HeaderSlot = {
    pageSize: 4096,
    databaseId: 1,
    seq: 2,
    checkpointTxn: 3,
    fileEnd: 8192,
    catalog: null,
    freelist: null,
    walSegment: 1,
    walOffset: 4096,
    flags: 1,
    keyId: 2,
    keyRing: [
      { id: 1, kdf: 0, salt: new Uint8Array(16), kcv: new Uint8Array(16).fill(0xaa) },
      { id: 2, kdf: 1, salt: new Uint8Array(16).fill(0x11), kcv: new Uint8Array(16).fill(0xbb) },
    ],
  };
  const b = encodeHeaderSlot(slot);
  assert.equal(
    hex(b.subarray(96, 176)),
    '01000000020002000100000000000000000000000000000000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' +
      '0200010011111111111111111111111111111111bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  );
  assert.equal(hex(b.subarray(4092)), 'beb2ec4d');
  assert.deepEqual(decodeHeaderSlot(b), { state: 'valid', slot });
});

test('a deduplicated value is a 32-byte hash in its leaf and a put-blob operation in the WAL', () => {
  const hash = new Uint8Array(32).fill(0xcd);
  const leaf = LeafNode.empty(1);
  insertEntry(leaf, 0, Buffer.from('doc'), new BlobValue(hash, 5000));
  assert.equal(hex(encodeLeaf(leaf)), '01000300646f630288130000' + 'cd'.repeat(32));
  const log = new CommitLog(new Uint8Array(8));
  log.putBlob('default', Buffer.from('k'), hash, 5000);
  assert.equal(hex(log.payload()), '06016b' + 'cd'.repeat(32) + '8827');
  const [op] = decodeCommit(log.payload()) as { op: number; length: number }[];
  assert.deepEqual([op!.op, op!.length], [6, 5000]);
});
