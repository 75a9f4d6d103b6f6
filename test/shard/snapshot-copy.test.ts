import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Database, ValidationError } from '../../src/index.js';
import { enc, tmpDir } from '../support/tmp.js';

const key = (i: number): Buffer => enc(`event/${String(i).padStart(7, '0')}`);

test('a snapshot taken during a stream of writes holds exactly the commits up to its transaction', async (t) => {
  const dir = tmpDir(t);
  const snapDir = path.join(tmpDir(t, 'snaps'), 'one');
  const db = Database.open(dir, { checkpointIntervalMs: 0 });
  // Enough data that the copy yields to the event loop many times.
  for (let b = 0; b < 40_000; b += 5000) {
    db.write((tx) => {
      for (let i = b; i < b + 5000; i++) tx.put(key(i), enc(`v${i}`.repeat(4)));
    });
  }
  let stop = false;
  let written = 40_000;
  const writer = (async () => {
    while (!stop) {
      const i = written++;
      await db.writeAsync((tx) => {
        tx.put(key(i), enc(`v${i}`.repeat(4)));
        tx.put(enc('last'), enc(String(i)));
      });
    }
  })();
  while (db.stats().durableTxn < 8 + 20) await new Promise((resolve) => setImmediate(resolve));
  const before = db.stats().durableTxn;
  const info = await db.snapshotTo(snapDir);
  const during = db.stats().durableTxn - before;
  stop = true;
  await writer;
  assert.ok(during > 0, 'no commit completed while the snapshot was being written');
  assert.ok(info.txn >= before && info.txn < db.stats().txn, `snapshot txn ${info.txn}, database txn ${db.stats().txn}`);
  t.diagnostic(`${during} commits completed while the snapshot (txn ${info.txn}, ${info.entries} entries) was written`);
  db.close();
  assert.deepEqual(Database.verifySnapshot(snapDir), { ok: true, txn: info.txn, issues: [] });
  const snap = Database.open(snapDir);
  // Commit n (n > 8) wrote key 40_000 + n - 9: exactly those up to info.txn are in the snapshot.
  const expectedLast = 40_000 + info.txn - 9;
  assert.equal(snap.count(), expectedLast + 2);
  assert.equal(snap.get(enc('last'))?.toString(), String(expectedLast));
  assert.equal(snap.get(key(expectedLast))?.toString(), `v${expectedLast}`.repeat(4));
  assert.equal(snap.get(key(expectedLast + 1)), undefined);
  assert.ok(snap.verify().ok);
  snap.close();
});

test('verifySnapshot catches a flipped byte, a missing file and a missing manifest', async (t) => {
  const dir = tmpDir(t);
  const snapDir = path.join(tmpDir(t, 'snaps'), 'one');
  const db = Database.open(dir, { encryption: { key: crypto.randomBytes(32) } });
  db.write((tx) => {
    for (let i = 0; i < 1000; i++) tx.put(key(i), enc('x'));
  });
  await db.snapshotTo(snapDir);
  db.close();
  const data = path.join(snapDir, 'data.redb');
  const bytes = fs.readFileSync(data);
  bytes[9000]! ^= 1;
  fs.writeFileSync(data, bytes);
  const report = Database.verifySnapshot(snapDir);
  assert.equal(report.ok, false);
  assert.match(report.issues[0]!, /data.redb does not match its BLAKE3 digest/);
  fs.rmSync(data);
  assert.match(Database.verifySnapshot(snapDir).issues[0]!, /data.redb is missing/);
  fs.rmSync(path.join(snapDir, 'manifest.json'));
  assert.match(Database.verifySnapshot(snapDir).issues[0]!, /manifest.json is missing/);
});

test('a snapshot refuses a non-empty target and a target inside the store', async (t) => {
  const dir = tmpDir(t);
  const busy = tmpDir(t, 'busy');
  fs.writeFileSync(path.join(busy, 'something'), 'x');
  const db = Database.open(dir);
  await assert.rejects(db.snapshotTo(busy), /not empty/);
  await assert.rejects(db.snapshotTo(path.join(dir, 'inside')), ValidationError);
  db.close();
});
