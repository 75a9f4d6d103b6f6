/**
 * fdatasync on a helper thread. A durable commit used to wait for the disk and only then apply its
 * writes to memory; with the flush running here, the committing thread applies them meanwhile and
 * waits afterwards (Database.write). What is acknowledged, and when, does not change: only the two
 * jobs overlap.
 *
 * One thread per process, started when a file is first opened for writing (prepareSyncThread),
 * holding no event loop open. One flush at a time:
 * a request made while another is running, or before the thread is up, or where threads cannot start
 * at all, is done by the caller when it waits, exactly as `fs.fdatasyncSync` would.
 *
 * Shared memory (Int32 words of `ctrl`):
 *   REQUEST  bumped by the caller for each request; the thread sleeps on it
 *   DONE     the request the thread finished last; the caller sleeps on it
 *   FD       the descriptor to flush
 *   RESULT   0, or the failed call's errno (negative, as libuv reports it)
 *   READY    1 once the thread runs
 */
import { getSystemErrorName } from 'node:util';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { once } from '../util/once.js';
import type { PendingDatasync } from './file-io.js';

const REQUEST = 0;
const DONE = 1;
const FD = 2;
const RESULT = 3;
const READY = 4;
const WORDS = 5;

/** Errno the thread reports when a failure carries none (it never should). */
const EIO = -5;

/** Source text, as with the compression pool: the same under tsx and in dist/. */
const WORKER_SOURCE = `
const fs = require('node:fs');
const { workerData } = require('node:worker_threads');
const ctrl = new Int32Array(workerData.ctrl);
Atomics.store(ctrl, ${READY}, 1);
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, ${REQUEST}, seen);
  seen = Atomics.load(ctrl, ${REQUEST});
  let result = 0;
  try {
    fs.fdatasyncSync(Atomics.load(ctrl, ${FD}));
  } catch (err) {
    result = typeof err.errno === 'number' && err.errno < 0 ? err.errno : ${EIO};
  }
  Atomics.store(ctrl, ${RESULT}, result);
  Atomics.store(ctrl, ${DONE}, seen);
  Atomics.notify(ctrl, ${DONE});
}
`;

class SyncThread {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(WORDS * 4));
  private worker: Worker | null = null;
  private cannotStart = false;
  private busy = false;
  /** Flushes handed to the thread so far. */
  handedOver = 0;

  /** Flushes `fd` on the thread when it is free and running, else when the caller waits. */
  start(fd: number): PendingDatasync {
    this.ensureStarted();
    if (this.busy || Atomics.load(this.ctrl, READY) === 0) return { finish: once(() => fs.fdatasyncSync(fd)) };
    this.busy = true;
    this.handedOver++;
    const ctrl = this.ctrl;
    Atomics.store(ctrl, FD, fd);
    const request = (Atomics.load(ctrl, REQUEST) + 1) | 0;
    Atomics.store(ctrl, REQUEST, request);
    Atomics.notify(ctrl, REQUEST);
    return {
      finish: once(() => {
        try {
          for (let done = Atomics.load(ctrl, DONE); done !== request; done = Atomics.load(ctrl, DONE)) Atomics.wait(ctrl, DONE, done);
        } finally {
          this.busy = false;
        }
        const errno = Atomics.load(ctrl, RESULT);
        if (errno !== 0) throw syncError(errno);
      }),
    };
  }

  ensureStarted(): void {
    if (this.worker || this.cannotStart) return;
    try {
      this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ctrl: this.ctrl.buffer }, stdout: false, stderr: false });
    } catch {
      // Workers refused (a permission model without --allow-worker, a thread limit): every flush
      // is then the caller's own, as before this thread existed.
      this.cannotStart = true;
      return;
    }
    this.worker.unref();
    // A thread that dies leaves READY set but answers nothing more: stop handing it work. The
    // request it held, if any, is waited for by its caller, so it must not die holding one; its
    // loop catches every error of the call it makes.
    this.worker.on('error', () => {
      this.cannotStart = true;
      Atomics.store(this.ctrl, READY, 0);
    });
  }
}

/** The error fs.fdatasyncSync would have thrown for `errno`. */
function syncError(errno: number): NodeJS.ErrnoException {
  let code: string;
  try {
    code = getSystemErrorName(errno);
  } catch {
    code = 'EIO';
  }
  const err = new Error(`${code}: fdatasync failed`) as NodeJS.ErrnoException;
  err.code = code;
  err.errno = errno;
  err.syscall = 'fdatasync';
  return err;
}

let thread: SyncThread | null = null;

/**
 * Starts the thread if it is not running yet. A thread takes tens of milliseconds to come up, and
 * flushes asked for before it runs are the caller's own: a store opened for writing starts it then,
 * so that its first large commits already find it running.
 */
export function prepareSyncThread(): void {
  thread ??= new SyncThread();
  thread.ensureStarted();
}

/** Starts flushing `fd` (see the module comment); call `finish()` before using `fd` again. */
export function startDatasync(fd: number): PendingDatasync {
  thread ??= new SyncThread();
  return thread.start(fd);
}

/** @internal For tests: how many flushes went to the thread so far. */
export function flushesOnSyncThread(): number {
  return thread?.handedOver ?? 0;
}
