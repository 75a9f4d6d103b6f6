// Seeded data generation. Every engine runs in its own process, so each process regenerates the
// data from the seed: the same seed must give byte-identical keys, values and probe orders.

import type { Sizes } from './workloads.js';

export const KEY_BYTES = 24;
export const VALUE_BYTES = 128;
const RANDOM_VALUE_BYTES = 64; // the other half is a repeating pattern, so values compress about 2:1

// xoshiro128** on 32-bit integers: fast, good statistical quality, and no BigInt on the hot path.
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // Expand the seed with splitmix32 so that nearby seeds give unrelated states and the state is
    // never all zero (which would make xoshiro emit zeros forever).
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform integer in [0, n) for n < 2^32 (multiply-shift; the bias is far below measurement noise). */
  below(n: number): number {
    return Math.floor((this.nextU32() / 0x1_0000_0000) * n);
  }

  fill(bytes: Uint8Array, offset: number, length: number): void {
    let i = offset;
    const end = offset + length;
    for (; i + 4 <= end; i += 4) {
      const r = this.nextU32();
      bytes[i] = r & 0xff;
      bytes[i + 1] = (r >>> 8) & 0xff;
      bytes[i + 2] = (r >>> 16) & 0xff;
      bytes[i + 3] = r >>> 24;
    }
    if (i < end) {
      let r = this.nextU32();
      for (; i < end; i++, r >>>= 8) bytes[i] = r & 0xff;
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A separate generator per purpose, so resizing one workload does not reshuffle the others. */
export function streamRng(seed: number, label: string): Rng {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return new Rng(h >>> 0);
}

const PATTERN = new TextEncoder().encode('audit-event;outcome=ok;actor=svc;');

/** `count` random keys, as views into one buffer (no per-key allocation beyond the view). A key is a
 * whole number of the generator's 4-byte words, so a sequence generated in chunks from one generator
 * is the same as the sequence generated whole. */
export function makeKeys(rng: Rng, count: number): Buffer[] {
  const all = Buffer.allocUnsafe(count * KEY_BYTES);
  rng.fill(all, 0, all.length);
  const keys = new Array<Buffer>(count);
  for (let i = 0; i < count; i++) keys[i] = all.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES);
  return keys;
}

/**
 * `count` values of 64 random bytes followed by 64 bytes of a repeating, per-value shifted text.
 * `first` is the index of the first value in a longer sequence: generating a sequence in chunks
 * from one generator, each chunk given its first index, gives the same bytes as generating it whole.
 */
export function makeValues(rng: Rng, count: number, first = 0): Buffer[] {
  const all = Buffer.allocUnsafe(count * VALUE_BYTES);
  const values = new Array<Buffer>(count);
  for (let i = 0; i < count; i++) {
    const base = i * VALUE_BYTES;
    rng.fill(all, base, RANDOM_VALUE_BYTES);
    for (let j = RANDOM_VALUE_BYTES; j < VALUE_BYTES; j++) {
      all[base + j] = PATTERN[(first + i + j) % PATTERN.length]!;
    }
    values[i] = all.subarray(base, base + VALUE_BYTES);
  }
  return values;
}

/** `count` indices drawn uniformly (with repetition) from [0, n). */
export function makeProbes(rng: Rng, count: number, n: number): Uint32Array {
  const probes = new Uint32Array(count);
  for (let i = 0; i < count; i++) probes[i] = rng.below(n);
  return probes;
}

export type Pair = readonly [key: Uint8Array, value: Uint8Array];

export interface Dataset {
  /** Keys and values of the bulk load; all later reads and deletes refer to these. */
  bulkKeys: Buffer[];
  bulkValues: Buffer[];
  /** Fresh keys and values for the durable workloads (inserted into the loaded store). */
  durableKeys: Buffer[];
  durableValues: Buffer[];
  /** Indices into bulkKeys: which key each get asks for. */
  getProbes: Uint32Array;
  /** Indices into bulkKeys: where each range scan starts. */
  rangeStarts: Uint32Array;
  /** Keys that were never written, for the untimed miss check. */
  absentKeys: Buffer[];
}

export function makeDataset(seed: number, sizes: Sizes): Dataset {
  const durableCount = sizes.batchCommits * sizes.batchPerCommit + sizes.singleCommits;
  return {
    bulkKeys: makeKeys(streamRng(seed, 'bulk.keys'), sizes.bulkPuts),
    bulkValues: makeValues(streamRng(seed, 'bulk.values'), sizes.bulkPuts),
    durableKeys: makeKeys(streamRng(seed, 'durable.keys'), durableCount),
    durableValues: makeValues(streamRng(seed, 'durable.values'), durableCount),
    getProbes: makeProbes(streamRng(seed, 'get.probes'), sizes.gets, sizes.bulkPuts),
    rangeStarts: makeProbes(streamRng(seed, 'range.starts'), sizes.ranges, sizes.bulkPuts),
    absentKeys: makeKeys(streamRng(seed, 'absent.keys'), sizes.verifySamples),
  };
}

/** Split parallel key/value arrays into commits of `perCommit` pairs. */
export function chunkPairs(keys: Uint8Array[], values: Uint8Array[], from: number, to: number, perCommit: number): Pair[][] {
  const commits: Pair[][] = [];
  for (let start = from; start < to; start += perCommit) {
    const end = Math.min(to, start + perCommit);
    const commit: Pair[] = [];
    for (let i = start; i < end; i++) commit.push([keys[i]!, values[i]!]);
    commits.push(commit);
  }
  return commits;
}
