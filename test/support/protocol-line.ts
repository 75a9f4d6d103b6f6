/**
 * One protocol line from a test child to its parent, written synchronously to stdout. A pipe to the
 * parent is non-blocking: when the parent is busy (a read-only open, a scan) and the pipe's buffer
 * fills, write(2) fails with EAGAIN instead of waiting. The child then waits a millisecond and
 * writes the rest: a line is never lost or cut, and the child never dies of a busy parent.
 */
import fs from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

export function writeLine(s: string): void {
  const bytes = Buffer.from(`${s}\n`);
  let done = 0;
  while (done < bytes.length) {
    try {
      done += fs.writeSync(1, bytes, done, bytes.length - done);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
