import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, ROOT, tmp } from './harness.js';
import { childArgs } from '../support/child-script.js';

test('read verbs work against a store another process keeps writing raw records to; write verbs are refused with its pid', async (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir, '--shards', '2']).code, 0);
  const writer = spawn(process.execPath, childArgs(path.join(ROOT, 'test/cli/live-writer-child.ts'), dir, 'kv'), { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => writer.kill('SIGKILL'));
  await new Promise<void>((resolve) => writer.stdout!.once('data', () => resolve()));

  const v = cli(['verify', '--dir', dir, '--json']);
  assert.equal(v.code, 0, v.stderr);
  const report = json<{ mode: string; status: string; shards: { entries: number }[] }>(v);
  assert.equal(report.mode, 'online');
  assert.equal(report.status, 'clean');
  assert.ok(report.shards.reduce((n, s) => n + s.entries, 0) >= 200);

  const s1 = json<{ totals: { entries: number } }>(cli(['stats', '--dir', dir, '--json']));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const s2 = cli(['stats', '--dir', dir, '--json']);
  assert.equal(s2.code, 0, s2.stderr);
  assert.ok(json<{ totals: { entries: number } }>(s2).totals.entries > s1.totals.entries, 'a later stats sees newer commits of the writer');

  const h = cli(['health', '--dir', dir, '--json']);
  assert.equal(h.code, 0, h.stderr);

  const c = cli(['compact', '--dir', dir]);
  assert.equal(c.code, 3);
  assert.match(c.stderr, new RegExp(`process ${writer.pid}`));

  writer.kill('SIGTERM');
  await new Promise((resolve) => writer.on('exit', resolve));
  const full = cli(['verify', '--dir', dir, '--json']);
  assert.equal(full.code, 0, full.stderr);
  assert.equal(json<{ mode: string }>(full).mode, 'full');
});

test('query, export, stats and verify (Merkle logs included) answer while an agent keeps inserting audit events', async (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir, '--shards', '2']).code, 0);
  const writer = spawn(process.execPath, childArgs(path.join(ROOT, 'test/cli/live-writer-child.ts'), dir, 'audit'), { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => writer.kill('SIGKILL'));
  await new Promise<void>((resolve) => writer.stdout!.once('data', () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 300));

  const v = cli(['verify', '--dir', dir, '--json']);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const report = json<{ mode: string; status: string; integrity: { tenantId: string; ok: boolean; checkedEvents: number }[] }>(v);
  assert.equal(report.mode, 'online');
  assert.ok(report.integrity.filter((r) => r.tenantId.startsWith('tenant-')).length === 3);
  assert.ok(report.integrity.every((r) => r.ok));

  const q = cli(['query', '--dir', dir, '--tenant', 'tenant-0', '--action', 'auth.login', '--json', '--limit', '10000']);
  assert.equal(q.code, 0, q.stderr);
  const seen = q.stdout.trim().split('\n').map((l) => JSON.parse(l) as { action: string });
  assert.ok(seen.length > 0 && seen.every((e) => e.action === 'auth.login'));

  const out = path.join(root, 'tenant-1.ndjson');
  const e = cli(['export', '--dir', dir, '--tenant', 'tenant-1', '--format', 'ndjson', '--out', out, '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(fs.readFileSync(out, 'utf8').trim().split('\n').length, json<{ events: number }>(e).events);

  const s = json<{ tenants: { tenantId: string; events: number }[] }>(cli(['stats', '--dir', dir, '--json']));
  assert.ok(s.tenants.filter((x) => x.tenantId.startsWith('tenant-')).every((x) => x.events > 0));
  assert.equal(cli(['ingest', path.join(ROOT, 'fixtures', 'sample-events.ndjson'), '--dir', dir]).code, 3);
});
