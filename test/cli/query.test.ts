import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli, json, ROOT } from './harness.js';

const SAMPLE = path.join(ROOT, 'fixtures', 'sample-events.ndjson');
const events = fs.readFileSync(SAMPLE, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; tenantId: string; action: string; outcome: string; timestamp: string; actor: { id: string } });

// Every test here only queries, so they share one store loaded with the sample events (init and
// ingest are two spawns of the binary; their own tests are in init.test.ts and ingest.test.ts).
let root = '';
let dir = '';
before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'redb-cli-query-'));
  dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir, '--shards', '2']).code, 0);
  assert.equal(cli(['ingest', SAMPLE, '--dir', dir]).code, 0);
});
after(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

test('query --json prints the matching events as NDJSON, newest first, and nothing else', () => {
  const r = cli(['query', '--dir', dir, '--tenant', 'acme-health', '--action', 'auth.login', '--outcome', 'failure', '--json', '--limit', '1000']);
  assert.equal(r.code, 0, r.stderr);
  const got = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; timestamp: number });
  const want = events.filter((e) => e.tenantId === 'acme-health' && e.action === 'auth.login' && e.outcome === 'failure');
  assert.ok(want.length > 0);
  assert.deepEqual(new Set(got.map((e) => e.id)), new Set(want.map((e) => e.id)));
  for (let i = 1; i < got.length; i++) assert.ok(got[i - 1]!.timestamp >= got[i]!.timestamp);
});

test('query pages with --limit and --cursor, --asc reverses the order, --from/--to bound the time', () => {
  const tenant = 'globex-pay';
  const mine = events.filter((e) => e.tenantId === tenant).sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
  const first = cli(['query', '--dir', dir, '--tenant', tenant, '--limit', '5', '--asc', '--json']);
  const ids = first.stdout.trim().split('\n').map((l) => JSON.parse(l).id as string);
  assert.deepEqual(ids, mine.slice(0, 5).map((e) => e.id));
  const cursor = /--cursor (\S+)/.exec(first.stderr)![1]!;
  const second = cli(['query', '--dir', dir, '--tenant', tenant, '--limit', '5', '--asc', '--json', '--cursor', cursor]);
  assert.deepEqual(second.stdout.trim().split('\n').map((l) => JSON.parse(l).id as string), mine.slice(5, 10).map((e) => e.id));
  const from = mine[10]!.timestamp;
  const to = mine[20]!.timestamp;
  const bounded = json<{ count: number }>(cli(['query', '--dir', dir, '--tenant', tenant, '--from', from, '--to', to, '--count', '--json']));
  assert.equal(bounded.count, mine.filter((e) => e.timestamp >= from && e.timestamp < to).length);
});

test('query --count prints only the number; --explain names the index; a table for people', () => {
  const actor = events.find((e) => e.tenantId === 'stark-cloud')!.actor.id;
  const n = events.filter((e) => e.tenantId === 'stark-cloud' && e.actor.id === actor).length;
  const count = cli(['query', '--dir', dir, '--tenant', 'stark-cloud', '--actor', actor, '--count']);
  assert.equal(count.stdout, `${n}\n`);
  const plan = json<{ index: string; returnedRows: number }>(cli(['query', '--dir', dir, '--tenant', 'stark-cloud', '--actor', actor, '--explain', '--json']));
  assert.equal(plan.index, 'actor');
  assert.equal(plan.returnedRows, Math.min(n, 100));
  const human = cli(['query', '--dir', dir, '--tenant', 'stark-cloud', '--actor', actor]);
  assert.match(human.stdout, /│ time .*│ actor .*│ action/);
});

test('query needs --tenant or --all-tenants, and rejects bad filter values as usage errors', () => {
  const none = cli(['query', '--dir', dir]);
  assert.equal(none.code, 4);
  assert.match(none.stderr, /--tenant/);
  assert.equal(cli(['query', '--dir', dir, '--tenant', 'x', '--outcome', 'meh']).code, 64);
  assert.equal(cli(['query', '--dir', dir, '--tenant', 'x', '--from', 'yesterday-ish']).code, 64);
  assert.equal(json<{ count: number }>(cli(['query', '--dir', dir, '--tenant', 'nobody', '--count', '--json'])).count, 0);
});
