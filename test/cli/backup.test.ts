import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, tmp } from './harness.js';
import { seedKv } from './seed.js';

test('backup writes a verified full backup, and --since an incremental one on top of it', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir, '--shards', '2']).code, 0);
  seedKv(dir, 1000, 2);
  const full = cli(['backup', path.join(root, 'b', 'full'), '--dir', dir, '--json']);
  assert.equal(full.code, 0, full.stderr);
  const f = json<{ kind: string; verified: boolean; shards: unknown[] }>(full);
  assert.equal(f.kind, 'full');
  assert.equal(f.verified, true);
  assert.equal(f.shards.length, 2);
  const inc = cli(['backup', path.join(root, 'b', 'inc'), '--since', path.join(root, 'b', 'full'), '--dir', dir]);
  assert.equal(inc.code, 0, inc.stderr);
  assert.match(inc.stdout, /incremental backup of 2 shard\(s\)/);
  assert.match(inc.stdout, /verified/);
});

test('backup into a non-empty directory is refused with a validation error and one line', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  fs.mkdirSync(path.join(root, 'busy'));
  fs.writeFileSync(path.join(root, 'busy', 'x'), 'x');
  const r = cli(['backup', path.join(root, 'busy'), '--dir', dir]);
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});
