/**
 * The sync thread (io/sync-thread.ts): a flush handed to it completes, a failed one reports the
 * error fdatasync gave, and a flush asked for while the thread is busy is the caller's own.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { flushesOnSyncThread, startDatasync } from '../../src/io/sync-thread.js';
import { tmpDir } from '../support/tmp.js';

/** A descriptor no process has open. */
const NOT_OPEN = 2 ** 30;

test('a flush on the sync thread completes, a failed one throws fdatasync’s error, and one asked for while it is busy is done by the caller', async (t) => {
  const file = path.join(tmpDir(t, 'sync-thread'), 'f');
  const fd = fs.openSync(file, 'w+');
  t.after(() => fs.closeSync(fd));
  fs.writeSync(fd, Buffer.from('written before the flush'));

  // The thread starts on first use; until it runs, flushes are the caller's.
  const deadline = Date.now() + 10_000;
  while (flushesOnSyncThread() === 0) {
    assert.ok(Date.now() < deadline, 'the sync thread never took a flush');
    startDatasync(fd).finish();
    await sleep(5);
  }

  const handed = flushesOnSyncThread();
  const failed = startDatasync(NOT_OPEN);
  assert.equal(flushesOnSyncThread(), handed + 1, 'the thread was free, so it takes the flush');
  assert.throws(
    () => failed.finish(),
    (err: NodeJS.ErrnoException) => err.code === 'EBADF' && err.syscall === 'fdatasync' && /EBADF/.test(err.message),
  );
  assert.doesNotThrow(() => failed.finish(), 'a second finish() does nothing');

  const first = startDatasync(fd);
  const second = startDatasync(NOT_OPEN);
  assert.equal(flushesOnSyncThread(), handed + 2, 'only the first of two overlapping flushes goes to the thread');
  assert.throws(() => second.finish(), (err: NodeJS.ErrnoException) => err.code === 'EBADF');
  first.finish();
  assert.equal(fs.readFileSync(file, 'utf8'), 'written before the flush');
});
