import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { prefaultedReady, prefaultedShared } from '../../src/util/prefaulted-memory.js';
import { fullGc } from '../support/full-gc.js';

const MIB = 1 << 20;

/** Waits until the helper thread has `n` buffers of `bytes` ready (it prepares them in the background). */
async function readyAtLeast(bytes: number, n: number): Promise<number> {
  for (let waited = 0; waited < 5000; waited += 10) {
    const ready = prefaultedReady(bytes);
    if (ready >= n) return ready;
    await sleep(10);
  }
  return prefaultedReady(bytes);
}

test('a steady size is prepared ahead by the helper thread, and every buffer comes zeroed and of its size', async () => {
  const bytes = 3 * MIB;
  const first = prefaultedShared(bytes);
  assert.ok(first instanceof SharedArrayBuffer);
  assert.equal(first.byteLength, bytes);
  assert.ok(await readyAtLeast(bytes, 2) >= 2, 'two buffers of 3 MiB prepared ahead after the first request');
  for (let i = 0; i < 6; i++) {
    const b = new Uint8Array(prefaultedShared(bytes));
    assert.equal(b.length, bytes);
    assert.ok(b.every((x) => x === 0), 'a prepared buffer is zeroed');
    b.fill(0xff);
  }
  assert.ok(await readyAtLeast(bytes, 2) >= 2, 'the queue is topped up after buffers are taken');
  assert.equal(prefaultedReady(5 * MIB), 0, 'sizes never asked for are not prepared');
});

test('the helper thread keeps none of the buffers alive: memory stays flat over rounds of taking and dropping them', async () => {
  const bytes = MIB;
  prefaultedShared(bytes);
  await readyAtLeast(bytes, 4);
  const grown: number[] = [];
  const before = process.memoryUsage().rss;
  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < 128; i++) {
      new Uint8Array(prefaultedShared(bytes)).fill(1);
      // Time for the thread to keep up, as a commit's other work gives it.
      if (i % 4 === 3) await sleep(3);
    }
    await fullGc();
    grown.push((process.memoryUsage().rss - before) / MIB);
  }
  // Freed memory is reused from round to round. A thread that never collected would hold every
  // buffer: 128 MiB more each round, 768 MiB from the second round to the last.
  const later = grown[7]! - grown[1]!;
  assert.ok(later < 256, `resident memory grew by ${later.toFixed(0)} MiB from round 2 to 8 (per round: ${grown.map((g) => g.toFixed(0)).join(' ')} MiB)`);
});
