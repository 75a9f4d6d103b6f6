import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { compressionPool } from '../../src/codec/compression-pool.js';
import { StoreCodec } from '../../src/codec/store-codec.js';
import { Database } from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';

const zstd = new StoreCodec('zstd', 3, null);

/** Text-like bytes that compress, `n` long, different for each `seed`. */
function compressible(n: number, seed: number): Uint8Array {
  const words = ['tenant', 'actor', 'record.update', 'success', String(seed), 'resource'];
  const out = new Uint8Array(n);
  for (let i = 0, w = seed; i < n; w = (w * 31 + 7) % 997) {
    const word = words[w % words.length]!;
    for (let j = 0; j < word.length && i < n; j++) out[i++] = word.charCodeAt(j);
    if (i < n) out[i++] = 32;
  }
  return out;
}

async function poolWithReadyWorker(): Promise<ReturnType<typeof compressionPool>> {
  const pool = compressionPool(1);
  for (let i = 0; i < 500 && pool.stats().ready === 0; i++) await sleep(10);
  assert.ok(pool.stats().ready >= 1, 'a worker started');
  return pool;
}

test('payloads compressed on the pool, its worker included, decompress to what went in, round after round', async () => {
  const pool = await poolWithReadyWorker();
  const before = pool.stats().jobsByWorkers;
  for (let round = 0; round < 30; round++) {
    // Compressible pages, incompressible ones, and enough of them to need several rounds at times.
    const payloads: Uint8Array[] = [];
    const count = round % 5 === 4 ? 1500 : 1 + round * 7;
    for (let i = 0; i < count; i++) payloads.push(i % 9 === 8 ? randomBytes(3000) : compressible(1000 + ((i * 977) % 12000), round * 1000 + i));
    const results = pool.compressAll(payloads, 3);
    assert.equal(results.length, payloads.length);
    for (let i = 0; i < payloads.length; i++) {
      const r = results[i];
      if (i % 9 === 8) {
        assert.equal(r, null, `random payload ${i} of round ${round} is left uncompressed`);
        continue;
      }
      assert.ok(r && r.length < payloads[i]!.length, `payload ${i} of round ${round} got smaller`);
      assert.deepEqual(zstd.open(1, 0, r, payloads[i]!.length, new Uint8Array(0)), payloads[i], `payload ${i} of round ${round} round-trips`);
    }
  }
  assert.ok(pool.stats().jobsByWorkers > before, 'the worker compressed some of the payloads');
});

test('a payload larger than a round is compressed by the caller and still comes back in its place', () => {
  const big = compressible(5 << 20, 1);
  const small = compressible(5000, 2);
  const [a, b, c] = compressionPool(1).compressAll([small, big, small], 3);
  assert.deepEqual(zstd.open(1, 0, a!.slice(), small.length, new Uint8Array(0)), small);
  assert.deepEqual(zstd.open(1, 0, b!, big.length, new Uint8Array(0)), big);
  assert.deepEqual(zstd.open(1, 0, c!, small.length, new Uint8Array(0)), small);
});

test('a round started now and taken later gives its results, and no second round starts before it is taken', () => {
  const pool = compressionPool(1);
  const payloads = Array.from({ length: 64 }, (_, i) => compressible(4096, i));
  const started = pool.start(payloads, 3);
  assert.throws(() => pool.start(payloads, 3), /started before the previous one was taken/);
  let busyWork = 0;
  for (let i = 0; i < 1e5; i++) busyWork += i % 7;
  assert.ok(busyWork > 0);
  const results = started.take();
  for (let i = 0; i < payloads.length; i++) assert.deepEqual(zstd.open(1, 0, results[i]!, 4096, new Uint8Array(0)), payloads[i]);
  // Taken: the pool is free again.
  assert.equal(pool.compressAll([payloads[0]!], 3).length, 1);
});

test('a store checkpointed with compression threads, encrypted or not, reads back what one without them does, and verifies clean', async (t) => {
  await poolWithReadyWorker();
  const contents: string[][] = [];
  const key = randomBytes(32);
  // Encrypted too: sealing reads the compressed bytes from the pool's shared memory.
  for (const [compressionThreads, encrypted] of [[0, false], [2, false], [2, true]] as const) {
    const dir = tmpDir(t);
    const keyed = encrypted ? { encryptionEnabled: true, encryptionKey: key } : {};
    let db = Database.open(dir, { compressionThreads, checkpointIntervalMs: 0, durability: 'none', ...keyed });
    for (let c = 0; c < 20; c++) {
      db.write((tx) => {
        for (let i = 0; i < 2000; i++) {
          const k = (i * 7919 + c * 104729) % 1_000_003;
          if (c % 7 === 6 && i % 3 === 0) tx.remove(Buffer.from(`key-${k.toString().padStart(8, '0')}`));
          else tx.put(Buffer.from(`key-${k.toString().padStart(8, '0')}`), compressible(40 + (k % 200), k + c));
        }
      });
      if (c % 5 === 4) db.checkpoint();
    }
    db.close();
    db = Database.open(dir, { compressionThreads, ...keyed });
    assert.ok(db.verify().ok, `the store written with ${compressionThreads} threads${encrypted ? ', encrypted,' : ''} verifies clean`);
    const rows: string[] = [];
    for (const { key, value } of db.range()) rows.push(`${Buffer.from(key).toString()}=${Buffer.from(value).toString('base64')}`);
    db.close();
    contents.push(rows);
    assert.ok(fs.statSync(path.join(dir, 'data.redb')).size > 1 << 20, 'the store holds more than a megabyte');
  }
  assert.ok(contents[0]!.length > 30_000);
  assert.deepEqual(contents[1], contents[0]);
  assert.deepEqual(contents[2], contents[0]);
});

test('compressionThreads is checked like every option', () => {
  assert.throws(() => Database.open('/nonexistent-dir-never-created', { compressionThreads: -1 }), /option compressionThreads must be an integer from 0 to 8, got -1/);
  assert.throws(() => Database.open('/nonexistent-dir-never-created', { compressionThreads: 1.5 }), /option compressionThreads must be an integer from 0 to 8/);
});
