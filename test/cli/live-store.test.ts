import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { cli, json, ROOT, tmp } from './harness.js';

test('read verbs work against a store another process keeps writing to; write verbs are refused with its pid', async (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir, '--shards', '2']).code, 0);
  const writer = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/cli/live-writer-child.ts'), dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
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
