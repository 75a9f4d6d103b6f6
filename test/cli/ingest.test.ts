import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN, cli, ensureBuilt, json, ROOT, tmp } from './harness.js';

const SAMPLE = path.join(ROOT, 'fixtures', 'sample-events.ndjson');
const SAMPLE_LINES = fs.readFileSync(SAMPLE, 'utf8').trim().split('\n');

interface IngestJson {
  inserted: number;
  duplicates: number;
  batches: number;
  rejected: { line: number; error: string }[];
  stoppedAtLine: number | null;
}

function count(dir: string, tenant: string): number {
  return json<{ count: number }>(cli(['query', '--dir', dir, '--tenant', tenant, '--count', '--json'])).count;
}

test('ingest loads the sample file in batches; a second ingest of the same ids writes nothing', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir, '--shards', '2']).code, 0);
  const r = cli(['ingest', SAMPLE, '--dir', dir, '--batch-size', '64', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = json<IngestJson>(r);
  assert.equal(out.inserted, SAMPLE_LINES.length);
  assert.equal(out.batches, Math.ceil(SAMPLE_LINES.length / 64));
  assert.deepEqual(out.rejected, []);
  const expected = SAMPLE_LINES.filter((l) => JSON.parse(l).tenantId === 'acme-health').length;
  assert.equal(count(dir, 'acme-health'), expected);
  const again = json<IngestJson>(cli(['ingest', SAMPLE, '--dir', dir, '--json']));
  assert.equal(again.inserted, 0);
  assert.equal(again.duplicates, SAMPLE_LINES.length);
});

test('ingest reads stdin with -, and prints a one-line summary when not on a terminal', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const r = cli(['ingest', '-', '--dir', dir], { input: SAMPLE_LINES.slice(0, 30).join('\n') });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ingested 30 event\(s\) from - in .*0 line\(s\) rejected\n$/);
  assert.equal(r.stderr, '');
});

function withBadLines(root: string): string {
  const lines = SAMPLE_LINES.slice(0, 20);
  lines[4] = '{"tenantId": "acme-health", "actor": {"id": "a"}';
  lines[11] = JSON.stringify({ ...JSON.parse(lines[11]!), outcome: 'exploded' });
  lines.splice(15, 0, '');
  const file = path.join(root, 'bad.ndjson');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

test('ingest --on-error stop commits every line before the first rejected one and nothing after, exit 1', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const r = cli(['ingest', withBadLines(root), '--dir', dir, '--batch-size', '3', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const out = json<IngestJson>(r);
  assert.equal(out.stoppedAtLine, 5);
  assert.deepEqual(out.rejected.map((x) => x.line), [5]);
  assert.match(out.rejected[0]!.error, /line 5 is not valid JSON/);
  assert.equal(out.inserted, 4);
  const human = cli(['ingest', withBadLines(root), '--dir', path.join(root, 'none')]);
  assert.equal(human.code, 6, 'a missing store is reported before any line is read');
});

test('ingest --on-error skip commits every valid line and reports each rejected one by line number', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const r = cli(['ingest', withBadLines(root), '--dir', dir, '--batch-size', '4', '--on-error', 'skip']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /ingested 18 event\(s\).*2 line\(s\) rejected/);
  assert.match(r.stderr, /^rejected line 5: line 5 is not valid JSON/m);
  assert.match(r.stderr, /^rejected line 12: line 12\.outcome must be one of success, failure, denied, unknown/m);
  const all = json<{ count: number }>(cli(['query', '--dir', dir, '--all-tenants', '--count', '--json'])).count;
  assert.ok(all >= 18);
});

test('ingest of a missing file exits 6 and writes nothing', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const r = cli(['ingest', path.join(dir, 'nope.ndjson'), '--dir', dir]);
  assert.equal(r.code, 6);
  assert.match(r.stderr, /does not exist/);
});

test('on a terminal ingest draws a progress bar with the percentage, the count, the rate and the ETA', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  ensureBuilt();
  // script(1) runs the binary on a pseudo-terminal, as an operator's shell would.
  const command = [process.execPath, BIN, 'ingest', SAMPLE, '--dir', dir, '--batch-size', '50'].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' } });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /ingest \[[█░]+\] \d+% \| \d+ events \| \d+ events\/s \| ETA \d+s/);
  assert.match(r.stdout, /ingested 400 event\(s\)/);
});
