/**
 * Merges of large memtable runs on a helper thread, while the committing thread goes on.
 *
 * A memtable merges its runs as a binary counter (memtable.ts): each write is merged about
 * log2(memtable / commit) times, and the large merges, of runs of hundreds of thousands of entries,
 * were most of that: 8% of the committing thread's time in a 200,000-event audit ingest, while the
 * machine's other core was idle between checkpoints. The runs, the entry columns and the buffers the
 * keys lie in are SharedArrayBuffers (util/retained-memory.ts), so a helper thread can read them
 * and write the merged run (run-merge.ts, the code the committing thread runs for smaller merges).
 *
 * One thread per process, started by the first merge large enough, taking merges in the order
 * handed over (a few at most); it holds no event loop open. The caller learns that a merge is done synchronously (`receiveMessageOnPort`: a
 * commit never waits for an event loop turn) and only then reads its output. No thread, or a busy
 * one, means the caller merges itself, as before; a merge the thread fails is never taken.
 *
 * Invariants: the caller never changes what a merge reads (entries and runs are immutable once
 * written; new entries land past the ones merged) and reads its output only after the thread's
 * answer. The thread keeps no buffer alive: it starts a full collection of its own every few merges
 * (see util/prefaulted-memory.ts for why a thread that allocates nothing would otherwise hold every
 * buffer it was ever handed).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { startHelperThread } from '../../util/helper-thread.js';
import type { EntryKeys } from './run-merge.js';

/** Word 0: bumped before a merge is posted; word 1: bumped by the thread after writing its output. */
const POSTED = 0;
const WRITTEN = 1;

/** A merge handed to the thread. */
export class BackgroundMerge {
  /** 'running' until the thread answers; 'done' once `out` holds the merged run. */
  private state: 'running' | 'done' | 'failed' = 'running';

  constructor(
    private readonly merger: BackgroundMerger,
    readonly id: number,
    readonly out: Int32Array,
  ) {}

  /** Whether the merged run is in `out`; false while running or when the thread failed it. */
  done(): boolean {
    if (this.state === 'running') this.merger.receive();
    return this.state === 'done';
  }

  /** Whether the thread has answered (done or failed). */
  settled(): boolean {
    if (this.state === 'running') this.merger.receive();
    return this.state !== 'running';
  }

  /** @internal The thread's answer. */
  answer(ok: boolean): void {
    this.state = ok ? 'done' : 'failed';
  }
}

function shared(a: ArrayBufferView): boolean {
  return a.buffer instanceof SharedArrayBuffer;
}

/**
 * `ids` itself when shared, else a shared copy: small runs are ordinary arrays (retained-memory.ts),
 * and copying one costs far less than the merge it takes part in.
 */
function sharedCopy(ids: Int32Array): Int32Array {
  if (shared(ids)) return ids;
  const copy = new Int32Array(new SharedArrayBuffer(ids.byteLength));
  copy.set(ids);
  return copy;
}

/** Merges handed to the thread and not answered yet, at most; past that the caller merges itself. */
const MAX_QUEUED = 8;

class BackgroundMerger {
  private port: MessagePort | null = null;
  private cannotStart = false;
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(8));
  /** Merges handed to the thread, by id, until answered. */
  private readonly queued = new Map<number, BackgroundMerge>();
  private nextId = 0;
  /** Merges the thread has done. */
  answered = 0;
  /** Per set of entries, how many of its sources and which columns were handed over already. */
  private readonly sent = new WeakMap<EntryKeys, { srcs: number; locs: Int32Array | null }>();

  /**
   * Starts merging `runs` (oldest first, neighbours in a memtable's stack) of the entries `keys` into
   * `out` (their length together) on the thread, with older versions marked when `repeats`
   * (run-merge.ts, markRepeats), after the merges handed to it before; null when the
   * thread has MAX_QUEUED to do or cannot run, or any of the memory is not shared (then the caller
   * merges itself).
   */
  start(keys: EntryKeys, runs: readonly Int32Array[], out: Int32Array, repeats: boolean): BackgroundMerge | null {
    this.receive();
    if (this.queued.size >= MAX_QUEUED) return null;
    if (!shared(out) || !shared(keys.locs) || !shared(keys.words) || !shared(keys.words2)) return null;
    for (const s of keys.srcs) if (!shared(s)) return null;
    const port = this.startThread();
    if (!port) return null;
    const merge = new BackgroundMerge(this, this.nextId++, out);
    this.queued.set(merge.id, merge);
    const copies = runs.map(sharedCopy);
    let fresh = this.freshBytes(keys) + out.byteLength;
    for (let i = 0; i < runs.length; i++) if (copies[i] !== runs[i]) fresh += copies[i]!.byteLength;
    Atomics.add(this.ctrl, POSTED, 1);
    port.postMessage({ id: merge.id, srcs: keys.srcs, locs: keys.locs, words: keys.words, words2: keys.words2, runs: copies, out, repeats, fresh });
    return merge;
  }

  /**
   * Bytes of the buffers of `keys` not handed to the thread before: how much memory the thread may
   * newly keep alive by holding this merge's buffers (see run-merge-worker.ts). A memtable hands the
   * same arenas and columns over and over; counting them each time would make the thread collect
   * after nearly every merge, and a full collection is several times the cost of a merge.
   */
  private freshBytes(keys: EntryKeys): number {
    let seen = this.sent.get(keys);
    if (!seen) this.sent.set(keys, (seen = { srcs: 0, locs: null }));
    let fresh = 0;
    let last: ArrayBufferLike | null = seen.srcs > 0 ? keys.srcs[seen.srcs - 1]!.buffer : null;
    for (let i = seen.srcs; i < keys.srcs.length; i++) {
      const b = keys.srcs[i]!.buffer;
      if (b !== last) fresh += b.byteLength;
      last = b;
    }
    seen.srcs = keys.srcs.length;
    if (seen.locs !== keys.locs) {
      seen.locs = keys.locs;
      fresh += keys.locs.byteLength + keys.words.byteLength + keys.words2.byteLength;
    }
    return fresh;
  }

  /** Takes the thread's answers that came. */
  receive(): void {
    const port = this.port;
    if (!port) return;
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      const { id, ok } = m.message as { id: number; ok: boolean };
      // Pairs with the thread's increment after writing: its output is visible from here on.
      Atomics.load(this.ctrl, WRITTEN);
      this.queued.get(id)?.answer(ok);
      this.queued.delete(id);
      if (ok) this.answered++;
    }
  }

  private startThread(): MessagePort | null {
    if (this.port || this.cannotStart) return this.port;
    let source: string;
    try {
      source = bootSource();
    } catch {
      // From the TypeScript sources without tsx to load the thread's module with.
      source = '';
    }
    // A thread that dies leaves its merges unanswered: those pairs of runs stay unmerged until their
    // memtables are folded, and once MAX_QUEUED wait, no merge is handed over.
    this.port = source === '' ? null : startHelperThread(source, { ctrl: this.ctrl.buffer });
    this.cannotStart = this.port === null;
    return this.port;
  }
}

/**
 * The thread's first code: it imports run-merge-worker next to this module. Running from the
 * TypeScript sources (under tsx), a thread does not inherit the TypeScript loader, so it registers
 * tsx first; from dist/ it imports the JavaScript directly.
 */
function bootSource(): string {
  const ext = path.extname(fileURLToPath(import.meta.url));
  const worker = JSON.stringify(new URL(`./run-merge-worker${ext}`, import.meta.url).href);
  if (ext !== '.ts') return `import(${worker});`;
  return `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${worker}); });`;
}

let merger: BackgroundMerger | null = null;

/** See {@link BackgroundMerger.start}. */
export function startBackgroundMerge(keys: EntryKeys, runs: readonly Int32Array[], out: Int32Array, repeats = false): BackgroundMerge | null {
  merger ??= new BackgroundMerger();
  return merger.start(keys, runs, out, repeats);
}

/** @internal For tests: how many merges the thread has done in this process. */
export function backgroundMergesDone(): number {
  merger?.receive();
  return merger?.answered ?? 0;
}

export type { BackgroundMerger };
