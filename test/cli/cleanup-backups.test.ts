import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, tmp } from './harness.js';
import { seedKv } from './seed.js';

test('cleanup-backups keeps the newest N and the bases they need, and --dry-run removes nothing', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  seedKv(dir, 200);
  const b = path.join(root, 'backups');
  const at = (name: string): string => path.join(b, name);
  assert.equal(cli(['backup', at('a-full'), '--dir', dir]).code, 0);
  assert.equal(cli(['backup', at('b-full'), '--dir', dir]).code, 0);
  assert.equal(cli(['backup', at('c-inc'), '--since', at('b-full'), '--dir', dir]).code, 0);
  fs.mkdirSync(at('unrelated'));

  const dry = json<{ removed: string[]; dryRun: boolean }>(cli(['cleanup-backups', b, '--keep', '1', '--dry-run', '--json']));
  assert.deepEqual(dry.removed, [at('a-full')]);
  assert.ok(fs.existsSync(at('a-full')));

  const r = cli(['cleanup-backups', b, '--keep', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = json<{ kept: string[]; keptAsBase: string[]; removed: string[] }>(r);
  assert.deepEqual(out.kept, [at('c-inc')]);
  assert.deepEqual(out.keptAsBase, [at('b-full')]);
  assert.equal(fs.existsSync(at('a-full')), false);
  assert.ok(fs.existsSync(at('unrelated')));
  assert.equal(cli(['restore', at('c-inc'), '--to', path.join(root, 'r')]).code, 0);
});

test('cleanup-backups requires --keep of at least 1', (t) => {
  const b = tmp(t);
  assert.equal(cli(['cleanup-backups', b]).code, 64);
  assert.equal(cli(['cleanup-backups', b, '--keep', '0']).code, 64);
});
