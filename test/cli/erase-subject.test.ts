import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { cli, json, ROOT, tmp } from './harness.js';

const SAMPLE = path.join(ROOT, 'fixtures', 'sample-events.ndjson');

test('erase-subject nulls the personal data of a subject\'s events, keeps the events, and verify stays clean', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir, '--personal-data']).code, 0);
  assert.equal(cli(['ingest', SAMPLE, '--dir', dir]).code, 0);
  const subject = 'user-41@acme-health.example';
  const before = cli(['query', '--dir', dir, '--tenant', 'acme-health', '--actor', subject, '--json', '--limit', '1000']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(before.length > 0);
  assert.ok(before.every((e) => typeof e.sourceIp === 'string'));

  const r = cli(['erase-subject', subject, '--dir', dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(json<{ tenants: string[] }>(r).tenants, ['acme-health']);
  const after = cli(['query', '--dir', dir, '--tenant', 'acme-health', '--actor', subject, '--json', '--limit', '1000']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(after.length, before.length);
  assert.ok(after.every((e) => e.erased === true && e.sourceIp === null && e.userAgent === null));
  assert.equal(cli(['verify', '--dir', dir]).code, 0);
});

test('erase-subject on a store created without --personal-data says why it cannot', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const r = cli(['erase-subject', 'someone', '--dir', dir]);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /--personal-data/);
});
