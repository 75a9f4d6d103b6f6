/**
 * Automatic checkpoints that fail back off: a failed checkpoint keeps what it wrote quarantined until
 * one succeeds, so retrying at every commit while the page file cannot be written grew the file by
 * a tree per commit. Commits keep working throughout (the WAL holds them), and a checkpoint that
 * succeeds again puts everything in the page file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Database } from '../../src/index.js';
import { FaultyFileIO } from '../support/fault-file-io.js';
import { enc, tmpDir } from '../support/tmp.js';

const OPTS = { checkpointIntervalMs: 0, compactOnClose: false, memtableBytes: 64 * 1024, checkpointWalBytes: 64 * 1024 } as const;

/** 900 bytes that neither compress nor deduplicate, starting with `round`. */
function noise(round: number, i: number): Uint8Array {
  const out = new Uint8Array(900);
  let x = (round * 1000 + i + 1) >>> 0;
  for (let j = 0; j < out.length; j++) out[j] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
  out[0] = round;
  return out;
}

/** One commit big enough (90 KB) to put both the memtable and the WAL over their checkpoint thresholds. */
function bigCommit(db: Database, round: number): void {
  db.write((tx) => {
    for (let i = 0; i < 100; i++) tx.put(enc(`r${String(round).padStart(3, '0')}-${i}`), noise(round, i));
  });
}

test('automatic checkpoints on a failing page file are retried after 1, 2, 4 ... commits, not at every commit', (t) => {
  const dir = tmpDir(t, 'ckpt-backoff');
  const io = new FaultyFileIO();
  const db = Database.open(dir, { ...OPTS, io });
  io.failingPath = /data\.redb$/;
  io.arm(null);
  for (let round = 0; round < 40; round++) bigCommit(db, round);
  // Attempts begin at commits 1, 3, 6, 11, 20, 37, each failing at its first page write: in the
  // commit it began after, or the next one (a checkpoint works between commits, a slice of time
  // each; a commit that fills the memtable again makes it finish), which delays the back-off that
  // follows by as much. So four to six attempts, where retrying at every commit made forty.
  assert.ok(io.fired >= 4 && io.fired <= 6, `${io.fired} checkpoint attempts in 40 commits`);
  assert.match(db.stats().lastCheckpointError ?? '', /EIO/);

  io.failingPath = null;
  assert.equal(db.checkpoint().wrote, true);
  assert.equal(db.stats().lastCheckpointError, null);
  // A success resets the back-off: the next commit over the thresholds starts a checkpoint at once,
  // finished by the commit after it at the latest (which fills the memtable again).
  const before = db.stats().checkpoints;
  bigCommit(db, 40);
  bigCommit(db, 41);
  assert.ok(db.stats().checkpoints >= before + 1, 'no checkpoint after the back-off was reset');
  db.close();

  const again = Database.open(dir, OPTS);
  for (let round = 0; round <= 41; round++) assert.equal(again.get(enc(`r${String(round).padStart(3, '0')}-99`))?.[0], round);
  assert.ok(again.verify().ok);
  again.close();
});
