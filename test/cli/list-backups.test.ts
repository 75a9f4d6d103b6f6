import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, json, tmp } from './harness.js';
import { seedKv } from './seed.js';

interface Listed {
  backups: { name: string; kind: string; needs: string[]; chainProblem: string | null }[];
  unreadable: { dir: string }[];
}

test('list-backups lists the backups of a directory oldest first, with the bases each needs', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  seedKv(dir, 300);
  const b = path.join(root, 'backups');
  assert.equal(cli(['backup', path.join(b, '1-full'), '--dir', dir]).code, 0);
  assert.equal(cli(['backup', path.join(b, '2-inc'), '--since', path.join(b, '1-full'), '--dir', dir]).code, 0);
  fs.mkdirSync(path.join(b, 'not-a-backup'));
  const r = cli(['list-backups', b, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = json<Listed>(r);
  assert.deepEqual(out.backups.map((x) => [x.name, x.kind, x.needs.length]), [['1-full', 'full', 0], ['2-inc', 'incremental', 1]]);
  assert.match(cli(['list-backups', b]).stdout, /2-inc/);
});

test('list-backups exits 1 and says why when a backup is damaged or its base is gone', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const b = path.join(root, 'backups');
  assert.equal(cli(['backup', path.join(b, 'full'), '--dir', dir]).code, 0);
  assert.equal(cli(['backup', path.join(b, 'inc'), '--since', path.join(b, 'full'), '--dir', dir]).code, 0);
  fs.appendFileSync(path.join(b, 'full', 'backup.manifest.json'), ' ');
  const r = cli(['list-backups', b, '--json']);
  assert.equal(r.code, 1);
  const out = json<Listed>(r);
  assert.equal(out.unreadable.length, 0, 'trailing whitespace changes the digest but not the checksum');
  assert.match(out.backups.find((x) => x.name === 'inc')!.chainProblem ?? '', /missing or changed/);
  assert.equal(cli(['list-backups', path.join(root, 'none')]).code, 6);
});
