/**
 * The reserved "__" table prefix, decided by one function (isReservedTableName in validate.ts):
 * user code cannot name such a table, and the engine's own tables (the deduplicated-value tables)
 * never show up where user tables are listed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Database, ValidationError } from '../../src/index.js';
import { isReservedTableName, RESERVED_TABLE_PREFIX } from '../../src/shard/validate.js';
import { enc, tmpDir } from '../support/tmp.js';

test('isReservedTableName is true exactly for names starting with "__"', () => {
  assert.equal(RESERVED_TABLE_PREFIX, '__');
  for (const n of ['__blobs', '__blobrefs', '__', '__x']) assert.equal(isReservedTableName(n), true, n);
  for (const n of ['_blobs', 'a__b', 'blobs', '', ' __']) assert.equal(isReservedTableName(n), false, n);
});

test('a reserved name is refused for a user table, and the engine tables deduplication creates are listed nowhere', (t) => {
  const db = Database.open(tmpDir(t), { checkpointIntervalMs: 0 });
  t.after(() => db.close());
  assert.throws(() => db.table('__mine'), (e: unknown) => e instanceof ValidationError && /reserved/.test(e.message));
  assert.throws(() => db.write((tx) => tx.table('__blobs').put(enc('k'), enc('v'))), ValidationError);
  // A value over the dedup threshold goes into the engine's blob tables.
  db.write((tx) => {
    tx.put(enc('a'), Buffer.alloc(4096, 7));
    tx.table('audit').put(enc('b'), Buffer.alloc(4096, 7));
    assert.deepEqual(tx.tableNames(), ['audit', 'default']);
  });
  db.checkpoint();
  assert.deepEqual(db.tableNames(), ['audit', 'default']);
  const snap = db.read();
  assert.deepEqual(snap.tableNames(), ['audit', 'default']);
  snap.close();
  assert.deepEqual(db.stats().tables.map((x) => x.name).sort(), ['audit', 'default']);
});
