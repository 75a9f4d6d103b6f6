// The one interface every engine adapter implements. The workloads call only these methods, so
// the timed code is the same for every engine and the adapters stay thin.

import type { Pair } from '../data.js';

/** Synchronous engines return plain values; the workloads await only when given a promise, so a
 * synchronous engine does not pay a microtask per operation that the engine itself never costs. */
export type MaybePromise<T> = T | Promise<T>;

/** Called once per entry of a range scan, in key order. The arrays may be reused after it returns. */
export type Visit = (key: Uint8Array, value: Uint8Array) => void;

export interface EngineAdapter {
  /** The directory that holds all of this engine's files (measured for the footprint). */
  readonly dir: string;
  /** One atomic commit of all the pairs, durable (fsynced) before it returns or resolves. */
  putBatch(pairs: readonly Pair[]): MaybePromise<void>;
  /** One atomic, durable commit deleting all the keys. */
  deleteBatch(keys: readonly Uint8Array[]): MaybePromise<void>;
  get(key: Uint8Array): MaybePromise<Uint8Array | undefined>;
  /** Visit up to `limit` entries with key >= start, ascending (limit may be Infinity); returns how many. */
  range(start: Uint8Array, limit: number, visit: Visit): MaybePromise<number>;
  /** Release everything; after this the directory holds exactly what a reopen would find. */
  close(): MaybePromise<void>;
  /** For an engine that checkpoints in the foreground (redb-audit): the files only a checkpoint
   * writes, which the sustained benchmark stats around each commit to tell which commits ran one. */
  checkpointFiles?(): string[];
}

export interface EngineModule {
  /** Open (creating if needed) a store in `dir` with the benchmark's durable settings. */
  open(dir: string): MaybePromise<EngineAdapter>;
}

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return value instanceof Promise;
}
