import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { cli } from './harness.js';

test('bench runs the audit benchmark against a peer and prints its cross-checked table', () => {
  const r = cli(['bench', '--events', '1000', '--rounds', '1', '--engines', 'redb,sqlite']);
  const results = /^Results: (.+\.jsonl)$/m.exec(r.stdout)?.[1];
  if (results) fs.rmSync(results, { force: true });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /workload\s+redb-audit\s+better-sqlite3/);
  assert.match(r.stdout, /^ingest \(events\/s/m);
  assert.match(r.stdout, /Cross-check: 2 run\(s\) agree/);
});

test('bench rejects an engine it does not know', () => {
  const r = cli(['bench', '--engines', 'redb,oracle']);
  assert.equal(r.code, 64);
  assert.match(r.stderr, /redb,lmdb,sqlite,level/);
});
