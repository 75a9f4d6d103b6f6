import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, ROOT, tmp } from './harness.js';

const SAMPLE = path.join(ROOT, 'fixtures', 'sample-events.ndjson');

test('export --with-proofs writes a bundle that verify-export accepts offline, and an edited or dropped line is caught by number', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  assert.equal(cli(['ingest', SAMPLE, '--dir', dir]).code, 0);
  const bundle = path.join(root, 'bundle.ndjson');
  const r = cli(['export', '--dir', dir, '--tenant', 'acme-health', '--format', 'ndjson', '--with-proofs', '--out', bundle, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { vkey, events } = json<{ vkey: string; events: number }>(r);
  assert.ok(events > 0);
  fs.writeFileSync(path.join(root, 'audit.vkey'), `${vkey}\n`);

  // The store is not needed to verify: remove it.
  fs.rmSync(dir, { recursive: true });
  const ok = cli(['verify-export', bundle, '--vkey', path.join(root, 'audit.vkey'), '--json']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal(json<{ ok: boolean; verified: number }>(ok).verified, events);

  const lines = fs.readFileSync(bundle, 'utf8').split('\n');
  const edited = [...lines];
  edited[2] = edited[2]!.replace('"success"', '"failure"').replace('"denied"', '"success"');
  fs.writeFileSync(path.join(root, 'edited.ndjson'), edited.join('\n'));
  const bad = cli(['verify-export', path.join(root, 'edited.ndjson'), '--vkey', vkey]);
  assert.equal(bad.code, 2);
  assert.match(bad.stdout, /TAMPERED/);
  assert.match(bad.stdout, /line 3: edited/);

  const dropped = lines.filter((_, i) => i !== 5);
  fs.writeFileSync(path.join(root, 'dropped.ndjson'), dropped.join('\n'));
  const gone = json<{ ok: boolean; issues: { kind: string }[] }>(cli(['verify-export', path.join(root, 'dropped.ndjson'), '--vkey', vkey, '--json']));
  assert.equal(gone.ok, false);
  assert.ok(gone.issues.some((i) => i.kind === 'dropped'));
});

test('export --with-proofs is refused for a format other than ndjson; verify-export of a missing file exits 6', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const r = cli(['export', '--dir', dir, '--tenant', 't', '--format', 'json', '--with-proofs', '--out', path.join(root, 'x.json')]);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /ndjson/);
  assert.equal(fs.existsSync(path.join(root, 'x.json')), false);
  assert.equal(cli(['verify-export', path.join(root, 'nope'), '--vkey', 'a+b+c']).code, 6);
});
