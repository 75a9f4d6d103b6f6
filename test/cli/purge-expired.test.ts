import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, tmp } from './harness.js';

test('purge-expired deletes the events older than a tenant\'s retention and keeps the rest', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const day = 86_400_000;
  const now = Date.now();
  const lines = [];
  for (let i = 0; i < 30; i++) {
    lines.push(JSON.stringify({ id: `old-${i}`, tenantId: 't1', timestamp: now - (100 + i) * day, actor: { id: 'a' }, action: 'record.read', resource: { type: 'record', id: `r${i}` } }));
    lines.push(JSON.stringify({ id: `new-${i}`, tenantId: 't1', timestamp: now - i * 3600_000, actor: { id: 'a' }, action: 'record.read', resource: { type: 'record', id: `r${i}` } }));
    lines.push(JSON.stringify({ id: `other-${i}`, tenantId: 't2', timestamp: now - (100 + i) * day, actor: { id: 'b' }, action: 'record.read', resource: { type: 'record', id: `r${i}` } }));
  }
  fs.writeFileSync(path.join(root, 'e.ndjson'), lines.join('\n'));
  assert.equal(cli(['ingest', path.join(root, 'e.ndjson'), '--dir', dir]).code, 0);
  const r = cli(['purge-expired', '--dir', dir, '--policy', 't1=90', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(json<{ purged: number }>(r).purged, 30);
  assert.equal(json<{ count: number }>(cli(['query', '--dir', dir, '--tenant', 't1', '--count', '--json'])).count, 30);
  assert.equal(json<{ count: number }>(cli(['query', '--dir', dir, '--tenant', 't2', '--count', '--json'])).count, 30);
  const system = cli(['query', '--dir', dir, '--tenant', '__system', '--action', 'store.purge', '--json']);
  assert.equal(system.stdout.trim().split('\n').length, 1, 'the purge is recorded in the system tenant');
});

test('purge-expired needs a policy, and a policy must be tenant=days', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  assert.equal(cli(['purge-expired', '--dir', dir]).code, 4);
  assert.equal(cli(['purge-expired', '--dir', dir, '--policy', 't1']).code, 64);
});
