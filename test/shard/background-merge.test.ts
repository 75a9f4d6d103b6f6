import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { backgroundMergesDone } from '../../src/shard/data/background-merge.js';
import { MemTable } from '../../src/shard/data/memtable.js';
import { WriteColumns } from '../../src/shard/data/write-columns.js';
import { fullGc } from '../support/full-gc.js';

const MIB = 1 << 20;

/**
 * A memtable of `commits` commits of 2,500 keys, each commit's bytes in an arena of its own of
 * `arenaBytes` (written through, so resident), as the commit log lays them out.
 */
function fill(commits: number, arenaBytes: number, seed: number): MemTable {
  const mem = new MemTable(() => false);
  for (let c = 1; c <= commits; c++) {
    const arena = Buffer.from(new SharedArrayBuffer(arenaBytes)).fill(c);
    const w = new WriteColumns();
    for (let i = 0; i < 2500; i++) {
      const key = arena.subarray(i * 16, i * 16 + 10);
      key.write(String((i * 7919 + c * 104729 + seed) % 1_000_000).padStart(10, '0'), 'latin1');
      w.pushViews(key, arena.subarray(i * 16 + 10, i * 16 + 16));
    }
    mem.add(c, w, () => {});
  }
  return mem;
}

test('the merging thread keeps none of the buffers alive: memory stays flat over rounds of memtables built and dropped', async () => {
  const done = backgroundMergesDone();
  const grown: number[] = [];
  const before = process.memoryUsage().rss;
  for (let round = 0; round < 8; round++) {
    // 64 MiB of arenas a round, merged on the thread as they come, then dropped.
    let mem: MemTable | null = fill(16, 4 * MIB, round);
    for (let i = 0; i < 20; i++) await sleep(5);
    assert.equal(mem.size, 16 * 2500);
    mem = null;
    await fullGc();
    grown.push((process.memoryUsage().rss - before) / MIB);
  }
  assert.ok(backgroundMergesDone() > done, 'no merge ran on the thread');
  // A thread that never collected would hold every arena it was handed: 64 MiB more each round,
  // 384 MiB from the second round to the last.
  const later = grown[7]! - grown[1]!;
  assert.ok(later < 160, `resident memory grew by ${later.toFixed(0)} MiB from round 2 to 8 (per round: ${grown.map((g) => g.toFixed(0)).join(' ')} MiB)`);
});
