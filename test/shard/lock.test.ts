import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Database, LockedError, RedbManager } from '../../src/index.js';
import { enc, tmpDir } from '../support/tmp.js';
import { childArgs } from '../support/child-script.js';

const CHILD = path.join(import.meta.dirname, '..', 'support', 'hold-lock-child.ts');

/** Starts a process that holds the database (or whole store) open; resolves once it has it. */
export function holdInChild(dir: string, mode: 'db' | 'manager' = 'db'): Promise<ChildProcess> {
  const child = spawn(process.execPath, childArgs(CHILD, dir, mode), { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`lock holder exited early with ${code}`)));
  });
}

export function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.on('exit', () => resolve())));
}

test('a second process gets LockedError naming the holder pid and host', async (t) => {
  const dir = tmpDir(t);
  Database.open(dir).close();
  const child = await holdInChild(dir);
  t.after(() => child.kill('SIGKILL'));
  assert.throws(
    () => Database.open(dir),
    (err: unknown) =>
      err instanceof LockedError &&
      err.holderPid === child.pid &&
      err.holderHost === os.hostname() &&
      err.message.includes(`process ${child.pid}`),
  );
  child.kill('SIGTERM');
  await exited(child);
  Database.open(dir).close();
});

test('a lock left by a killed process is taken over at once, and the data is intact', async (t) => {
  const dir = tmpDir(t);
  const db = Database.open(dir);
  db.write((tx) => tx.put(enc('k'), enc('v')));
  db.close();
  const child = await holdInChild(dir);
  child.kill('SIGKILL');
  await exited(child);
  const started = Date.now();
  const reopened = Database.open(dir);
  // proper-lockfile alone would wait out its 10 s stale timeout; the dead holder is detected instead.
  assert.ok(Date.now() - started < 2000);
  assert.equal(reopened.get(enc('k'))?.toString(), 'v');
  reopened.close();
});

test('a second process opening the same store gets LockedError, and a killed holder is taken over', async (t) => {
  const baseDir = tmpDir(t);
  RedbManager.open({ baseDir }).close();
  const child = await holdInChild(baseDir, 'manager');
  t.after(() => child.kill('SIGKILL'));
  assert.throws(() => RedbManager.open({ baseDir }), (err: unknown) => err instanceof LockedError && err.holderPid === child.pid);
  child.kill('SIGKILL');
  await exited(child);
  const m = RedbManager.open({ baseDir });
  assert.equal(m.health().status, 'healthy');
  m.close();
});
