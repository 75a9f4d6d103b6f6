/**
 * zstd compression of many payloads at once, on the calling thread and on worker threads together:
 * a checkpoint compresses every leaf it writes, which was a quarter of the committing thread's CPU
 * on random-key ingest, while the machine's other cores sat idle. The caller still gets its results
 * synchronously (a checkpoint step runs inside a commit, with no event loop turn to wait for).
 *
 * One pool per process (module instance), shared by every store: its workers start on first use,
 * hold no event loop open, and never block the caller. A round hands its jobs out through shared
 * memory; the calling thread takes jobs too, so a worker that is slow to start, or never starts,
 * costs speed, not progress. The caller waits only for jobs a worker has already claimed.
 *
 * Shared memory (Int32 words of `ctrl`):
 *   NEXT    the next job to claim: round number (15 bits) << 16 | job index. Claimed by
 *           compare-and-swap, so a worker that read NEXT in an earlier round cannot claim in this one.
 *           Between rounds the index is CLOSED (no job can be claimed while the table is rewritten).
 *   COUNT   jobs in this round
 *   DONE    jobs finished in this round; the caller sleeps on it
 *   WAKE    bumped to wake the workers for a round
 *   BY_WORKERS  jobs the workers have finished since the pool started (statistics)
 *   READY   workers running
 *   then per job, JOB_WORDS words: input offset, input length, level, output offset, output
 *   capacity, result (compressed length, NOT_SMALLER, or FAILED)
 * Inputs are copied into `input`; each job's result lands in its own slice of `output`.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

const NEXT = 0;
const COUNT = 1;
const DONE = 2;
const WAKE = 3;
const BY_WORKERS = 4;
const READY = 5;
const JOBS_AT = 8;
const JOB_WORDS = 6;
const CLOSED = 0xffff;
/** Jobs per round. */
export const MAX_COMPRESSION_ROUND = 512;
/** Bytes of input per round; a larger payload is compressed by the caller alone. */
const INPUT_BYTES = 4 << 20;
/** Result: compressing did not make the payload smaller. */
const NOT_SMALLER = -1;
/** Result: the worker failed on this job (the caller compresses it again itself). */
const FAILED = -2;
/** Most workers a pool starts, whatever the machine. */
export const MAX_COMPRESSION_THREADS = 8;

interface ZstdBinding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  compressBound(size: number): number;
}

/**
 * The worker, as source text: a worker started from a file would need a different path under tsx
 * (TypeScript sources) and in dist/, and a function's own source text may carry the transpiler's
 * helpers. It loops: sleep until WAKE moves, claim jobs until none is left, repeat.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const binding = require(workerData.binding);
const ctrl = new Int32Array(workerData.ctrl);
const input = new Uint8Array(workerData.input);
const output = new Uint8Array(workerData.output);
const cctx = new binding.CCtx();
Atomics.add(ctrl, ${READY}, 1);
let wake = 0;
for (;;) {
  Atomics.wait(ctrl, ${WAKE}, wake);
  wake = Atomics.load(ctrl, ${WAKE});
  for (;;) {
    const next = Atomics.load(ctrl, ${NEXT});
    const job = next & 0xffff;
    const count = Atomics.load(ctrl, ${COUNT});
    if (job >= count) break;
    if (Atomics.compareExchange(ctrl, ${NEXT}, next, next + 1) !== next) continue;
    const at = ${JOBS_AT} + job * ${JOB_WORDS};
    let result;
    try {
      const inOff = ctrl[at], inLen = ctrl[at + 1], level = ctrl[at + 2], outOff = ctrl[at + 3], outCap = ctrl[at + 4];
      const n = cctx.compress(output.subarray(outOff, outOff + outCap), input.subarray(inOff, inOff + inLen), level);
      result = n < inLen ? n : ${NOT_SMALLER};
    } catch {
      result = ${FAILED};
    }
    ctrl[at + 5] = result;
    Atomics.add(ctrl, ${BY_WORKERS}, 1);
    if (Atomics.add(ctrl, ${DONE}, 1) + 1 === count) Atomics.notify(ctrl, ${DONE});
  }
}
`;

/** The workers a pool starts by default: one per core beyond the caller's, at most two. */
export function defaultCompressionThreads(): number {
  return Math.max(0, Math.min(2, availableParallelism() - 1));
}

class CompressionPool {
  private readonly binding = require('zstd-napi/binding') as ZstdBinding;
  private readonly cctx = new this.binding.CCtx();
  private readonly ctrl = new Int32Array(new SharedArrayBuffer((JOBS_AT + MAX_COMPRESSION_ROUND * JOB_WORDS) * 4));
  private readonly input = new Uint8Array(new SharedArrayBuffer(INPUT_BYTES));
  private readonly output = new Uint8Array(new SharedArrayBuffer(this.binding.compressBound(INPUT_BYTES) + MAX_COMPRESSION_ROUND * 64));
  private readonly workers: Worker[] = [];
  private round = 0;
  /** Whether starting a worker failed once (then none is tried again). */
  private cannotStart = false;
  /** Whether a round was started and not taken yet. */
  private busy = false;
  /** The payload index of each job of the open round. */
  private readonly jobs: number[] = [];

  constructor() {
    Atomics.store(this.ctrl, NEXT, CLOSED);
  }

  /** Starts workers until there are `n` (at most MAX_COMPRESSION_THREADS). */
  grow(n: number): void {
    while (!this.cannotStart && this.workers.length < Math.min(n, MAX_COMPRESSION_THREADS)) {
      let worker: Worker;
      try {
        worker = new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: { binding: require.resolve('zstd-napi/binding'), ctrl: this.ctrl.buffer, input: this.input.buffer, output: this.output.buffer },
          stdout: false,
          stderr: false,
        });
      } catch {
        // Workers refused (a permission model without --allow-worker, a thread limit): the caller
        // compresses everything itself, as with compressionThreads 0.
        this.cannotStart = true;
        return;
      }
      worker.unref();
      // A worker that fails to start or dies only leaves its share of the work to the caller (see
      // compressAll); a failure here must not become an unhandled 'error' event.
      worker.on('error', () => {});
      this.workers.push(worker);
    }
  }

  /** Workers started, and how many jobs they have done. */
  stats(): { workers: number; ready: number; jobsByWorkers: number } {
    return { workers: this.workers.length, ready: Atomics.load(this.ctrl, READY), jobsByWorkers: Atomics.load(this.ctrl, BY_WORKERS) };
  }

  /**
   * zstd at `level` for each payload: the compressed bytes, or null when that is not smaller. A
   * result is a view of shared memory that the next round overwrites: copy it out first.
   */
  compressAll(payloads: readonly Uint8Array[], level: number): (Uint8Array | null)[] {
    return this.start(payloads, level).take();
  }

  /**
   * Starts compressing `payloads` (see {@link compressAll}): the workers begin at once, and `take()`
   * returns the results, compressing whatever no worker has claimed on the calling thread. The
   * caller may do other work in between, but no other round can start until `take()`: one round at
   * a time shares the pool's memory.
   */
  start(payloads: readonly Uint8Array[], level: number): { take(): (Uint8Array | null)[] } {
    if (this.busy) throw new Error('internal: a compression round was started before the previous one was taken');
    this.busy = true;
    const results = new Array<Uint8Array | null>(payloads.length).fill(null);
    let from: number;
    try {
      from = this.openRound(payloads, 0, level, results);
    } catch (err) {
      this.busy = false;
      throw err;
    }
    return {
      take: () => {
        try {
          this.finishRound(payloads, results);
          while (from < payloads.length) {
            // The next round reuses the shared memory the results so far are views of.
            for (let i = 0; i < from; i++) if (results[i]?.buffer === this.output.buffer) results[i] = results[i]!.slice();
            from = this.openRound(payloads, from, level, results);
            this.finishRound(payloads, results);
          }
        } finally {
          this.busy = false;
        }
        return results;
      },
    };
  }

  /**
   * Opens a round of the payloads from `from` on, as many as fit, and wakes the workers; returns where
   * the next round starts. A payload larger than a round is compressed here at once, alone.
   */
  private openRound(payloads: readonly Uint8Array[], from: number, level: number, results: (Uint8Array | null)[]): number {
    const ctrl = this.ctrl;
    this.jobs.length = 0;
    const first = payloads[from];
    if (first && first.length > INPUT_BYTES) {
      results[from] = this.compressHere(first, level);
      return from + 1;
    }
    let inAt = 0;
    let outAt = 0;
    for (let i = from; i < payloads.length && this.jobs.length < MAX_COMPRESSION_ROUND; i++) {
      const p = payloads[i]!;
      const bound = this.binding.compressBound(p.length);
      if (inAt + p.length > INPUT_BYTES || outAt + bound > this.output.length) break;
      this.input.set(p, inAt);
      const at = JOBS_AT + this.jobs.length * JOB_WORDS;
      ctrl[at] = inAt;
      ctrl[at + 1] = p.length;
      ctrl[at + 2] = level;
      ctrl[at + 3] = outAt;
      ctrl[at + 4] = bound;
      ctrl[at + 5] = FAILED;
      inAt += p.length;
      // 8-byte aligned slices: neighbouring jobs' writes never share a word.
      outAt += (bound + 7) & ~7;
      this.jobs.push(i);
    }
    const count = this.jobs.length;
    this.round = (this.round + 1) & 0x7fff;
    Atomics.store(ctrl, COUNT, count);
    Atomics.store(ctrl, DONE, 0);
    // Opening NEXT publishes the table written above to any worker that claims from it.
    Atomics.store(ctrl, NEXT, this.round << 16);
    if (Atomics.load(ctrl, READY) > 0) {
      Atomics.add(ctrl, WAKE, 1);
      Atomics.notify(ctrl, WAKE);
    }
    return from + count;
  }

  /** Compresses the open round's unclaimed jobs here, waits for the workers' ones, reads the results. */
  private finishRound(payloads: readonly Uint8Array[], results: (Uint8Array | null)[]): void {
    const ctrl = this.ctrl;
    const count = this.jobs.length;
    for (;;) {
      const next = Atomics.load(ctrl, NEXT);
      const job = next & 0xffff;
      if (job >= count) break;
      if (Atomics.compareExchange(ctrl, NEXT, next, next + 1) !== next) continue;
      const at = JOBS_AT + job * JOB_WORDS;
      let result = FAILED;
      try {
        const n = this.cctx.compress(this.output.subarray(ctrl[at + 3]!, ctrl[at + 3]! + ctrl[at + 4]!), this.input.subarray(ctrl[at]!, ctrl[at]! + ctrl[at + 1]!), ctrl[at + 2]!);
        result = n < ctrl[at + 1]! ? n : NOT_SMALLER;
      } catch {
        // Left FAILED: compressed again below, where the error surfaces, once the workers are done.
      }
      ctrl[at + 5] = result;
      Atomics.add(ctrl, DONE, 1);
    }
    // Every job is claimed; wait for those the workers hold.
    for (let done = Atomics.load(ctrl, DONE); done < count; done = Atomics.load(ctrl, DONE)) Atomics.wait(ctrl, DONE, done, 1000);
    Atomics.store(ctrl, NEXT, (this.round << 16) | CLOSED);
    for (let j = 0; j < count; j++) {
      const at = JOBS_AT + j * JOB_WORDS;
      const result = ctrl[at + 5]!;
      const i = this.jobs[j]!;
      if (result === FAILED) results[i] = this.compressHere(payloads[i]!, ctrl[at + 2]!);
      else if (result !== NOT_SMALLER) results[i] = this.output.subarray(ctrl[at + 3]!, ctrl[at + 3]! + result);
    }
  }

  /** One payload on the calling thread, into a fresh array. */
  private compressHere(payload: Uint8Array, level: number): Uint8Array | null {
    const out = new Uint8Array(this.binding.compressBound(payload.length));
    const n = this.cctx.compress(out, payload, level);
    return n < payload.length ? out.slice(0, n) : null;
  }
}

let pool: CompressionPool | null = null;

/** The process's pool, with at least `threads` workers started (fewer when the cap is lower). */
export function compressionPool(threads: number): CompressionPool {
  pool ??= new CompressionPool();
  pool.grow(threads);
  return pool;
}

export type { CompressionPool };
