import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, tmp } from './harness.js';
import { initEntries, seedKv } from './seed.js';

interface VerifyJson {
  status: string;
  shards: { shard: number; ok: boolean; entries: number; issues: { severity: string }[] }[];
}

test('verify of a healthy store exits 0 and counts what it read', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir, '--shards', '2']).code, 0);
  seedKv(dir, 2000, 2);
  const r = cli(['verify', '--dir', dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = json<VerifyJson>(r);
  assert.equal(out.status, 'clean');
  assert.equal(out.shards.reduce((n, s) => n + s.entries, 0), 2000 + initEntries(2));
  const human = cli(['verify', '--dir', dir]);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /clean \(2 shard\(s\)/);
});

test('verify of a store with a damaged page exits 2 and names the damage', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  seedKv(dir, 3000);
  const file = path.join(dir, 'shards', '000', 'data.redb');
  const bytes = fs.readFileSync(file);
  // Past the two header slots every byte belongs to a tree block: damage a run of them.
  for (let i = 0; i < 64; i++) bytes[Math.floor(bytes.length / 2) + i]! ^= 0xff;
  fs.writeFileSync(file, bytes);
  const r = cli(['verify', '--dir', dir, '--json']);
  assert.equal(r.code, 2, r.stderr);
  const out = json<VerifyJson>(r);
  assert.equal(out.status, 'corrupt');
  assert.ok(out.shards.some((s) => s.issues.some((i) => i.severity === 'corruption')));
  const human = cli(['verify', '--dir', dir]);
  assert.equal(human.code, 2);
  assert.match(human.stdout, /redb-audit repair/);
});
