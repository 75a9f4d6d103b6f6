import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { KeyRing } from '../../src/codec/key-ring.js';
import { resolveKeySource } from '../../src/codec/key-source.js';
import { StoreCodec } from '../../src/codec/store-codec.js';
import { CorruptionError, Database, EncryptionKeyError } from '../../src/index.js';
import { blockChecksum, openBlock, prepareBlock, sealBlock } from '../../src/pagefile/block.js';
import { BlockKind } from '../../src/pagefile/layout.js';
import { enc, tmpDir } from '../support/tmp.js';

const MARKERS = ['MARKER-KEY-7f3a', 'MARKER-VALUE-91bc', 'MARKER-BLOB-44e0', 'MARKER-TABLE-0d1e', 'MARKER-BIG-c2aa'];

/** Writes every kind of unit the store has: inline values, out-of-line values, blobs, table names, WAL records. */
function writeMarkers(db: Database): void {
  db.write((tx) => {
    for (let i = 0; i < 50; i++) {
      tx.put(enc(`${MARKERS[0]}/${i}`), enc(`${MARKERS[1]} ${i}`));
      tx.table(MARKERS[3]!).put(enc(`k${i}`), enc(`${MARKERS[1]}`));
    }
    tx.put(enc('big'), Buffer.from(`${MARKERS[4]} `.repeat(200)));
    for (let i = 0; i < 3; i++) tx.put(enc(`blob${i}`), Buffer.from(`${MARKERS[2]} `.repeat(300)));
  });
}

/** Every file below `dir`, read whole. */
function allFiles(dir: string): { name: string; bytes: Buffer }[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map((f) => path.join(dir, f))
    .filter((p) => fs.statSync(p).isFile())
    .map((p) => ({ name: p, bytes: fs.readFileSync(p) }));
}

function markersFound(dirs: string[]): string[] {
  const found: string[] = [];
  for (const dir of dirs) {
    for (const f of allFiles(dir)) for (const m of MARKERS) if (f.bytes.includes(m)) found.push(`${m} in ${path.relative(dir, f.name)}`);
  }
  return found;
}

/** A store with data in the page file (checkpointed), in the WAL (committed after) and in a snapshot. */
async function populate(t: Parameters<typeof tmpDir>[0], options: Parameters<typeof Database.open>[1]): Promise<{ dirs: string[]; db: Database }> {
  const dir = tmpDir(t);
  const snapDir = tmpDir(t, 'snap');
  const db = Database.open(dir, { ...options, compression: 'none', checkpointIntervalMs: 0 });
  writeMarkers(db);
  db.checkpoint();
  writeMarkers(db);
  await db.snapshotTo(snapDir);
  return { dirs: [dir, snapDir], db };
}

test('with encryption on, no marker written in keys, values, blobs or table names appears in any file', async (t) => {
  const { dirs, db } = await populate(t, { encryption: { key: crypto.randomBytes(32) } });
  assert.ok(db.stats().walBytesSinceCheckpoint > 0, 'the WAL holds commits too');
  assert.deepEqual(markersFound(dirs), []);
  db.close();
  assert.deepEqual(markersFound(dirs), []);
});

test('with encryption off, the same scan finds the markers (so the scan can fail)', async (t) => {
  const { dirs, db } = await populate(t, {});
  const found = markersFound(dirs);
  for (const m of MARKERS) assert.ok(found.some((f) => f.startsWith(m)), `${m} not found: ${found.join(', ')}`);
  assert.ok(found.some((f) => f.includes('wal')), 'markers are in the WAL');
  assert.ok(found.some((f) => f.includes('data.redb')), 'markers are in the page file');
  db.close();
});

test('one flipped byte of ciphertext makes the read throw CorruptionError, never return other bytes', (t) => {
  const dir = tmpDir(t);
  const key = crypto.randomBytes(32);
  let db = Database.open(dir, { encryption: { key }, pageSize: 4096 });
  db.write((tx) => tx.put(enc('only'), Buffer.from('secret value '.repeat(10))));
  db.close();
  // The one leaf is the block after the header slots; flip a byte inside its ciphertext.
  const data = path.join(dir, 'data.redb');
  const bytes = fs.readFileSync(data);
  bytes[8192 + 24 + 20]! ^= 0x40;
  fs.writeFileSync(data, bytes);
  assert.throws(() => {
    db = Database.open(dir, { encryption: { key } });
    db.get(enc('only'));
  }, CorruptionError);
});

test('a wrong or missing key fails at open with EncryptionKeyError', (t) => {
  const dir = tmpDir(t);
  const key = crypto.randomBytes(32);
  Database.open(dir, { encryption: { key } }).close();
  assert.throws(() => Database.open(dir, { encryption: { key: crypto.randomBytes(32) } }), (e: unknown) => e instanceof EncryptionKeyError && /not a key of this store/.test(e.message));
  assert.throws(() => Database.open(dir), (e: unknown) => e instanceof EncryptionKeyError && /is encrypted/.test(e.message));
  const plain = tmpDir(t, 'plain');
  Database.open(plain).close();
  assert.throws(() => Database.open(plain, { encryption: { key } }), /created without encryption/);
  Database.open(dir, { encryption: { key } }).close();
});

test('a passphrase key opens the store again, and a wrong passphrase does not', (t) => {
  const dir = tmpDir(t);
  const db = Database.open(dir, { encryption: { key: { passphrase: 'correct horse battery staple' } } });
  db.write((tx) => tx.put(enc('k'), enc('v')));
  db.close();
  const again = Database.open(dir, { encryption: { key: { passphrase: 'correct horse battery staple' } } });
  assert.equal(again.get(enc('k'))?.toString(), 'v');
  again.close();
  assert.throws(() => Database.open(dir, { encryption: { key: { passphrase: 'wrong horse battery staple' } } }), EncryptionKeyError);
});

test('after rotateKey new data uses the new key, old data stays readable, and rekey retires the old key', (t) => {
  const dir = tmpDir(t);
  const k1 = crypto.randomBytes(32);
  const k2 = crypto.randomBytes(32);
  let db = Database.open(dir, { encryption: { key: k1 }, checkpointIntervalMs: 0 });
  db.write((tx) => tx.put(enc('old'), enc('under k1')));
  db.checkpoint();
  assert.equal(db.rotateKey(k2), 2);
  db.write((tx) => tx.put(enc('new'), enc('under k2')));
  assert.equal(db.get(enc('old'))?.toString(), 'under k1');
  db.close();
  // The store now holds data under both keys: the new one alone is refused, both together open it.
  assert.throws(() => Database.open(dir, { encryption: { key: k2 } }), /key id 1 unmatched/);
  db = Database.open(dir, { encryption: { key: k2, previousKeys: [k1] } });
  assert.equal(db.get(enc('old'))?.toString(), 'under k1');
  assert.equal(db.get(enc('new'))?.toString(), 'under k2');
  db.rekey();
  assert.ok(db.verify().ok);
  db.close();
  db = Database.open(dir, { encryption: { key: k2 } });
  assert.equal(db.get(enc('old'))?.toString(), 'under k1');
  db.close();
  assert.throws(() => Database.open(dir, { encryption: { key: k1 } }), EncryptionKeyError);
});

test('opening with a new key and every old one rotates at open', (t) => {
  const dir = tmpDir(t);
  const k1 = crypto.randomBytes(32);
  const k2 = crypto.randomBytes(32);
  let db = Database.open(dir, { encryption: { key: k1 } });
  db.write((tx) => tx.put(enc('a'), enc('1')));
  db.close();
  db = Database.open(dir, { encryption: { key: k2, previousKeys: [k1] } });
  db.write((tx) => tx.put(enc('b'), enc('2')));
  db.close();
  db = Database.open(dir, { encryption: { key: k2, previousKeys: [k1] } });
  assert.deepEqual([db.get(enc('a'))?.toString(), db.get(enc('b'))?.toString()], ['1', '2']);
  assert.ok(db.verify().ok);
  db.close();
});

test('ciphertext changed with its checksum fixed up is still refused: the GCM tag catches it', () => {
  const codec = new StoreCodec('zstd', 3, KeyRing.create(resolveKeySource(crypto.randomBytes(32))));
  const payload = Buffer.from('a leaf full of secrets '.repeat(20));
  const { bytes } = sealBlock(prepareBlock(BlockKind.Leaf, payload, codec), 8192, 1, codec);
  bytes[24 + 12 + 3]! ^= 0x01;
  // A forger who also recomputes the CRC gets past the checksum, but not past AES-GCM.
  const crc = blockChecksum(bytes, 8192);
  Buffer.from(bytes.buffer, bytes.byteOffset).writeUInt32LE(crc, 12);
  assert.throws(() => openBlock(bytes, 8192, 'data.redb', crc, BlockKind.Leaf, codec), (e: unknown) => e instanceof CorruptionError && /failed authentication/.test(e.message));
});
