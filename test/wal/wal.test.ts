import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Database } from '../../src/index.js';
import { decodeCommit, CommitLog, encodeFoldReleases, Op } from '../../src/wal/commit-payload.js';
import { encodeRecord, recordChecksumValid } from '../../src/wal/record-format.js';
import { enc, tmpDir } from '../support/tmp.js';

function walFiles(dir: string): string[] {
  return fs.readdirSync(path.join(dir, 'wal')).map((f) => path.join(dir, 'wal', f));
}

/** Copies a live database directory, as a crash at this moment would leave it (no close). */
function crashCopy(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
  fs.rmSync(path.join(to, 'lock'), { recursive: true, force: true });
  fs.rmSync(path.join(to, 'lock.owner'), { force: true });
}

test('a commit log round-trips through its payload encoding, table switches included', () => {
  const log = new CommitLog(new Uint8Array(8));
  log.put('default', enc('k1'), enc('v1'));
  log.put('events', enc('k2'), new Uint8Array(300).fill(9));
  log.delete('events', enc('k3'));
  log.clear('default');
  log.drop('idx');
  const ops = decodeCommit(log.payload());
  assert.ok(Array.isArray(ops));
  assert.deepEqual(
    ops.map((o) => (o.op === Op.FoldReleases ? [o.op] : [o.op, o.table, o.key && Buffer.from(o.key).toString(), o.value?.length ?? null])),
    [
      [Op.Put, 'default', 'k1', 2],
      [Op.Put, 'events', 'k2', 300],
      [Op.Delete, 'events', 'k3', null],
      [Op.Clear, 'default', null, null],
      [Op.Drop, 'idx', null, null],
    ],
  );
  assert.match(decodeCommit(Uint8Array.of(9)) as string, /unknown commit operation/);
});

test('a fold-releases payload round-trips, and a truncated one is malformed rather than misread', () => {
  const releases = [
    { hash: new Uint8Array(32).fill(1), count: 1 },
    { hash: new Uint8Array(32).fill(2), count: 300 },
  ];
  const payload = encodeFoldReleases(2 ** 40, releases);
  const ops = decodeCommit(payload);
  assert.ok(Array.isArray(ops));
  assert.equal(ops.length, 1);
  const op = ops[0]!;
  assert.equal(op.op, Op.FoldReleases);
  assert.ok(op.op === Op.FoldReleases);
  assert.equal(op.checkpointTxn, 2 ** 40);
  assert.deepEqual(op.releases.map((r) => [r.hash[0], r.count]), [[1, 1], [2, 300]]);
  for (const cut of [1, 8, 20, payload.length - 1]) assert.equal(typeof decodeCommit(payload.subarray(0, cut)), 'string', `cut at ${cut}`);
  assert.throws(() => encodeFoldReleases(1, [{ hash: new Uint8Array(32), count: 0 }]), /count of at least 1/);
});

test('a record checksummed for one segment does not validate in another', () => {
  const rec = encodeRecord(5, { txn: 1, durableTxn: 0, flags: 0, kind: 1, keyId: 0, rawLength: 3 }, enc('abc'));
  assert.ok(recordChecksumValid(rec, 5));
  assert.ok(!recordChecksumValid(rec, 6));
});

test('a torn WAL tail is truncated on open and every earlier commit survives', (t) => {
  const dir = tmpDir(t);
  const copy = tmpDir(t, 'copy');
  const db = Database.open(dir, { checkpointIntervalMs: 0 });
  for (let i = 0; i < 20; i++) db.write((tx) => tx.put(enc(`k${i}`), enc(`v${i}`)));
  crashCopy(dir, copy);
  db.close();
  // Garbage where the next record would start: what a write torn by power loss leaves behind.
  const [seg] = walFiles(copy);
  const end = findEnd(seg!);
  const fd = fs.openSync(seg!, 'r+');
  fs.writeSync(fd, Buffer.alloc(100, 0xab), 0, 100, end);
  fs.closeSync(fd);
  const reopened = Database.open(copy);
  assert.deepEqual(reopened.recovery.tornTail, { segment: 1, offset: end });
  assert.equal(reopened.recovery.replayedCommits, 20);
  for (let i = 0; i < 20; i++) assert.equal(reopened.get(enc(`k${i}`))?.toString(), `v${i}`);
  // New commits after the recovery land in a new segment and survive the next crash too.
  reopened.write((tx) => tx.put(enc('after'), enc('x')));
  const second = tmpDir(t, 'second');
  crashCopy(copy, second);
  reopened.close();
  const again = Database.open(second);
  assert.equal(again.get(enc('after'))?.toString(), 'x');
  assert.equal(again.count(), 21);
  assert.ok(again.verify().ok);
  again.close();
});

test('a complete record past the valid end of its segment is never replayed', (t) => {
  const dir = tmpDir(t);
  const crashed = tmpDir(t, 'crashed');
  const later = tmpDir(t, 'later');
  const db = Database.open(dir, { checkpointIntervalMs: 0 });
  db.write((tx) => tx.put(enc('a'), enc('1')));
  crashCopy(dir, crashed);
  db.close();
  // Recovery starts segment 2, whose header records where segment 1 validly ends; txn 2 goes there.
  const recovered = Database.open(crashed, { checkpointIntervalMs: 0 });
  const seg1 = walFiles(crashed)[0]!;
  const end = findEnd(seg1);
  recovered.write((tx) => tx.put(enc('real'), enc('2')));
  crashCopy(crashed, later);
  recovered.close();
  // Now a complete, valid record for txn 2 appears in segment 1 past its valid end, as a write the
  // first process issued but never saw acknowledged might land after the crash.
  const payload = ghostPayload();
  const ghost = encodeRecord(1, { txn: 2, durableTxn: 1, flags: 0, kind: 1, keyId: 0, rawLength: payload.length }, payload);
  const fd = fs.openSync(path.join(later, 'wal', path.basename(seg1)), 'r+');
  fs.writeSync(fd, ghost, 0, ghost.length, end);
  fs.closeSync(fd);
  const reopened = Database.open(later);
  assert.equal(reopened.get(enc('ghost')), undefined);
  assert.equal(reopened.get(enc('real'))?.toString(), '2');
  assert.equal(reopened.get(enc('a'))?.toString(), '1');
  assert.ok(reopened.verify().ok);
  reopened.close();
});

/** Offset just past the last record of a segment file (the first all-zero record header). */
function findEnd(file: string): number {
  const b = fs.readFileSync(file);
  let o = 4096;
  for (;;) {
    if (b.subarray(o, o + 32).every((x) => x === 0)) return o;
    o += 32 + b.readUInt32LE(o);
  }
}

function ghostPayload(): Uint8Array {
  const log = new CommitLog(new Uint8Array(64));
  log.put('default', enc('ghost'), enc('boo'));
  return log.payload();
}
