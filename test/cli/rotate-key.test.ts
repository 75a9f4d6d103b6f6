import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, tmp, writeKey } from './harness.js';
import { seedKv } from './seed.js';

test('rotate-key re-encrypts the store: afterwards the new key opens it and the old one does not', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  const oldKey = writeKey(path.join(root, 'old.key'), 1);
  const newKey = writeKey(path.join(root, 'new.key'), 2);
  assert.equal(cli(['init', '--dir', dir, '--encrypt', '--key-file', oldKey]).code, 0);
  seedKv(dir, 800, 1, { file: oldKey });
  const r = cli(['rotate-key', '--dir', dir, '--key-file', oldKey, '--new-key-file', newKey]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /--key-file/);
  const v = cli(['verify', '--dir', dir, '--key-file', newKey, '--json']);
  assert.equal(v.code, 0, v.stderr);
  const stats = json<{ shards: { tables: { name: string; entries: number }[] }[] }>(cli(['stats', '--dir', dir, '--key-file', newKey, '--json']));
  assert.equal(stats.shards[0]!.tables.find((x) => x.name === 'records')!.entries, 800);
  const rotation = cli(['query', '--dir', dir, '--key-file', newKey, '--tenant', '__system', '--action', 'store.rotate_key', '--count']);
  assert.equal(rotation.stdout, '1\n', 'the rotation is recorded in the system tenant');
  assert.equal(cli(['verify', '--dir', dir, '--key-file', oldKey]).code, 5);
});

test('rotate-key on an unencrypted store, or with a missing new key file, fails with one line', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const plain = cli(['rotate-key', '--dir', dir, '--new-key-file', writeKey(path.join(root, 'k'), 3)]);
  assert.equal(plain.code, 5);
  assert.match(plain.stderr, /not encrypted/);
  const missing = cli(['rotate-key', '--dir', dir, '--new-key-file', path.join(root, 'absent')]);
  assert.equal(missing.code, 6);
  assert.equal(missing.stderr.trim().split('\n').length, 1);
  assert.ok(!fs.existsSync(path.join(root, 'absent')));
});
