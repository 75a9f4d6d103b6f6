import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, tmp } from './harness.js';
import type { DemoSummary } from '../../src/cli/verbs/demo.js';

test('the demo (npm start) runs the whole story on generated events and every check passes', () => {
  const r = cli(['demo', '--tmp', '--events', '5000', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = json<DemoSummary>(r);
  assert.equal(s.ok, true);
  assert.equal(s.events, 5000);
  assert.equal(s.verify.status, 'clean');
  assert.equal(s.restore.verify, 'clean');
  assert.equal(s.restore.sameCounts, true);
  assert.equal(s.queries.length, 5);
  assert.ok(s.queries.slice(0, 3).every((q) => q.matches > 0), JSON.stringify(s.queries));
  assert.equal(fs.existsSync(s.dir), false, '--tmp removes its directory');
  assert.match(r.stderr, /1\. generated 5000 events/);
});

test('the demo on the committed fixture keeps its store in --dir, replaces its own store on a rerun, and never touches a foreign one', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 'redb-audit-data');
  const first = cli(['demo', '--dir', dir, '--fixture']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /All checks passed/);
  assert.match(first.stdout, /node (dist\/cli\/main\.js|\S+main\.js) query --dir /);
  assert.equal(json<{ count: number }>(cli(['query', '--dir', dir, '--all-tenants', '--count', '--json'])).count >= 400, true);
  assert.equal(cli(['demo', '--dir', dir, '--fixture', '--quiet']).code, 0, 'a rerun replaces the demo\'s own store');

  const foreign = path.join(root, 'foreign');
  assert.equal(cli(['init', '--dir', foreign]).code, 0);
  const r = cli(['demo', '--dir', foreign, '--fixture']);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /did not create/);
  assert.ok(fs.existsSync(path.join(foreign, 'redb.manifest.json')));
});
