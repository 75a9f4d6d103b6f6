/**
 * When freed blocks become reusable: after a durable checkpoint that no longer reaches them and once
 * no snapshot older than their txn is open. Blocks a fold drops have a txn for readers (the fold's
 * txn + 1) and a txn for checkpoints (the fold's own): the checkpoint written right after the fold
 * already leaves them out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExtentAllocator } from '../../../src/pagefile/allocator.js';
import { FreeSpace } from '../../../src/shard/durability/free-space.js';
import { Database } from '../../../src/index.js';
import { tmpDir } from '../../support/tmp.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';

function space(): FreeSpace {
  return new FreeSpace(new ExtentAllocator(1 << 20));
}

test('blocks a fold dropped are free once the checkpoint at the fold\'s txn is durable, not one checkpoint later', () => {
  const s = space();
  s.addFreed(11, [{ offset: 8192, length: 4096 }], 10);
  s.release(9, Infinity);
  assert.equal(s.allocator.freeBytes, 0, 'the checkpoint before the fold still reaches them');
  s.release(10, Infinity);
  assert.equal(s.allocator.freeBytes, 4096);
  assert.equal(s.pendingBytes, 0);
});

test('a snapshot at the fold\'s txn keeps the blocks the fold dropped', () => {
  const s = space();
  s.addFreed(11, [{ offset: 8192, length: 4096 }], 10);
  s.release(10, 10);
  assert.equal(s.allocator.freeBytes, 0);
  s.release(10, 11);
  assert.equal(s.allocator.freeBytes, 4096);
});

test('a commit\'s frees at the same reader txn as a fold\'s wait for a checkpoint at that commit', () => {
  const s = space();
  s.addFreed(11, [{ offset: 8192, length: 4096 }], 10);
  s.addFreed(11, [{ offset: 16384, length: 4096 }]);
  s.release(10, Infinity);
  assert.deepEqual(s.allocator.extents(), [{ offset: 8192, length: 4096 }]);
  assert.equal(s.pendingBytes, 4096);
  s.release(11, Infinity);
  assert.equal(s.allocator.freeBytes, 8192);
});

test('rewriting random keys over many checkpoints keeps the page file under twice and a half its live size', (t) => {
  const dir = tmpDir(t, 'free-space-reuse');
  const db = Database.open(dir, { checkpointIntervalMs: 0, compactOnClose: false, compression: 'none' });
  let x = 12345;
  const rnd = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const value = new Uint8Array(100).fill(7);
  for (let round = 0; round < 8; round++) {
    db.write((tx) => {
      for (let i = 0; i < 4000; i++) {
        const k = new Uint8Array(16);
        new DataView(k.buffer).setUint32(0, rnd() % 20000);
        tx.put(k, value);
      }
    });
    db.checkpoint();
  }
  const size = statSync(join(dir, 'data.redb')).size;
  db.compact();
  const live = statSync(join(dir, 'data.redb')).size;
  db.close();
  // Each checkpoint rewrites about every leaf: the file holds the live tree and the one before it
  // (which the older header slot reaches), plus the space of partly filled extents.
  assert.ok(size < 2.5 * live, `page file ${size} bytes for ${live} live bytes`);
});

test('a free list of half a million extents is persisted (no argument spread over the stack)', () => {
  const s = space();
  const many = Array.from({ length: 500_000 }, (_, i) => ({ offset: 8192 + i * 8192, length: 4096 }));
  s.addFreed(5, many.slice(0, 250_000));
  s.addFreed(5, many.slice(250_000));
  const list = s.persistedFreeList(many.slice(0, 1).map((e) => ({ offset: e.offset + 4096, length: 4096 })));
  assert.equal(list.length, 499_999, 'the extra extent joins the first one, every other extent stays apart');
  assert.equal(s.pendingBytes, 500_000 * 4096);
});
