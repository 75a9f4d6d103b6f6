/**
 * Issue 13, item 7: opening a path that cannot be a store fails with a typed error that names the
 * path and the fix, and a failed open leaves the file system as it found it: no raw EEXIST /
 * ENOTDIR / EACCES, no store files among someone else's.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AccessDeniedError, CorruptionError, Database, ErrorCode, RedbManager, ValidationError } from '../../src/index.js';
import { enc, tmpDir } from '../support/tmp.js';
import { childArgs } from '../support/child-script.js';

const OPEN_CHILD = path.join(import.meta.dirname, '..', 'support', 'open-child.ts');
const REPO = path.join(import.meta.dirname, '..', '..');

/** Every path below `dir` with its size and mtime: what "nothing changed" is checked against. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const st = fs.statSync(path.join(dir, name));
    out[name] = st.isDirectory() ? 'dir' : `${st.size}@${st.mtimeMs}`;
  }
  return out;
}

test('opening a path that is a file is a ValidationError naming it, and the file is untouched', (t) => {
  const dir = tmpDir(t, 'file');
  const file = path.join(dir, 'notes.txt');
  fs.writeFileSync(file, 'mine');
  const before = tree(dir);
  for (const open of [() => Database.open(file), () => RedbManager.open({ baseDir: file })]) {
    assert.throws(open, (err: unknown) => err instanceof ValidationError && err.message.includes(file) && err.message.includes('is a file'));
  }
  assert.throws(() => Database.open(path.join(file, 'sub')), (err: unknown) => err instanceof ValidationError && /part of the path is a file/.test(err.message));
  assert.deepEqual(tree(dir), before);
});

test('a non-empty directory that holds no store is refused, and nothing is written into it', (t) => {
  const dir = tmpDir(t, 'foreign');
  fs.writeFileSync(path.join(dir, 'report.pdf'), 'someone else');
  fs.mkdirSync(path.join(dir, 'photos'));
  const before = tree(dir);
  assert.throws(
    () => Database.open(dir),
    (err: unknown) => err instanceof ValidationError && err.message.includes(dir) && err.message.includes('report.pdf') && /holds no redb-audit database/.test(err.message),
  );
  assert.throws(() => RedbManager.open({ baseDir: dir }), (err: unknown) => err instanceof ValidationError && /holds no redb-audit store/.test(err.message));
  assert.deepEqual(tree(dir), before);
});

test('garbage in data.redb gives advice that can be followed, and the failed open adds nothing', (t) => {
  const dir = tmpDir(t, 'garbage');
  fs.writeFileSync(path.join(dir, 'data.redb'), Buffer.alloc(20_000, 0x5a));
  const before = tree(dir);
  assert.throws(
    () => Database.open(dir),
    (err: unknown) =>
      err instanceof CorruptionError &&
      err.message.includes(path.join(dir, 'data.redb')) &&
      /restore it from a backup/.test(err.message) &&
      /repair/.test(err.message) &&
      !/run verify\(\)/.test(err.message),
  );
  assert.deepEqual(tree(dir), before, 'the failed open left files behind (a wal directory or lock files)');
});

test('a failed open of a new directory removes the directories it created', (t) => {
  const dir = tmpDir(t, 'new');
  const target = path.join(dir, 'a', 'b');
  assert.throws(() => Database.open(target, { encryption: { key: { file: path.join(dir, 'no-such-key') } } }));
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('a store this user may not write is an AccessDeniedError naming the path, and readOnly still reads it', { skip: process.platform !== 'linux' }, (t) => {
  const dir = tmpDir(t, 'denied');
  fs.chmodSync(dir, 0o755);
  const store = path.join(dir, 'store');
  const db = Database.open(store);
  db.write((tx) => tx.put(enc('k'), enc('v')));
  db.close();
  fs.chmodSync(store, 0o755);
  const before = tree(store);
  // Root may write anywhere: run the opener as an unprivileged user then.
  const asRoot = process.getuid?.() === 0;
  if (!asRoot) fs.chmodSync(store, 0o555);
  const run = (target: string, ro: boolean): { ok: boolean; code?: string; message?: string; value?: string } => {
    const r = spawnSync(process.execPath, childArgs(OPEN_CHILD, target, 'db', ro ? 'ro' : 'rw'), {
      cwd: REPO,
      encoding: 'utf8',
      ...(asRoot ? { uid: 65534, gid: 65534, env: { ...process.env, HOME: '/tmp' } } : {}),
    });
    assert.ok(r.stdout.trim(), `the child printed nothing: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; code?: string; message?: string; value?: string };
  };
  const rw = run(store, false);
  assert.equal(rw.ok, false);
  assert.equal(rw.code, ErrorCode.AccessDenied);
  assert.ok(rw.message!.includes(store) && /readOnly/.test(rw.message!), rw.message);
  assert.equal(new AccessDeniedError('x', 'y', null, 'z').code, ErrorCode.AccessDenied);
  const ro = run(store, true);
  assert.deepEqual(ro, { ok: true, value: 'v' });
  const created = run(path.join(store, 'inner'), false);
  assert.equal(created.code, ErrorCode.AccessDenied, created.message);
  assert.deepEqual(tree(store), before);
  fs.chmodSync(store, 0o755);
});
