import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, ROOT, tmp } from './harness.js';

const SAMPLE = path.join(ROOT, 'fixtures', 'sample-events.ndjson');
const events = fs.readFileSync(SAMPLE, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; tenantId: string; outcome: string });

test('export streams every matching event to --out (ndjson) and to stdout (json)', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  assert.equal(cli(['ingest', SAMPLE, '--dir', dir]).code, 0);
  const want = events.filter((e) => e.tenantId === 'umbrella-lab');
  const out = path.join(root, 'umbrella.ndjson');
  const r = cli(['export', '--dir', dir, '--tenant', 'umbrella-lab', '--format', 'ndjson', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const summary = json<{ events: number; out: string }>(r);
  assert.equal(summary.events, want.length);
  const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
  assert.deepEqual(new Set(lines.map((l) => JSON.parse(l).id)), new Set(want.map((e) => e.id)));
  assert.deepEqual(fs.readdirSync(root).filter((f) => f.includes('.partial-')), []);

  const denied = events.filter((e) => e.tenantId === 'umbrella-lab' && e.outcome === 'denied');
  const stdout = cli(['export', '--dir', dir, '--tenant', 'umbrella-lab', '--outcome', 'denied', '--format', 'json']);
  assert.equal(stdout.code, 0, stdout.stderr);
  assert.equal((JSON.parse(stdout.stdout) as unknown[]).length, denied.length);
  assert.match(stdout.stderr, new RegExp(`exported ${denied.length} event`));
});

test('export refuses an unknown format as a usage error and leaves no file behind', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const r = cli(['export', '--dir', dir, '--tenant', 'x', '--format', 'xml', '--out', path.join(root, 'o')]);
  assert.equal(r.code, 64);
  assert.equal(fs.existsSync(path.join(root, 'o')), false);
});
