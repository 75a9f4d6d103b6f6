import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, cliSpawn, ROOT, tmp } from './harness.js';

const SAMPLE = path.join(ROOT, 'fixtures', 'sample-events.ndjson');

async function start(args: string[]): Promise<{ url: string; child: ReturnType<typeof cliSpawn> }> {
  const child = cliSpawn(['serve', '--port', '0', '--json', ...args]);
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve((JSON.parse(line!) as { url: string }).url);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  return { url, child };
}

test('serve answers /healthz, /metrics and /events on loopback, pages with X-Next-Cursor, and stops on SIGTERM', async (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  assert.equal(cli(['ingest', SAMPLE, '--dir', dir]).code, 0);
  const { url, child } = await start(['--dir', dir]);
  t.after(() => child.kill('SIGKILL'));
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);

  const health = await fetch(`${url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'healthy');

  const metrics = await fetch(`${url}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const text = await metrics.text();
  assert.match(text, /^redb_audit_tenant_events\{tenant="acme-health",shard="0"\} \d+$/m);

  const page = await fetch(`${url}/events?tenant=acme-health&action=auth.login&limit=3&order=asc`);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('content-type'), 'application/x-ndjson');
  const first = (await page.text()).trim().split('\n').map((l) => JSON.parse(l) as { id: string; action: string; timestamp: number });
  assert.equal(first.length, 3);
  assert.ok(first.every((e) => e.action === 'auth.login'));
  const cursor = page.headers.get('x-next-cursor');
  assert.ok(cursor);
  const next = await fetch(`${url}/events?tenant=acme-health&action=auth.login&limit=3&order=asc&cursor=${encodeURIComponent(cursor)}`);
  const second = (await next.text()).trim().split('\n').map((l) => JSON.parse(l) as { id: string; timestamp: number });
  assert.ok(second[0]!.timestamp >= first[2]!.timestamp);
  assert.ok(!first.some((e) => second.some((s) => s.id === e.id)));

  const bad = await fetch(`${url}/events?tenant=acme-health&outcome=exploded`);
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /outcome/);
  assert.equal((await fetch(`${url}/nope`)).status, 404);
  assert.equal((await fetch(`${url}/events?tenant=x`, { method: 'POST' })).status, 405);

  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
});

test('serve with --token-file answers 401 without the bearer token and 200 with it', async (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const token = 'a-long-enough-secret-token-0123456789';
  fs.writeFileSync(path.join(root, 'token'), `${token}\n`);
  const { url, child } = await start(['--dir', dir, '--token-file', path.join(root, 'token')]);
  t.after(() => child.kill('SIGKILL'));
  assert.equal((await fetch(`${url}/healthz`)).status, 401);
  assert.equal((await fetch(`${url}/healthz`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status, 401);
  assert.equal((await fetch(`${url}/healthz`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  child.kill('SIGTERM');
  assert.equal(await new Promise<number | null>((resolve) => child.on('exit', resolve)), 0);
});
