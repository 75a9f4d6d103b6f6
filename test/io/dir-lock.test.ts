/**
 * The directory lock's takeover rule and fencing (io/dir-lock.ts): a live holder on this host is
 * never presumed dead however long it stalls; a holder whose lock was taken acknowledges nothing
 * more; a store opened twice in one process says so. The stale threshold is lowered through
 * REDB_LOCK_STALE_MS so that a stall longer than it takes two seconds, not ten.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Database, LockedError, RedbManager } from '../../src/index.js';
import { enc, tmpDir } from '../support/tmp.js';
import { childArgs } from '../support/child-script.js';

const STALL_CHILD = path.join(import.meta.dirname, '..', 'support', 'stall-writer-child.ts');
const REPO = path.join(import.meta.dirname, '..', '..');
// proper-lockfile's own minimum stale time, so that the same test run against an age-based rule would fail.
const STALE_MS = 2000;

function withStaleThreshold(t: { after: (fn: () => void) => void }): void {
  const before = process.env.REDB_LOCK_STALE_MS;
  process.env.REDB_LOCK_STALE_MS = String(STALE_MS);
  t.after(() => {
    if (before === undefined) delete process.env.REDB_LOCK_STALE_MS;
    else process.env.REDB_LOCK_STALE_MS = before;
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('a holder whose event loop is blocked past the stale threshold keeps its lock, and every commit it acknowledged survives', { timeout: 60_000 }, async (t) => {
  withStaleThreshold(t);
  const dir = tmpDir(t, 'stall');
  const total = 40;
  const stallMs = 3 * STALE_MS;
  const child = spawn(process.execPath, childArgs(STALL_CHILD, dir, '10', String(stallMs), String(total)), {
    cwd: REPO,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const acks: number[] = [];
  const lines: string[] = [];
  let onLine: (l: string) => void = () => {};
  let pending = '';
  child.stdout.on('data', (d: Buffer) => {
    pending += d.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const l = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      lines.push(l);
      if (l.startsWith('ack ')) acks.push(Number(l.slice(4)));
      onLine(l);
    }
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    onLine = (l) => {
      if (l === 'stalling') resolve();
    };
    if (lines.includes('stalling')) resolve();
  });
  // Well past the threshold, while the holder is still blocked: the lock directory has not been
  // refreshed for longer than the stale threshold, yet its holder is alive.
  await sleep(2 * STALE_MS);
  assert.ok(!lines.includes('resumed'), 'the child resumed before the open was tried; the test proved nothing');
  const attempts: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    try {
      Database.open(dir).close();
      attempts.push('opened');
    } catch (err) {
      attempts.push(err);
    }
    await sleep(100);
  }
  for (const a of attempts) {
    assert.ok(a instanceof LockedError && a.reason === 'held' && a.holderPid === child.pid, `an open during the stall took the live holder's lock: ${String(a)}`);
  }
  const code = await closed;
  assert.equal(code, 0, `the holder failed after its stall: ${stderr}`);
  assert.equal(acks.length, total);
  const db = Database.open(dir);
  try {
    for (const i of acks) assert.equal(db.get(enc(`k${i}`))?.toString(), `k${i}`, `acknowledged commit ${i} is gone`);
    assert.equal(db.verify().ok, true);
  } finally {
    db.close();
  }
});

test('a writer whose lock was taken over throws LockedError for every further commit and leaves the new holder alone', async (t) => {
  const dir = tmpDir(t, 'fence');
  const first = Database.open(dir);
  first.write((tx) => tx.put(enc('before'), enc('1')));
  // What a taker does (the owner file first, then the lock directory); then the taker opens.
  fs.rmSync(path.join(dir, 'lock.owner'));
  fs.rmSync(path.join(dir, 'lock'), { recursive: true });
  const second = Database.open(dir);
  t.after(() => second.close());
  assert.throws(
    () => first.write((tx) => tx.put(enc('lost'), enc('x'))),
    (err: unknown) => err instanceof LockedError && err.reason === 'lost' && err.message.includes('not acknowledged'),
  );
  await assert.rejects(first.writeAsync((tx) => tx.put(enc('lost2'), enc('x'))), (err: unknown) => err instanceof LockedError && err.reason === 'lost');
  assert.throws(() => first.checkpoint(), LockedError);
  const data = path.join(dir, 'data.redb');
  const before = fs.statSync(data);
  first.close();
  const after = fs.statSync(data);
  assert.equal(after.mtimeMs, before.mtimeMs, 'closing a writer that lost its lock wrote to the page file');
  assert.ok(fs.existsSync(path.join(dir, 'lock')) && fs.existsSync(path.join(dir, 'lock.owner')), "closing the old writer removed the new holder's lock");
  second.write((tx) => tx.put(enc('second'), enc('2')));
  assert.equal(second.get(enc('before'))?.toString(), '1');
  assert.equal(second.get(enc('lost')), undefined);
});

test('a commit appended before the lock was taken and fsynced after is rejected, not acknowledged', async (t) => {
  const dir = tmpDir(t, 'fence-async');
  const db = Database.open(dir);
  t.after(() => db.close());
  const pending = db.writeAsync((tx) => tx.put(enc('k'), enc('v')));
  // The record is appended; its fsync and acknowledgement come later, after the lock is gone.
  fs.rmSync(path.join(dir, 'lock.owner'));
  await assert.rejects(pending, (err: unknown) => err instanceof LockedError && err.reason === 'lost');
  assert.throws(() => db.get(enc('k')), LockedError);
});

test('a lock held from another host is respected while fresh and taken over once stale', (t) => {
  withStaleThreshold(t);
  const dir = tmpDir(t, 'foreign');
  Database.open(dir).close();
  fs.mkdirSync(path.join(dir, 'lock'));
  const owner = { pid: 1, host: 'another-host.invalid', startTime: null, token: 'feedfacefeedface' };
  fs.writeFileSync(path.join(dir, 'lock.owner'), JSON.stringify(owner));
  assert.throws(() => Database.open(dir), (err: unknown) => err instanceof LockedError && err.holderHost === 'another-host.invalid' && err.holderPid === 1);
  const old = new Date(Date.now() - 5 * STALE_MS);
  fs.utimesSync(path.join(dir, 'lock'), old, old);
  const db = Database.open(dir);
  const record = JSON.parse(fs.readFileSync(path.join(dir, 'lock.owner'), 'utf8')) as { pid: number; host: string };
  assert.equal(record.pid, process.pid);
  assert.equal(record.host, os.hostname());
  db.close();
});

test('opening a store twice in one process names this process, not a stranger', (t) => {
  const baseDir = tmpDir(t, 'twice');
  const m = RedbManager.open({ baseDir, checksumVerification: false });
  t.after(() => m.close());
  assert.throws(
    () => RedbManager.open({ baseDir, checksumVerification: false }),
    (err: unknown) => err instanceof LockedError && err.reason === 'same-process' && err.holderPid === process.pid && /already open in this process/.test(err.message),
  );
  m.writeBatch([{ tenantId: 't', key: enc('k'), value: enc('v') }]);
});
