import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { RedbManager } from '../../src/index.js';
import { cli, json, tmp } from './harness.js';
import { initEntries, seedKv } from './seed.js';

test('compact gives back the space of deleted records and keeps the rest', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  seedKv(dir, 4000);
  const m = RedbManager.open({ baseDir: dir, compactOnClose: false });
  m.shardAt(0).write((tx) => {
    for (let i = 0; i < 3500; i++) tx.table('records').delete(Buffer.from(`k/${String(i).padStart(8, '0')}`));
  });
  m.checkpoint();
  m.close();
  const r = cli(['compact', '--dir', dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = json<{ bytesBefore: number; bytesAfter: number; shards: { entries: number }[] }>(r);
  assert.ok(out.bytesAfter < out.bytesBefore, `${out.bytesAfter} < ${out.bytesBefore}`);
  const v = json<{ status: string; shards: { entries: number }[] }>(cli(['verify', '--dir', dir, '--json']));
  assert.equal(v.status, 'clean');
  // Shard 0 holds the store id and its own index layout: what initEntries(1) counts.
  assert.equal(v.shards[0]!.entries, 500 + initEntries(1));
});
