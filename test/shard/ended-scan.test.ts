/**
 * An ended range scan lets go of the version it read: whoever still holds the iterator (a caller
 * that keeps it, the audit store keeping its last query's objects) pins none of that version's
 * trees or memtables once later commits replace it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Database } from '../../src/index.js';
import { fullGc } from '../support/full-gc.js';
import { tmpDir } from '../support/tmp.js';

const key = (i: number): Buffer => Buffer.from(`k${String(i).padStart(5, '0')}`);

function fill(db: ReturnType<typeof Database.open>, round: number): void {
  db.write((tx) => {
    for (let i = 0; i < 300; i++) tx.put(key(i), Buffer.from(`v${i}.${round}`));
  });
}

/** A scan of the version now newest (run to its end when `finish`), and a weak reference to that version. */
function scanNewest(db: ReturnType<typeof Database.open>, finish: boolean): { scan: Iterator<unknown>; version: WeakRef<object> } {
  const snap = db.read();
  const version = new WeakRef(snap.liveVersion());
  const scan = snap.range({ limit: 1000 });
  let n = 0;
  if (finish) for (let e = scan.next(); !e.done; e = scan.next()) n++;
  else scan.next();
  assert.equal(n, finish ? 300 : 0);
  snap.close();
  return { scan, version };
}

test('an ended range scan pins no version, one still open pins its own', async (t) => {
  const db = Database.open(tmpDir(t, 'ended-scan'), { durability: 'none', pageSize: 512 });
  t.after(() => db.close());
  fill(db, 0);
  db.checkpoint();
  fill(db, 1);
  const ended = scanNewest(db, true);
  fill(db, 2);
  const open = scanNewest(db, false);
  // Later commits and a checkpoint replace both versions everywhere but in the scans.
  fill(db, 3);
  db.checkpoint();
  fill(db, 4);
  await fullGc();
  assert.equal(ended.version.deref(), undefined, 'the ended scan still holds the version it read');
  assert.notEqual(open.version.deref(), undefined, 'a scan not yet ended must keep its version');
  // Both iterators are still reachable here; the ended one answers done, as before.
  assert.equal(ended.scan.next().done, true);
  assert.ok(open.scan);
});
