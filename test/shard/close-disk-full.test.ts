/**
 * Close on a full disk: the compaction close may run is maintenance, so it runs only with head-room
 * (the trim it runs otherwise needs none), a disk that fills while it runs fails neither the close
 * nor the next open, and close releases the directory lock whatever happens.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Database, DiskFullError } from '../../src/index.js';
import { FaultyFileIO } from '../support/fault-file-io.js';
import { tmpDir } from '../support/tmp.js';

const BASE = { checkpointIntervalMs: 0, compression: 'none' as const };
const KEEP = 2500;

/** A store whose page file is mostly free space (close would compact it), open on `io`. */
function mostlyFreeStore(dir: string, io: FaultyFileIO): Database {
  let db = Database.open(dir, { ...BASE, compactOnClose: false });
  const value = Buffer.alloc(200, 1);
  db.write((tx) => {
    for (let i = 0; i < 20_000; i++) tx.put(Buffer.from(`key${i}`), value);
  });
  db.close();
  db = Database.open(dir, { ...BASE, io });
  db.write((tx) => {
    for (let i = 0; i < 20_000; i++) if (i % 8 !== 0) tx.delete(Buffer.from(`key${i}`));
  });
  db.checkpoint();
  return db;
}

/** Reopens with the real file system (so the lock must have been released) and checks everything survived. */
function assertIntact(dir: string): void {
  assert.ok(!fs.existsSync(path.join(dir, 'data.redb.compact')), 'a failed compaction left its file behind, holding the space');
  const db = Database.open(dir, BASE);
  try {
    assert.equal(db.count(), KEEP);
    assert.equal(db.get(Buffer.from('key8'))?.length, 200);
    assert.equal(db.get(Buffer.from('key9')), undefined);
    assert.ok(db.verify().ok);
  } finally {
    db.close();
  }
}

test('close does not compact when the disk lacks head-room for it', (t) => {
  const dir = tmpDir(t, 'headroom');
  const io = new FaultyFileIO();
  const db = mostlyFreeStore(dir, io);
  const file = path.join(dir, 'data.redb');
  const before = fs.statSync(file);
  // Room for the live data, but not for it and the reserve the next open needs.
  io.reportedFreeBytes = 4 << 20;
  db.close();
  // A compaction would have replaced the file. The trim close runs instead needs no head-room (it
  // writes only into the file's own holes), so the file still shrinks, in place.
  const after = fs.statSync(file);
  assert.equal(after.ino, before.ino, 'the page file was compacted without head-room');
  assert.ok(after.size < before.size, 'close did not trim the mostly free page file either');
  assertIntact(dir);
});

test('with head-room, close still compacts a mostly free page file', (t) => {
  const dir = tmpDir(t, 'compacts');
  const io = new FaultyFileIO();
  const db = mostlyFreeStore(dir, io);
  const before = fs.statSync(path.join(dir, 'data.redb')).size;
  io.reportedFreeBytes = 1 << 30;
  db.close();
  assert.ok(fs.statSync(path.join(dir, 'data.redb')).size < before / 2);
  assertIntact(dir);
});

test('a disk that fills during close-time compaction fails neither the close nor the next open', (t) => {
  // How many writes a close with compaction makes, so that every one of them can be the one that fails.
  const probeDir = tmpDir(t, 'probe');
  const probeIO = new FaultyFileIO();
  const probe = mostlyFreeStore(probeDir, probeIO);
  probeIO.reportedFreeBytes = 1 << 30;
  probeIO.arm(null);
  probe.close();
  const total = probeIO.writes;
  // The final clean checkpoint's writes come last; a fault there may fail the close (not the data).
  const checkpointWrites = 4;
  assert.ok(total > checkpointWrites + 2, `close made only ${total} writes`);
  const picks = new Set([1, 2, 3, Math.floor(total / 2), total - checkpointWrites - 1, total - checkpointWrites]);
  for (const nth of picks) {
    const dir = tmpDir(t, `full-${nth}`);
    const io = new FaultyFileIO();
    const db = mostlyFreeStore(dir, io);
    io.reportedFreeBytes = 1 << 30;
    io.arm({ op: 'write', nth, kind: 'ENOSPC' });
    assert.doesNotThrow(() => db.close(), `close threw when write ${nth} of ${total} failed`);
    assert.equal(io.fired, 1);
    assertIntact(dir);
  }
});

test('close releases the lock even when every write fails, and the store opens afterwards', (t) => {
  const dir = tmpDir(t, 'all-fail');
  const io = new FaultyFileIO();
  const db = mostlyFreeStore(dir, io);
  db.write((tx) => tx.put(Buffer.from('key9'), Buffer.from('late')));
  db.write((tx) => tx.delete(Buffer.from('key9')));
  io.reportedFreeBytes = 1 << 30;
  io.diskFull = true;
  assert.throws(() => db.close(), DiskFullError);
  assert.ok(db.isClosed);
  assertIntact(dir);
});
