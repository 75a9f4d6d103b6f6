import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { cli, json, ROOT, tmp } from './harness.js';
import { childArgs } from '../support/child-script.js';

test('backup of a store an agent keeps writing is taken from a verified copy, restores, and holds every event the agent had acknowledged before it began', async (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir, '--shards', '2']).code, 0);
  const writer = spawn(process.execPath, childArgs(path.join(ROOT, 'test/cli/live-writer-child.ts'), dir, 'audit'), { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => writer.kill('SIGKILL'));
  await new Promise<void>((resolve) => writer.stdout!.once('data', () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 300));

  // What a read-only reader saw before the backup began: the backup must hold at least that much.
  const before = json<{ tenants: { tenantId: string; events: number }[] }>(cli(['stats', '--dir', dir, '--json']));
  const b = cli(['backup', path.join(root, 'b'), '--dir', dir, '--json']);
  assert.equal(b.code, 0, b.stderr);
  const report = json<{ held: boolean; verified: boolean; attempts: number }>(b);
  assert.equal(report.held, true);
  assert.equal(report.verified, true);
  assert.ok(report.attempts >= 1);
  assert.ok(writer.exitCode === null, 'the agent kept running through the backup');
  // The rest reads only the backup and its restored copy: the agent has done its part, and left
  // running it would only compete for the CPU with the restore and verify below.
  writer.kill('SIGKILL');

  const to = path.join(root, 'restored');
  const r = cli(['restore', path.join(root, 'b'), '--to', to, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const v = cli(['verify', '--dir', to, '--json']);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const after = json<{ tenants: { tenantId: string; events: number }[] }>(cli(['stats', '--dir', to, '--json']));
  for (const t0 of before.tenants.filter((x) => x.tenantId.startsWith('tenant-'))) {
    const restored = after.tenants.find((x) => x.tenantId === t0.tenantId)?.events ?? 0;
    assert.ok(restored >= t0.events, `${t0.tenantId}: ${restored} events restored, ${t0.events} acknowledged before the backup`);
  }
});
