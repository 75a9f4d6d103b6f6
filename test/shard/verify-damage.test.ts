/**
 * verify() under single-byte damage: whatever byte of live data is flipped underneath an open store
 * (a block of the newest checkpoint, a block only the fallback header slot still reaches, or a WAL
 * record recovery could replay), verify returns a report, never throws, and reports ok: false.
 * The store has commits waiting in its memtables, so verify must also survive a fold that meets the
 * damage.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Database } from '../../src/index.js';
import { CacheBudget, NodeCache } from '../../src/btree/node-cache.js';
import { NodeStore } from '../../src/btree/node-store.js';
import { BranchNode, ValueTag } from '../../src/btree/node.js';
import { valueRefAt, valueTagAt } from '../../src/btree/leaf.js';
import { StoreCodec } from '../../src/codec/store-codec.js';
import { nodeFileIO } from '../../src/io/node-file-io.js';
import { decodeFreelist } from '../../src/pagefile/freelist-codec.js';
import type { HeaderSlot } from '../../src/pagefile/header-slot.js';
import { BlockKind, type BlockRef } from '../../src/pagefile/layout.js';
import { PageFile } from '../../src/pagefile/page-file.js';
import { decodeCatalog } from '../../src/shard/data/catalog.js';
import { mapWal } from '../support/corruption-harness.js';
import { tmpDir } from '../support/tmp.js';

const OPTIONS = { pageSize: 512, compression: 'none' as const, checkpointIntervalMs: 0, checkpointWalBytes: 2 ** 40, dedupThreshold: 600, durability: 'none' as const };

interface Span {
  what: string;
  file: string;
  offset: number;
  length: number;
}

/** Every block a header slot reaches: catalog, tree nodes, out-of-line values, freelist. */
function blocksOf(file: PageFile, slot: HeaderSlot): Span[] {
  const store = new NodeStore(file, new NodeCache(new CacheBudget(1 << 26)));
  const out: Span[] = [];
  const add = (ref: BlockRef, what: string): void => void out.push({ what, file: file.path, offset: ref.offset, length: ref.length });
  if (slot.catalog) {
    add(slot.catalog, 'catalog');
    const tables = decodeCatalog(file.readBlock(slot.catalog, BlockKind.Catalog).payload);
    assert.ok(Array.isArray(tables));
    const walk = (ref: BlockRef, table: string): void => {
      const node = store.readNode(ref);
      add(ref, `${node instanceof BranchNode ? 'branch' : 'leaf'} of ${table}`);
      if (node instanceof BranchNode) for (const r of node.refs) walk(r!, table);
      else for (let i = 0; i < node.count; i++) if (valueTagAt(node, i) === ValueTag.OutOfLine) add(valueRefAt(node, i)!, `value of ${table}`);
    };
    for (const t of tables) if (t.root) walk(t.root, t.name);
  }
  if (slot.freelist) {
    add(slot.freelist, 'freelist');
    assert.ok(Array.isArray(decodeFreelist(file.readBlock(slot.freelist, BlockKind.Freelist).payload, slot.fileEnd)));
  }
  return out;
}

/**
 * A crash image: batch A, checkpoint, batch B, then the files copied while the store is still open.
 * Each trial opens it (replaying B), checkpoints (so the fallback slot is the image's checkpoint,
 * which this process knows intact), and commits batch C, which waits in the memtable.
 */
function buildImage(dir: string, image: string): void {
  const db = Database.open(dir, OPTIONS);
  batch(db, 0, 20);
  db.checkpoint();
  batch(db, 800, 10);
  fs.cpSync(dir, image, { recursive: true });
  db.close();
  for (const lock of ['lock', 'lock.owner']) fs.rmSync(path.join(image, lock), { recursive: true, force: true });
}

function batch(db: Database, first: number, commits: number): void {
  let n = first;
  for (let c = 0; c < commits; c++) {
    db.write((tx) => {
      for (let i = 0; i < 40; i++, n++) {
        const key = Buffer.from(`key/${String((n * 7919) % 5000).padStart(5, '0')}`);
        const size = n % 17 === 0 ? 700 : n % 5 === 0 ? 300 : 20;
        tx.table(n % 3 === 0 ? 'events' : 'default').put(key, Buffer.alloc(size, `v${n % 11}`));
      }
    });
  }
}

/** Where single-byte damage must be caught: newest blocks, fallback-only blocks, WAL records. */
function damageTargets(dir: string): Span[][] {
  const file = PageFile.open(nodeFileIO, path.join(dir, 'data.redb'), new StoreCodec('none', 1, null), 0, true);
  try {
    const slots = [file.readSlot(0), file.readSlot(1)].map((r) => (r.state === 'valid' ? r.slot : null));
    assert.ok(slots[0] && slots[1], 'both header slots hold checkpoints');
    const [older, newer] = [slots[0]!, slots[1]!].sort((a, b) => a.seq - b.seq) as [HeaderSlot, HeaderSlot];
    assert.ok(older.checkpointTxn < newer.checkpointTxn);
    const live = blocksOf(file, newer);
    const liveAt = new Set(live.map((b) => b.offset));
    const fallback = blocksOf(file, older).filter((b) => !liveAt.has(b.offset));
    const wal = mapWal(path.join(dir, 'wal'), { segment: older.walSegment, offset: older.walOffset }).map((r) => ({
      what: `WAL record txn ${r.txn}${r.txn <= newer.checkpointTxn ? ' (before the newest checkpoint)' : ''}`,
      file: r.file,
      offset: r.start,
      length: r.length,
    }));
    assert.ok(fallback.length > 0, 'the fallback checkpoint reaches blocks of its own');
    assert.ok(wal.some((w) => w.what.includes('before the newest checkpoint')), 'the fallback slot needs WAL records before the newest checkpoint');
    return [live, fallback, wal];
  } finally {
    file.close();
  }
}

test('verify reports every single-byte flip in live data, the fallback checkpoint and the WAL, and never throws', (t) => {
  const base = tmpDir(t, 'verify-flip');
  const image = path.join(base, 'image');
  buildImage(path.join(base, 'store'), image);
  let trial = 0;
  const run = fc.check(
    fc.property(
      fc.nat({ max: 2 }),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      fc.integer({ min: 1, max: 255 }),
      (kind, pick, where, mask) => {
        const dir = path.join(base, `trial-${trial++}`);
        fs.cpSync(image, dir, { recursive: true });
        try {
          const db = Database.open(dir, OPTIONS);
          try {
            db.checkpoint();
            batch(db, 1200, 10);
            const spans = damageTargets(dir)[kind]!;
            const span = spans[Math.floor(pick * spans.length)]!;
            const at = span.offset + Math.floor(where * span.length);
            const fd = fs.openSync(span.file, 'r+');
            const b = Buffer.alloc(1);
            fs.readSync(fd, b, 0, 1, at);
            b[0]! ^= mask;
            fs.writeSync(fd, b, 0, 1, at);
            fs.closeSync(fd);
            let report;
            try {
              report = db.verify();
            } catch (err) {
              assert.fail(`verify threw for a flip in ${span.what} at ${at}: ${(err as Error).message}`);
            }
            assert.equal(report.ok, false, `verify found nothing wrong after a flip in ${span.what} at ${at}`);
          } finally {
            try {
              db.close();
            } catch {
              // Closing over damage may fail; the trial is about verify.
            }
          }
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      },
    ),
    { numRuns: 150, seed: 20261204 },
  );
  // The counterexample's own message says which span and byte, and what verify did.
  if (run.failed) assert.fail(`after ${run.numRuns} trials: ${(run.errorInstance as Error | undefined)?.message ?? String(run.errorInstance)}`);
});
