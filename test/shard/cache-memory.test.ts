/**
 * The node cache's budget is what bounds a long ingest's memory, so the bytes it charges must be the
 * bytes its nodes keep alive. A fold packs new leaves into shared 1 MiB slabs; a leaf that stayed in
 * its slab after its checkpoint stored it kept the whole slab alive from the cache, and a 2M-event
 * audit ingest peaked at 1.1 GiB resident with a 256 MiB cache. This test looks inside the cache.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Database } from '../../src/index.js';
import type { LeafNode, Node } from '../../src/btree/node.js';
import { retainedSlabBytesDropped } from '../../src/util/retained-memory.js';
import { tmpDir } from '../support/tmp.js';

interface CacheInternals {
  core: { store: { cache: { map: Map<number, Node> } }; budget: { used: number } };
}

/** Distinct backing stores reachable from the cached nodes, in bytes. */
function bytesKeptAlive(db: Database): { kept: number; charged: number; leaves: number } {
  const core = (db as unknown as CacheInternals).core;
  const buffers = new Set<ArrayBufferLike>();
  let leaves = 0;
  for (const node of core.store.cache.map.values()) {
    if (!node.isLeaf) continue;
    leaves++;
    buffers.add(node.data.buffer);
    buffers.add(node.offs.buffer);
  }
  let kept = 0;
  for (const b of buffers) kept += b.byteLength;
  return { kept, charged: core.budget.used, leaves };
}

/**
 * Twelve commits of 4,000 random keys, each checkpointed: every checkpoint rewrites leaves all over
 * the tree, so the cache ends up holding leaves from many different folds, as in a long ingest with
 * secondary indexes.
 */
function foldRandomKeys(db: Database, seed: number): void {
  const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let round = 0; round < 12; round++) {
    db.write((tx) => {
      for (let i = 0; i < 4000; i++) tx.put(Buffer.from(`k${next().toString(16).padStart(8, '0')}`), Buffer.from(`v${round}-${i}`));
    });
    db.checkpoint();
  }
}

test('leaves a checkpoint stores keep no more memory alive in the node cache than the cache charges for them', (t) => {
  const dir = tmpDir(t, 'cache-memory');
  const db = Database.open(dir, { durability: 'none', cacheSizeBytes: 4 << 20, compression: 'none' });
  try {
    foldRandomKeys(db, 7);
    const { kept, charged, leaves } = bytesKeptAlive(db);
    assert.ok(leaves > 50, `the cache holds stored leaves (${leaves})`);
    assert.ok(kept <= charged, `cached leaves keep ${kept} bytes alive but the cache charges ${charged}`);
    assert.ok(charged <= 4 << 20, `the cache charges ${charged} bytes, over its 4 MiB budget`);
  } finally {
    db.close();
  }
});

test('the slabs of leaves the node cache lets go of are reported dropped, and cached fold leaves live in shared memory', (t) => {
  const dir = tmpDir(t, 'cache-slabs');
  const db = Database.open(dir, { durability: 'none', cacheSizeBytes: 4 << 20, compression: 'none' });
  try {
    const before = retainedSlabBytesDropped();
    foldRandomKeys(db, 11);
    const core = (db as unknown as CacheInternals).core;
    const slabLeaves = [...core.store.cache.map.values()].filter((n): n is LeafNode => n.isLeaf && n.slab !== null);
    assert.ok(slabLeaves.length > 0, 'the cache holds leaves a fold packed');
    assert.ok(slabLeaves.every((n) => n.data.buffer instanceof SharedArrayBuffer));
    // Twelve folds of random keys through a 4 MiB cache: most slabs came and went.
    const dropped = retainedSlabBytesDropped() - before;
    assert.ok(dropped >= 8 << 20, `only ${dropped} bytes of slabs were reported dropped`);
    assert.equal(dropped % (1 << 20), 0, 'slabs are reported whole (1 MiB each here)');
  } finally {
    db.close();
  }
});
