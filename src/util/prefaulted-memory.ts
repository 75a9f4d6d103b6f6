/**
 * Fresh SharedArrayBuffers of the sizes the store allocates over and over (leaf slabs, commit-log
 * arenas), faulted in ahead of need by a helper thread.
 *
 * The first write to each fresh 4 KiB page of memory traps into the kernel (and, in a virtual
 * machine, into the host) to map it: 11 µs a page on the machine the benchmarks run on, 2.8 ms for
 * every MiB of a new slab, more than filling it takes. A 200,000-event audit ingest into a fresh
 * process allocates 350 MiB of slabs and arenas; their faults were about a tenth of its time, all
 * of it on the committing thread. Pages faulted in by any thread are mapped for the whole process,
 * so here a helper thread writes one byte to each page of a buffer before the caller gets it.
 *
 * One thread per process, started by the first request, holding no event loop open. For each size
 * asked for, the caller keeps {@link AHEAD_BYTES} of buffers (at least {@link MIN_AHEAD}) allocated
 * and handed to the thread; the thread answers each with its id once its pages are in, and the
 * caller reads those answers synchronously (`receiveMessageOnPort`: a commit never waits for an
 * event loop turn). A buffer is taken only after its answer, so the thread's writes of zeros can
 * never land on the caller's data. When none is ready, or threads cannot start, the caller allocates
 * the buffer itself, as it would without this module. Either way the buffer is new and zeroed, and
 * the caller allocates it (in its own malloc arena, where its freed memory is reused).
 *
 * Invariant: the thread keeps no buffer alive. V8 frees a SharedArrayBuffer only once every thread's
 * handle on it is collected, and a thread that allocates almost nothing collects almost never:
 * measured, a thread handed 1,024 buffers of 1 MiB still held them all (1 GiB resident). So the
 * thread starts a full collection of its own for every {@link COLLECT_EVERY_BYTES} it handles, the
 * way retained-memory.ts tells V8 of memory: by allocating and dropping a large ArrayBuffer.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { startHelperThread } from './helper-thread.js';

/** Bytes of each steady size kept queued. */
const AHEAD_BYTES = 4 << 20;
/** Buffers of each steady size kept queued at least. */
const MIN_AHEAD = 2;
/** Bytes of buffers the thread prepares between two full collections of its own. */
const COLLECT_EVERY_BYTES = 32 << 20;
/** An ArrayBuffer this large, allocated and dropped, starts a full collection (see retained-memory.ts). */
const REPORT_BYTES = 128 << 20;

/**
 * The thread, as source text (as with the compression pool: the same under tsx and in dist/). A
 * message is a buffer the caller has just allocated and will not touch until the answer, its id,
 * comes back: so writing zeros here changes nothing it could see.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const port = workerData.port;
let sinceCollection = 0;
port.on('message', (m) => {
  const pages = new Uint8Array(m.buffer);
  for (let i = 0; i < pages.length; i += 4096) pages[i] = 0;
  port.postMessage(m.id);
  sinceCollection += pages.length;
  if (sinceCollection >= ${COLLECT_EVERY_BYTES}) {
    sinceCollection = 0;
    try {
      Buffer.allocUnsafeSlow(${REPORT_BYTES});
    } catch {}
  }
});
`;

class PrefaultSupply {
  private port: MessagePort | null = null;
  private cannotStart = false;
  /** Buffers faulted in and not taken yet, by size. */
  private readonly ready = new Map<number, SharedArrayBuffer[]>();
  /** Buffers with the thread, by id, and how many of each size. */
  private readonly preparing = new Map<number, SharedArrayBuffer>();
  private readonly preparingBySize = new Map<number, number>();
  private nextId = 0;

  /** A zeroed buffer of `bytes`, faulted in already when the thread had one ready. */
  take(bytes: number): SharedArrayBuffer {
    const port = this.start();
    if (!port) return new SharedArrayBuffer(bytes);
    this.receive(port);
    const buffer = this.ready.get(bytes)?.pop() ?? new SharedArrayBuffer(bytes);
    this.topUp(port, bytes);
    return buffer;
  }

  /** @internal For tests: buffers of `bytes` faulted in and not taken yet. */
  readyCount(bytes: number): number {
    if (this.port) this.receive(this.port);
    return this.ready.get(bytes)?.length ?? 0;
  }

  private start(): MessagePort | null {
    if (this.port || this.cannotStart) return this.port;
    // A thread that fails or dies only leaves the faulting in to the caller.
    this.port = startHelperThread(WORKER_SOURCE, {});
    this.cannotStart = this.port === null;
    return this.port;
  }

  /** Moves every buffer the thread has finished with into `ready`. */
  private receive(port: MessagePort): void {
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      const id = m.message as number;
      const buffer = this.preparing.get(id)!;
      this.preparing.delete(id);
      const bytes = buffer.byteLength;
      this.preparingBySize.set(bytes, this.preparingBySize.get(bytes)! - 1);
      let queue = this.ready.get(bytes);
      if (!queue) this.ready.set(bytes, (queue = []));
      queue.push(buffer);
    }
  }

  /** Hands the thread new buffers of `bytes` until that many are ready or on their way. */
  private topUp(port: MessagePort, bytes: number): void {
    const want = Math.max(MIN_AHEAD, Math.ceil(AHEAD_BYTES / bytes));
    let have = (this.ready.get(bytes)?.length ?? 0) + (this.preparingBySize.get(bytes) ?? 0);
    for (; have < want; have++) {
      const buffer = new SharedArrayBuffer(bytes);
      const id = this.nextId++;
      this.preparing.set(id, buffer);
      this.preparingBySize.set(bytes, (this.preparingBySize.get(bytes) ?? 0) + 1);
      port.postMessage({ id, buffer });
    }
  }
}

let supply: PrefaultSupply | null = null;

/**
 * A new zeroed SharedArrayBuffer of `bytes`, for a size the caller allocates over and over: from the
 * first call on, buffers of this size are prepared ahead on the helper thread.
 */
export function prefaultedShared(bytes: number): SharedArrayBuffer {
  supply ??= new PrefaultSupply();
  return supply.take(bytes);
}

/** @internal For tests: prepared buffers of `bytes` waiting to be taken. */
export function prefaultedReady(bytes: number): number {
  return supply?.readyCount(bytes) ?? 0;
}
