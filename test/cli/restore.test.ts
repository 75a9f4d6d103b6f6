import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, tmp } from './harness.js';
import { initEntries, seedKv } from './seed.js';

test('restore rebuilds the backed-up store elsewhere, which then verifies with the same entries', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir, '--shards', '2']).code, 0);
  seedKv(dir, 1500, 2);
  assert.equal(cli(['backup', path.join(root, 'b'), '--dir', dir]).code, 0);
  const to = path.join(root, 'restored');
  const r = cli(['restore', path.join(root, 'b'), '--to', to, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(json<{ dir: string }>(r).dir, to);
  const v = json<{ status: string; shards: { entries: number }[] }>(cli(['verify', '--dir', to, '--json']));
  assert.equal(v.status, 'clean');
  assert.equal(v.shards.reduce((n, s) => n + s.entries, 0), 1500 + initEntries(2));
});

test('restore refuses a damaged backup (exit 2), a missing one (exit 6) and a non-empty target without --force', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  seedKv(dir, 500);
  const b = path.join(root, 'b');
  assert.equal(cli(['backup', b, '--dir', dir]).code, 0);
  assert.equal(cli(['restore', path.join(root, 'nope'), '--to', path.join(root, 'x')]).code, 6);

  const occupied = path.join(root, 'occupied');
  fs.mkdirSync(occupied);
  fs.writeFileSync(path.join(occupied, 'keep'), 'x');
  const busy = cli(['restore', b, '--to', occupied]);
  assert.equal(busy.code, 4, busy.stderr);
  assert.ok(fs.existsSync(path.join(occupied, 'keep')));
  assert.equal(cli(['restore', b, '--to', occupied, '--force']).code, 0);

  const blocks = path.join(b, 'shards', '000.blocks');
  const bytes = fs.readFileSync(blocks);
  bytes[bytes.length >> 1]! ^= 0xff;
  fs.writeFileSync(blocks, bytes);
  const bad = cli(['restore', b, '--to', path.join(root, 'y')]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /^error: the backup .* failed verification/);
});

test('a restored audit store keeps its keys: its Merkle logs verify and its sealed personal data reads back', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir, '--personal-data']).code, 0);
  assert.equal(cli(['ingest', path.join(import.meta.dirname, '..', '..', 'fixtures', 'sample-events.ndjson'), '--dir', dir]).code, 0);
  const b = path.join(root, 'b');
  assert.deepEqual(json<{ storeFiles: string[] }>(cli(['backup', b, '--dir', dir, '--json'])).storeFiles.sort(), ['integrity-signing-key.pem', 'personal-data.key', 'redb-audit.cli.json']);
  const to = path.join(root, 'r');
  assert.equal(cli(['restore', b, '--to', to]).code, 0);
  const v = cli(['verify', '--dir', to, '--json']);
  assert.equal(v.code, 0, v.stdout);
  assert.ok(json<{ integrity: { ok: boolean }[] }>(v).integrity.every((r) => r.ok));
  const one = JSON.parse(cli(['query', '--dir', to, '--tenant', 'acme-health', '--limit', '1', '--json']).stdout) as { sourceIp: unknown };
  assert.equal(typeof one.sourceIp, 'string');
});
