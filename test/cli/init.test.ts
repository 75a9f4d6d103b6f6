import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, tmp, writeKey } from './harness.js';

test('init creates a store with the shard count and compression asked for, and records them for later verbs', (t) => {
  const dir = path.join(tmp(t), 'store');
  const r = cli(['init', '--dir', dir, '--shards', '3', '--compression', 'lz4', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(json(r), { dir, shards: 3, encrypted: false, compression: 'lz4', personalData: false });
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'redb.manifest.json'), 'utf8'));
  assert.equal(manifest.shardCount, 3);
  assert.equal(manifest.compression, 'lz4');
  const stats = json<{ shards: unknown[] }>(cli(['stats', '--dir', dir, '--json']));
  assert.equal(stats.shards.length, 3);
});

test('init uses $REDB_AUDIT_DIR when --dir is absent', (t) => {
  const dir = path.join(tmp(t), 'from-env');
  const r = cli(['init'], { env: { REDB_AUDIT_DIR: dir } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(dir, 'redb.manifest.json')));
});

test('init --encrypt needs a key, and the store then opens only with it', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 'enc');
  const noKey = cli(['init', '--dir', dir, '--encrypt']);
  assert.equal(noKey.code, 5);
  assert.match(noKey.stderr, /--key-file/);
  assert.equal(fs.existsSync(path.join(dir, 'redb.manifest.json')), false);

  const key = writeKey(path.join(root, 'k'), 7);
  assert.equal(cli(['init', '--dir', dir, '--encrypt', '--key-file', key]).code, 0);
  const without = cli(['stats', '--dir', dir]);
  assert.equal(without.code, 5);
  assert.match(without.stderr, /^error: .*encrypted.*--key-file/);
  assert.equal(cli(['stats', '--dir', dir, '--key-file', key]).code, 0);
  assert.equal(cli(['stats', '--dir', dir], { env: { REDB_AUDIT_KEY: Buffer.alloc(32, 7).toString('hex') } }).code, 0);
  const wrong = cli(['stats', '--dir', dir, '--key-file', writeKey(path.join(root, 'k2'), 8)]);
  assert.equal(wrong.code, 5, wrong.stderr);
});

test('init refuses a directory that already holds a store, and bad option values are usage errors', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const again = cli(['init', '--dir', dir, '--shards', '4']);
  assert.equal(again.code, 4);
  assert.match(again.stderr, /already holds a store/);
  const bad = cli(['init', '--dir', dir, '--compression', 'brotli']);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /zstd, lz4, none/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});
