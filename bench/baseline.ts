// What one durable commit can cost at best on this machine: write a small record into a file
// whose blocks are already allocated, then fdatasync. Preallocation keeps the file size fixed,
// so fdatasync has no metadata to flush, as in a log that reuses preallocated segments.

import { closeSync, fdatasyncSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { streamRng } from './data.js';
import type { Measure } from './workloads.js';

export const BASELINE_WRITES = 500;
const RECORD_BYTES = 200;
const SLOT_BYTES = 256;

export function measureFdatasync(dir: string, seed: number, writes = BASELINE_WRITES): Measure {
  const file = join(dir, 'baseline.log');
  const fd = openSync(file, 'w+');
  try {
    // Allocate every block the timed loop will touch, and make that allocation durable first.
    writeSync(fd, Buffer.alloc(writes * SLOT_BYTES));
    fsyncSync(fd);
    const record = Buffer.allocUnsafe(RECORD_BYTES);
    streamRng(seed, 'baseline.record').fill(record, 0, RECORD_BYTES);

    const start = process.hrtime.bigint();
    for (let i = 0; i < writes; i++) {
      record.writeUInt32LE(i, 0); // each record differs, as real log records do
      writeSync(fd, record, 0, RECORD_BYTES, i * SLOT_BYTES);
      fdatasyncSync(fd);
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { ops: writes, seconds, opsPerSec: writes / seconds };
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}

/**
 * The same measurement one write at a time, for interleaving with an engine's durable commits: the
 * machine's fsync latency drifts over minutes, so the ratio is fair only between neighbours in time.
 */
export function openAdjacentBaseline(dir: string, seed: number, writes: number): { one(): number; close(): void } {
  const file = join(dir, 'adjacent-baseline.log');
  const fd = openSync(file, 'w+');
  writeSync(fd, Buffer.alloc(writes * SLOT_BYTES));
  fsyncSync(fd);
  const record = Buffer.allocUnsafe(RECORD_BYTES);
  streamRng(seed, 'baseline.record').fill(record, 0, RECORD_BYTES);
  let i = 0;
  return {
    one(): number {
      record.writeUInt32LE(i, 0);
      const start = process.hrtime.bigint();
      writeSync(fd, record, 0, RECORD_BYTES, (i++ % writes) * SLOT_BYTES);
      fdatasyncSync(fd);
      return Number(process.hrtime.bigint() - start) / 1e9;
    },
    close(): void {
      closeSync(fd);
      rmSync(file, { force: true });
    },
  };
}
