import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, tmp } from './harness.js';
import { seedKv } from './seed.js';

test('health exits 0 with every shard healthy', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir, '--shards', '2']).code, 0);
  seedKv(dir, 100, 2);
  const r = cli(['health', '--dir', dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = json<{ status: string; shards: { status: string }[] }>(r);
  assert.equal(out.status, 'healthy');
  assert.deepEqual(out.shards.map((s) => s.status), ['healthy', 'healthy']);
  assert.match(cli(['health', '--dir', dir]).stdout, /status: healthy/);
});

test('health of a store whose page file is damaged is an error with the corruption exit code, never a stack', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  seedKv(dir, 3000);
  const file = path.join(dir, 'shards', '000', 'data.redb');
  const bytes = fs.readFileSync(file);
  // Both header slots: the shard cannot open.
  for (let i = 0; i < 8192; i += 97) bytes[i]! ^= 0xff;
  fs.writeFileSync(file, bytes);
  const r = cli(['health', '--dir', dir]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /^error: /);
});
