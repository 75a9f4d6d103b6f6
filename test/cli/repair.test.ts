import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, tmp } from './harness.js';
import { seedKv } from './seed.js';

test('repair --dry-run changes nothing; repair salvages the damaged shard and verify is clean after', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  seedKv(dir, 3000);
  assert.equal(json<{ wouldRepair: number[] }>(cli(['repair', '--dir', dir, '--dry-run', '--json'])).wouldRepair.length, 0);
  assert.equal(cli(['repair', '--dir', dir]).code, 0);

  const file = path.join(dir, 'shards', '000', 'data.redb');
  const bytes = fs.readFileSync(file);
  for (let i = 0; i < 64; i++) bytes[Math.floor(bytes.length / 2) + i]! ^= 0xff;
  fs.writeFileSync(file, bytes);
  const before = fs.readFileSync(file);

  const dry = cli(['repair', '--dir', dir, '--dry-run', '--json']);
  assert.equal(dry.code, 2, dry.stderr);
  assert.deepEqual(json<{ wouldRepair: number[] }>(dry).wouldRepair, [0]);
  assert.ok(fs.readFileSync(file).equals(before), 'a dry run wrote to the page file');

  const r = cli(['repair', '--dir', dir, '--json']);
  assert.ok(r.code === 1 || r.code === 2, `exit ${r.code}: ${r.stderr}`);
  const out = json<{ shards: { status: string; recoveredEntries: number; damagedDir: string }[] }>(r);
  assert.equal(out.shards[0]!.status, 'repaired');
  assert.ok(out.shards[0]!.recoveredEntries > 0);
  assert.ok(fs.existsSync(out.shards[0]!.damagedDir));
  assert.equal(cli(['verify', '--dir', dir]).code, 0);
});
