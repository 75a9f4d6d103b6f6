/**
 * One option vocabulary: Database.open takes the RedbOptions names (encryptionEnabled,
 * encryptionKey, previousEncryptionKeys, dedupEnabled); the 0.1 spellings (encryption: { key },
 * dedup) still work for one minor version with a one-time DeprecationWarning carrying a code.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { test } from 'node:test';
import { Database, EncryptionKeyError, RedbManager, ValidationError } from '../../src/index.js';
import { enc, tmpDir } from '../support/tmp.js';

const warnings: { code: string | undefined; message: string }[] = [];
process.on('warning', (w: Error & { code?: string }) => {
  if (w.name === 'DeprecationWarning') warnings.push({ code: w.code, message: w.message });
});
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('a store manager opens its shards without touching a deprecated option', async (t) => {
  const db = RedbManager.open({ baseDir: tmpDir(t), shardingEnabled: true, shardCount: 2, encryptionEnabled: true, encryptionKey: crypto.randomBytes(32), dedupEnabled: false });
  db.shard('t').write((tx) => tx.put(enc('k'), enc('v')));
  db.close();
  await settle();
  assert.deepEqual(warnings, []);
});

test('Database.open takes the RedbOptions names, and the store they create needs its key', async (t) => {
  const dir = tmpDir(t);
  const key = crypto.randomBytes(32);
  let db = Database.open(dir, { encryptionEnabled: true, encryptionKey: key, dedupEnabled: false, checkpointIntervalMs: 0 });
  db.write((tx) => tx.put(enc('k'), Buffer.alloc(4096, 1)));
  db.close();
  assert.throws(() => Database.open(dir), EncryptionKeyError);
  assert.throws(() => Database.open(dir, { encryptionEnabled: true, encryptionKey: crypto.randomBytes(32) }), EncryptionKeyError);
  db = Database.open(dir, { encryptionEnabled: true, encryptionKey: key });
  assert.deepEqual(db.get(enc('k')), Buffer.alloc(4096, 1));
  db.close();
  await settle();
  assert.deepEqual(warnings, []);
});

test('bad or conflicting encryption options are refused with ValidationError naming the option, and nothing is written', (t) => {
  const dir = tmpDir(t);
  const key = crypto.randomBytes(32);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ encryptionEnabled: true }, /encryptionEnabled is true but no encryptionKey/],
    [{ encryptionKey: key }, /encryptionKey is given but encryptionEnabled is false/],
    [{ encryptionEnabled: 'yes', encryptionKey: key }, /option encryptionEnabled must be true or false/],
    [{ encryptionEnabled: true, encryptionKey: key, previousEncryptionKeys: key }, /previousEncryptionKeys must be an array/],
    [{ dedupEnabled: 1 }, /option dedupEnabled must be true or false/],
    [{ encryption: { key }, encryptionKey: key }, /options encryption \(deprecated\) and encryptionKey cannot be given together/],
    [{ dedup: true, dedupEnabled: true }, /options dedup \(deprecated\) and dedupEnabled cannot be given together/],
  ];
  for (const [o, msg] of cases) {
    assert.throws(() => Database.open(dir, o as never), (e: unknown) => e instanceof ValidationError && msg.test(e.message), JSON.stringify(Object.keys(o)));
  }
  assert.ok(!fs.existsSync(dir) || fs.readdirSync(dir).length === 0, 'nothing was written');
});

test('the 0.1 spellings encryption: { key } and dedup still open the same store, warning once each with a code', async (t) => {
  const dir = tmpDir(t);
  const key = crypto.randomBytes(32);
  warnings.length = 0;
  let db = Database.open(dir, { encryption: { key }, dedup: false, checkpointIntervalMs: 0 });
  db.write((tx) => tx.put(enc('k'), enc('v')));
  db.close();
  db = Database.open(dir, { encryption: { key }, dedup: false });
  db.close();
  db = Database.open(dir, { encryptionEnabled: true, encryptionKey: key, dedupEnabled: false });
  assert.deepEqual(db.get(enc('k')), enc('v'));
  db.close();
  await settle();
  assert.deepEqual(
    warnings.map((w) => w.code),
    ['REDB_DEP_ENCRYPTION_OPTION', 'REDB_DEP_DEDUP_OPTION'],
  );
  assert.match(warnings[0]!.message, /option encryption is deprecated .* use encryptionEnabled: true, encryptionKey and previousEncryptionKeys/);
  assert.match(warnings[1]!.message, /option dedup is deprecated .* use dedupEnabled/);
});
