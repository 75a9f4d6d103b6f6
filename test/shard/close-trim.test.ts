/**
 * Close-time trim (src/shard/maintenance/trim.ts): when the close's checkpoint leaves holes worth a
 * tenth of the page file, close moves the blocks past where a dense file would end into them and
 * cuts the file, and everything reads back after a reopen with verify() clean.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Database, type DatabaseOptions } from '../../src/index.js';
import { noiseBytes } from '../support/noise.js';
import { tmpDir } from '../support/tmp.js';

const KEYS = 24_000;
const BASE = { checkpointIntervalMs: 0 } satisfies DatabaseOptions;

const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(6, '0')}`);

/** A value that does not compress, distinct per key and round (round < 4). */
function value(i: number, round: number, size: number): Buffer {
  return noiseBytes(i * 4 + round, size);
}

/**
 * Writes KEYS entries and checkpoints, then overwrites a contiguous third of them: the close's
 * checkpoint writes the new leaves (and values) at the end of the file and leaves the replaced ones
 * as holes in the middle, about a quarter of the file: more than a trim needs, less than a compaction.
 * Every `big`-th value is `bigSize` bytes (out of line). The holes must exceed 1 MiB to be trimmed. Returns what every key must read back as.
 */
function holeyStore(dir: string, options: DatabaseOptions, big = 0, bigSize = 3000): { db: Database; expected: Map<string, Buffer> } {
  const expected = new Map<string, Buffer>();
  const size = (i: number): number => (big > 0 && i % big === 0 ? bigSize : 150);
  const db = Database.open(dir, { ...BASE, ...options });
  db.write((tx) => {
    for (let i = 0; i < KEYS; i++) {
      const v = value(i, 0, size(i));
      tx.put(key(i), v);
      expected.set(key(i).toString(), v);
    }
  });
  db.checkpoint();
  db.write((tx) => {
    for (let i = KEYS / 3; i < (2 * KEYS) / 3; i++) {
      const v = value(i, 1, size(i));
      tx.put(key(i), v);
      expected.set(key(i).toString(), v);
    }
  });
  return { db, expected };
}

function pageFileBytes(dir: string): number {
  return fs.statSync(path.join(dir, 'data.redb')).size;
}

/** Reopens, checks every entry and verify(), and returns the reopened store's free bytes. */
function assertReadsBack(dir: string, expected: Map<string, Buffer>, options: DatabaseOptions = {}): { freeBytes: number; pageFileBytes: number } {
  const db = Database.open(dir, { ...BASE, ...options, compactOnClose: false });
  try {
    assert.ok(db.recovery.cleanShutdown, 'the close was not clean');
    assert.equal(db.count(), expected.size);
    for (const [k, v] of expected) {
      const got = db.get(Buffer.from(k));
      // Buffer.equals first: deepEqual on each of 24,000 entries cost more than the reads.
      if (!(Buffer.isBuffer(got) && got.equals(v))) assert.deepEqual(got, v, `wrong value for ${k}`);
    }
    const report = db.verify();
    assert.ok(report.ok, `verify after the trim: ${JSON.stringify(report.issues.slice(0, 3))}`);
    const st = db.stats();
    return { freeBytes: st.freeBytes, pageFileBytes: st.pageFileBytes };
  } finally {
    db.close();
  }
}

/** The same holey store closed with and without the trim; returns both page file sizes. */
function closeBoth(t: Parameters<typeof tmpDir>[0], options: DatabaseOptions, big = 0, bigSize = 3000): { trimmed: number; untrimmed: number; dir: string; expected: Map<string, Buffer> } {
  const plainDir = tmpDir(t, 'untrimmed');
  holeyStore(plainDir, { ...options, compactOnClose: false }, big, bigSize).db.close();
  const dir = tmpDir(t, 'trimmed');
  const { db, expected } = holeyStore(dir, { ...options, compactOnClose: true }, big, bigSize);
  db.close();
  return { trimmed: pageFileBytes(dir), untrimmed: pageFileBytes(plainDir), dir, expected };
}

test('close moves the blocks past the live size into the holes its checkpoint left, and cuts the file', (t) => {
  const { trimmed, untrimmed, dir, expected } = closeBoth(t, {});
  const after = assertReadsBack(dir, expected);
  t.diagnostic(`page file: ${untrimmed} bytes without the trim, ${trimmed} with it (${after.freeBytes} free)`);
  assert.equal(after.pageFileBytes, trimmed);
  assert.ok(trimmed < untrimmed * 0.85, `the trim left ${trimmed} of ${untrimmed} bytes`);
  // What stays free is about the slack the trim keeps for what it rewrites: 256 KiB at this size.
  assert.ok(after.freeBytes <= 320 << 10, `${after.freeBytes} bytes are still free after the trim`);
});

test('blocks moved in several batches read back whole: each batch reuses the buffer the one before it wrote from', (t) => {
  // Every value 1,400 bytes: the overwritten third is about 11 MB of new blocks past the cut, more
  // than one 8 MiB batch of moves.
  const { trimmed, untrimmed, dir, expected } = closeBoth(t, {}, 1, 1400);
  assertReadsBack(dir, expected);
  assert.ok(untrimmed - trimmed > 8 << 20, `the trim cut ${untrimmed - trimmed} bytes: too few for a second batch`);
  t.diagnostic(`the trim cut ${untrimmed - trimmed} bytes`);
});

test('out-of-line values past the cut move too, and the leaves naming them are rewritten', (t) => {
  for (const dedupEnabled of [true, false]) {
    const { trimmed, untrimmed, dir, expected } = closeBoth(t, { dedupEnabled }, 20);
    const after = assertReadsBack(dir, expected);
    assert.ok(trimmed < untrimmed * 0.85, `dedup ${dedupEnabled}: the trim left ${trimmed} of ${untrimmed} bytes`);
    assert.ok(after.freeBytes <= 320 << 10, `dedup ${dedupEnabled}: ${after.freeBytes} bytes are still free after the trim`);
  }
});

test('an encrypted store is trimmed by sealing the moved blocks again at their new offsets', (t) => {
  const options = { encryptionEnabled: true, encryptionKey: crypto.randomBytes(32) } satisfies DatabaseOptions;
  const { trimmed, untrimmed, dir, expected } = closeBoth(t, options, 20);
  assertReadsBack(dir, expected, options);
  assert.ok(trimmed < untrimmed * 0.85, `the trim left ${trimmed} of ${untrimmed} bytes`);
});

test('with compactOnClose off, close leaves the page file as its checkpoint wrote it', (t) => {
  const dir = tmpDir(t);
  const { db, expected } = holeyStore(dir, { compactOnClose: false });
  db.close();
  const after = assertReadsBack(dir, expected);
  assert.ok(after.freeBytes > after.pageFileBytes / 5, `only ${after.freeBytes} of ${after.pageFileBytes} bytes are free: the workload left no holes to trim`);
});

test('a snapshot still open at close keeps the trim from moving the blocks it reads', (t) => {
  const dir = tmpDir(t);
  const { db, expected } = holeyStore(dir, { compactOnClose: true });
  const snap = db.read();
  db.close();
  const after = assertReadsBack(dir, expected);
  assert.ok(after.freeBytes > after.pageFileBytes / 5, 'the file was trimmed under an open snapshot');
  assert.throws(() => snap.get(key(0)));
});

test('a session without commits does not trim; the next one with a commit does', (t) => {
  // Moved blocks carry the checkpoint's txn, and incremental backups tell blocks apart by offset and
  // txn: a second trim at the same txn could put a different block where one of that txn was.
  const dir = tmpDir(t);
  const { db, expected } = holeyStore(dir, { compactOnClose: false });
  db.close();
  const untrimmed = pageFileBytes(dir);
  Database.open(dir, { ...BASE, compactOnClose: true }).close();
  assert.equal(pageFileBytes(dir), untrimmed, 'a close with no commit since the open trimmed the file');
  const again = Database.open(dir, { ...BASE, compactOnClose: true });
  again.write((tx) => tx.put(key(0), expected.get(key(0).toString())!));
  again.close();
  assert.ok(pageFileBytes(dir) < untrimmed * 0.85, 'the close after a commit did not trim');
  assertReadsBack(dir, expected);
});

test('both header slots describe the trimmed checkpoint, so either one opens the store alone', (t) => {
  const dir = tmpDir(t);
  const { db, expected } = holeyStore(dir, { compactOnClose: true });
  db.close();
  const file = path.join(dir, 'data.redb');
  const pristine = fs.readFileSync(file);
  for (const damaged of [0, 1]) {
    const bytes = Buffer.from(pristine);
    bytes[damaged * 4096 + 200] = (bytes[damaged * 4096 + 200]! ^ 0xff) & 0xff;
    fs.writeFileSync(file, bytes);
    const reopened = Database.open(dir, { ...BASE, compactOnClose: false });
    try {
      assert.ok(reopened.recovery.invalidSlots.some((s) => s.index === damaged), `slot ${damaged} was not reported damaged`);
      assert.equal(reopened.count(), expected.size);
      for (const [k, v] of expected) {
        const got = reopened.get(Buffer.from(k));
        if (!(Buffer.isBuffer(got) && got.equals(v))) assert.deepEqual(got, v, `slot ${1 - damaged} alone: wrong value for ${k}`);
      }
    } finally {
      reopened.close();
    }
  }
});
