// The workloads, run in order against one engine in one process. Timed loops do only the engine
// calls plus a cheap touch of each result (so no engine can skip materialising it); the hashing
// for the cross-check runs in separate untimed passes over the same operations.

import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { openAdjacentBaseline } from './baseline.js';
import { basename, dirname, join } from 'node:path';
import { chunkPairs, type Dataset } from './data.js';
import { Digest } from './digest.js';
import { isPromise, type EngineAdapter, type EngineModule } from './engines/types.js';

export interface Sizes {
  bulkPuts: number;
  bulkPerCommit: number;
  batchCommits: number;
  batchPerCommit: number;
  singleCommits: number;
  gets: number;
  ranges: number;
  rangeLength: number;
  deletes: number;
  deletesPerCommit: number;
  /** Gets of present and of absent keys whose results are hashed (untimed). */
  verifySamples: number;
}

const FULL: Sizes = {
  bulkPuts: 300_000,
  bulkPerCommit: 10_000,
  batchCommits: 100,
  batchPerCommit: 100,
  singleCommits: 500,
  gets: 300_000,
  ranges: 2_000,
  rangeLength: 100,
  deletes: 100_000,
  deletesPerCommit: 10_000,
  verifySamples: 2_000,
};

/** Scale the operation counts; scan length and the durable batch size keep their shape. */
export function sizesFor(scale: number): Sizes {
  const s = (n: number): number => Math.max(1, Math.round(n * scale));
  return {
    bulkPuts: s(FULL.bulkPuts),
    bulkPerCommit: s(FULL.bulkPerCommit),
    batchCommits: s(FULL.batchCommits),
    batchPerCommit: FULL.batchPerCommit,
    singleCommits: s(FULL.singleCommits),
    gets: s(FULL.gets),
    ranges: s(FULL.ranges),
    rangeLength: FULL.rangeLength,
    deletes: s(FULL.deletes),
    deletesPerCommit: s(FULL.deletesPerCommit),
    verifySamples: s(FULL.verifySamples),
  };
}

/** The workloads in the order the tables list them. */
export const WORKLOADS = [
  'kv.bulk',
  'kv.batch_durable',
  'kv.single_durable',
  'kv.get_random',
  'kv.range',
  'kv.delete',
] as const;

export type WorkloadName = (typeof WORKLOADS)[number];

/** What one operation of each workload is, at these sizes (for the table's legend). */
export function describeWorkloads(sizes: Sizes): Record<WorkloadName, string> {
  const n = (x: number): string => x.toLocaleString('en-US');
  return {
    'kv.bulk': `one put; ${n(sizes.bulkPuts)} puts in durable commits of ${n(sizes.bulkPerCommit)}`,
    'kv.batch_durable': `one put; ${n(sizes.batchCommits)} durable commits of ${n(sizes.batchPerCommit)}`,
    'kv.single_durable': `one durable commit of a single put; ${n(sizes.singleCommits)} of them`,
    'kv.get_random': `one get of an existing key; ${n(sizes.gets)} of them`,
    'kv.range': `one scan of ${n(sizes.rangeLength)} entries from an existing key; ${n(sizes.ranges)} of them`,
    'kv.delete': `one delete; ${n(sizes.deletes)} in durable commits of ${n(sizes.deletesPerCommit)}`,
  };
}

export interface Measure {
  ops: number;
  seconds: number;
  opsPerSec: number;
}

export interface Footprint {
  /** Sum of file sizes. */
  bytes: number;
  /** Sum of allocated blocks (differs from bytes for sparse or preallocated files). */
  allocatedBytes: number;
}

/** What every engine must agree on; a fast wrong answer must not win. */
export interface Digests {
  getHits: number;
  getSampleHash: string;
  absentHits: number;
  rangeEntries: number;
  rangeHash: string;
  liveCount: number;
  liveHash: string;
}

export interface SuiteResult {
  workloads: Record<WorkloadName, Measure>;
  /** Raw write+fdatasync timed between the single durable commits (same process, same moments). */
  adjacentFdatasync: Measure;
  footprint: { afterBulk: Footprint; afterDelete: Footprint };
  digests: Digests;
}

/** The digest values that follow from the sizes alone, whatever the engine. */
export function expectedDigests(sizes: Sizes): Partial<Digests> {
  return {
    getHits: sizes.gets,
    absentHits: 0,
    liveCount:
      sizes.bulkPuts + sizes.batchCommits * sizes.batchPerCommit + sizes.singleCommits - sizes.deletes,
  };
}

function collectGarbage(): void {
  // Started with --expose-gc: clear the previous workload's garbage so it is not billed to the next.
  (globalThis as { gc?: () => void }).gc?.();
}

async function timed(ops: number, body: () => Promise<void>): Promise<Measure> {
  collectGarbage();
  const start = process.hrtime.bigint();
  await body();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { ops, seconds, opsPerSec: ops / seconds };
}

export function footprint(dir: string): Footprint {
  let bytes = 0;
  let allocatedBytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = footprint(path);
      bytes += inner.bytes;
      allocatedBytes += inner.allocatedBytes;
    } else if (entry.isFile()) {
      const st = statSync(path);
      bytes += st.size;
      allocatedBytes += st.blocks * 512;
    }
  }
  return { bytes, allocatedBytes };
}

export async function runSuite(engine: EngineModule, dir: string, data: Dataset, sizes: Sizes): Promise<SuiteResult> {
  // Prepare every commit before any clock starts.
  const bulkCommits = chunkPairs(data.bulkKeys, data.bulkValues, 0, sizes.bulkPuts, sizes.bulkPerCommit);
  const batchEnd = sizes.batchCommits * sizes.batchPerCommit;
  const batchCommits = chunkPairs(data.durableKeys, data.durableValues, 0, batchEnd, sizes.batchPerCommit);
  const singleCommits = chunkPairs(data.durableKeys, data.durableValues, batchEnd, batchEnd + sizes.singleCommits, 1);
  // The bulk keys are random, so the first `deletes` of them are a random subset of the store.
  const deleteCommits: Uint8Array[][] = [];
  for (let i = 0; i < sizes.deletes; i += sizes.deletesPerCommit) {
    deleteCommits.push(data.bulkKeys.slice(i, Math.min(sizes.deletes, i + sizes.deletesPerCommit)));
  }

  let db = await engine.open(dir);
  const bulk = await timed(sizes.bulkPuts, async () => {
    for (const commit of bulkCommits) {
      const done = db.putBatch(commit);
      if (isPromise(done)) await done;
    }
  });
  await db.close();
  const afterBulk = footprint(dir);

  db = await engine.open(dir);
  let getHits = 0;
  let touched = 0; // summed so that no engine can hand back a lazy value without reading it
  const getRandom = await timed(sizes.gets, async () => {
    for (let i = 0; i < sizes.gets; i++) {
      let value = db.get(data.bulkKeys[data.getProbes[i]!]!);
      if (isPromise(value)) value = await value;
      if (value !== undefined) {
        getHits++;
        touched += value[value.length - 1]!;
      }
    }
  });

  let rangeEntries = 0;
  const touch = (_key: Uint8Array, value: Uint8Array): void => {
    touched += value[0]!;
  };
  const range = await timed(sizes.ranges, async () => {
    for (let i = 0; i < sizes.ranges; i++) {
      let n = db.range(data.bulkKeys[data.rangeStarts[i]!]!, sizes.rangeLength, touch);
      if (isPromise(n)) n = await n;
      rangeEntries += n;
    }
  });

  const reads = await verifyReads(db, data, sizes);

  const batchDurable = await timed(batchEnd, async () => {
    for (const commit of batchCommits) {
      const done = db.putBatch(commit);
      if (isPromise(done)) await done;
    }
  });
  // Each commit is followed by one raw write+fdatasync, timed apart, for a fair ratio (baseline.ts).
  const scratch = join(dirname(dir), `${basename(dir)}-baseline`);
  mkdirSync(scratch, { recursive: true });
  const adjacent = openAdjacentBaseline(scratch, 1, sizes.singleCommits);
  let commitSeconds = 0;
  let rawSeconds = 0;
  collectGarbage();
  for (const commit of singleCommits) {
    const start = process.hrtime.bigint();
    const done = db.putBatch(commit);
    if (isPromise(done)) await done;
    commitSeconds += Number(process.hrtime.bigint() - start) / 1e9;
    rawSeconds += adjacent.one();
  }
  adjacent.close();
  rmSync(scratch, { recursive: true, force: true });
  const singleDurable: Measure = { ops: sizes.singleCommits, seconds: commitSeconds, opsPerSec: sizes.singleCommits / commitSeconds };
  const adjacentFdatasync: Measure = { ops: sizes.singleCommits, seconds: rawSeconds, opsPerSec: sizes.singleCommits / rawSeconds };
  const del = await timed(sizes.deletes, async () => {
    for (const keys of deleteCommits) {
      const done = db.deleteBatch(keys);
      if (isPromise(done)) await done;
    }
  });

  const live = await scanAll(db);
  await db.close();
  const afterDelete = footprint(dir);

  if (touched < 0) throw new Error('unreachable: keeps the touched sum alive');
  return {
    adjacentFdatasync,
    workloads: {
      'kv.bulk': bulk,
      'kv.batch_durable': batchDurable,
      'kv.single_durable': singleDurable,
      'kv.get_random': getRandom,
      'kv.range': range,
      'kv.delete': del,
    },
    footprint: { afterBulk, afterDelete },
    digests: { getHits, rangeEntries, ...reads, liveCount: live.count, liveHash: live.hash },
  };
}

/** Untimed: hash sampled get results, count hits on absent keys, and hash every range result. */
async function verifyReads(db: EngineAdapter, data: Dataset, sizes: Sizes) {
  const gets = new Digest();
  for (let i = 0; i < sizes.verifySamples && i < sizes.gets; i++) {
    let value = db.get(data.bulkKeys[data.getProbes[i]!]!);
    if (isPromise(value)) value = await value;
    if (value === undefined) gets.number(0xffffffff);
    else gets.bytes(value);
  }
  let absentHits = 0;
  for (const key of data.absentKeys) {
    let value = db.get(key);
    if (isPromise(value)) value = await value;
    if (value !== undefined) absentHits++;
  }
  const ranges = new Digest();
  const hashEntry = (key: Uint8Array, value: Uint8Array): void => {
    ranges.bytes(key).bytes(value);
  };
  for (let i = 0; i < sizes.ranges; i++) {
    let n = db.range(data.bulkKeys[data.rangeStarts[i]!]!, sizes.rangeLength, hashEntry);
    if (isPromise(n)) n = await n;
    ranges.number(n);
  }
  return { getSampleHash: gets.hex(), absentHits, rangeHash: ranges.hex() };
}

/** Untimed: count and hash every live entry, from the smallest possible non-empty key. */
async function scanAll(db: EngineAdapter): Promise<{ count: number; hash: string }> {
  const digest = new Digest();
  // Every key here is 24 bytes, so all of them sort at or after the single byte 0x00; this avoids
  // relying on how each API spells "from the beginning".
  let count = db.range(Uint8Array.of(0), Infinity, (key, value) => {
    digest.bytes(key).bytes(value);
  });
  if (isPromise(count)) count = await count;
  return { count, hash: digest.hex() };
}
