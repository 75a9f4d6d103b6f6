import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Database } from '../../src/index.js';
import { enc, tmpDir } from '../support/tmp.js';

const key = (i: number): Buffer => enc(`k${String(i).padStart(6, '0')}`);

test('a snapshot keeps reading the old values through writes, a checkpoint and a compaction', (t) => {
  const db = Database.open(tmpDir(t), { pageSize: 1024, checkpointIntervalMs: 0 });
  db.write((tx) => {
    for (let i = 0; i < 3000; i++) tx.put(key(i), enc(`old${i}`));
  });
  db.checkpoint();
  const snap = db.read();
  const before = snap.txn;
  db.write((tx) => {
    for (let i = 0; i < 3000; i += 2) tx.put(key(i), enc(`new${i}`));
    for (let i = 1; i < 3000; i += 4) tx.delete(key(i));
    tx.put(enc('added'), enc('x'));
  });
  db.checkpoint();
  db.compact();
  db.write((tx) => tx.put(key(7), enc('after compaction')));
  db.checkpoint();
  assert.equal(snap.txn, before);
  assert.equal(snap.count(), 3000);
  assert.equal(snap.get(enc('added')), undefined);
  let i = 0;
  for (const e of snap.range()) {
    assert.equal(e.key.toString(), key(i).toString());
    assert.equal(e.value.toString(), `old${i}`);
    i++;
  }
  assert.equal(i, 3000);
  // The live database sees the new state.
  assert.equal(db.get(key(0))?.toString(), 'new0');
  assert.equal(db.get(key(1)), undefined);
  assert.equal(db.get(key(7))?.toString(), 'after compaction');
  snap.close();
  assert.ok(db.verify().ok);
  db.close();
});

test('blocks freed under an open snapshot are reused only after it closes', (t) => {
  const db = Database.open(tmpDir(t), { pageSize: 1024, checkpointIntervalMs: 0 });
  const rewrite = (tag: string): number => {
    db.write((tx) => {
      for (let i = 0; i < 2000; i++) tx.put(key(i), enc(`${tag}${i}`.padEnd(60, '.')));
    });
    db.checkpoint();
    return db.stats().pageFileBytes;
  };
  const treeBytes = rewrite('a');
  const snap = db.read();
  // Each rewrite copies every leaf. With the snapshot open, none of the blocks it can reach may be
  // reused, so the file grows by about a tree per rewrite.
  const sizes = ['b', 'c', 'd'].map(rewrite);
  const growthWhileOpen = sizes[2]! - treeBytes;
  assert.ok(growthWhileOpen > treeBytes, `grew only ${growthWhileOpen} bytes over 3 rewrites of a ${treeBytes}-byte file`);
  assert.equal(snap.get(key(5))?.toString(), 'a5'.padEnd(60, '.'));
  snap.close();
  // Closed: four more rewrites fit in the space freed before, so the file barely grows.
  const last = ['e', 'f', 'g', 'h'].map(rewrite)[3]!;
  assert.ok(last - sizes[2]! < growthWhileOpen / 10, `grew ${last - sizes[2]!} bytes after the snapshot closed`);
  assert.ok(db.verify().ok);
  db.close();
});

test('a snapshot sees nothing of a commit made after it started, in any table', (t) => {
  const db = Database.open(tmpDir(t));
  db.write((tx) => tx.table('a').put(enc('k'), enc('1')));
  const snap = db.read();
  db.write((tx) => {
    tx.table('a').put(enc('k'), enc('2'));
    tx.table('b').put(enc('k'), enc('new table'));
  });
  assert.equal(snap.table('a').get(enc('k'))?.toString(), '1');
  assert.equal(snap.table('b').get(enc('k')), undefined);
  assert.deepEqual(snap.tableNames(), ['a']);
  snap.close();
  db.close();
});

test('a pinned checkpoint keeps its catalog and freelist blocks through later checkpoints', (t) => {
  // Encrypted: a catalog rewritten unchanged into a reused extent still differs (a fresh nonce).
  const db = Database.open(tmpDir(t), { checkpointIntervalMs: 0, encryption: { key: new Uint8Array(32).fill(9) } });
  db.write((tx) => {
    for (let i = 0; i < 2000; i++) tx.put(key(i), enc(`v${i}`));
  });
  db.checkpoint();
  // Freed blocks pending past the pinned checkpoint make every later checkpoint write (and retire
  // the previous catalog and freelist) even without commits.
  db.write((tx) => {
    for (let i = 0; i < 50; i++) tx.put(key(i), enc(`w${i}`));
  });
  const pin = db.pinCheckpoint();
  const blocks = [pin.slot.catalog!, pin.slot.freelist!];
  const before = blocks.map((b) => Buffer.from(pin.file.readExtent(b.offset, b.length)));
  for (let i = 0; i < 8; i++) db.checkpoint();
  blocks.forEach((b, i) => assert.deepEqual(Buffer.from(pin.file.readExtent(b.offset, b.length)), before[i], `block at ${b.offset} was reused under the pin`));
  pin.release();
  assert.ok(db.verify().ok);
  db.close();
});

test('with no snapshot open, writes edit stored nodes in place and every later view agrees', (t) => {
  const dir = tmpDir(t);
  let db = Database.open(dir, { pageSize: 1024, checkpointIntervalMs: 0 });
  db.write((tx) => {
    for (let i = 0; i < 3000; i++) tx.put(key(i), enc(`old${i}`));
  });
  db.checkpoint();
  // Warm the cache, so the stored nodes the next write takes over are the cached ones.
  for (let i = 0; i < 3000; i += 3) assert.equal(db.get(key(i))?.toString(), `old${i}`);
  const freeBefore = db.stats().freeBytes;
  db.write((tx) => {
    for (let i = 0; i < 3000; i += 2) tx.put(key(i), enc(`new${i}`));
    for (let i = 1; i < 3000; i += 4) tx.delete(key(i));
  });
  const expected = (i: number): string | undefined => (i % 2 === 0 ? `new${i}` : i % 4 === 1 ? undefined : `old${i}`);
  const check = (what: string, read: (k: Buffer) => Buffer | undefined): void => {
    for (let i = 0; i < 3000; i++) assert.equal(read(key(i))?.toString(), expected(i), `${what}: key ${i}`);
  };
  check('live', (k) => db.get(k));
  const snap = db.read();
  check('snapshot', (k) => snap.get(k));
  snap.close();
  db.checkpoint();
  // The blocks of the nodes edited in place were given up, like those of copied nodes.
  assert.ok(db.stats().freeBytes > freeBefore, 'the replaced blocks were not freed');
  check('after checkpoint', (k) => db.get(k));
  assert.ok(db.verify().ok);
  db.close();
  db = Database.open(dir);
  check('reopened', (k) => db.get(k));
  assert.equal(db.count(), 3000 - 750);
  db.close();
});

test('a scoped snapshot pins and reads its commit like any snapshot until it is closed', (t) => {
  const db = Database.open(tmpDir(t), { pageSize: 1024, checkpointIntervalMs: 0 });
  db.write((tx) => {
    for (let i = 0; i < 2000; i++) tx.put(key(i), enc(`old${i}`));
  });
  db.checkpoint();
  const scoped = db.readScoped();
  const plain = db.read();
  assert.equal(db.stats().openSnapshots, 2);
  db.write((tx) => {
    for (let i = 0; i < 2000; i++) tx.put(key(i), enc(`new${i}`));
  });
  db.checkpoint();
  db.compact();
  // Both still read the old commit: the scoped one kept its blocks from reuse too.
  for (const s of [scoped, plain]) assert.equal(s.get(key(1234))?.toString(), 'old1234');
  scoped.close();
  assert.equal(db.stats().openSnapshots, 1);
  assert.throws(() => scoped.get(key(1)), /closed/);
  plain.close();
  assert.equal(db.stats().openSnapshots, 0);
  assert.ok(db.verify().ok);
  db.close();
});
