/**
 * Buffers that the store keeps alive under a budget of its own: the commit logs' arenas and the
 * memtable's columns, held until a checkpoint folds them (`memtableBytes` bounds them), then dropped
 * together; and the leaf slabs folds pack, held while the node cache (`cacheSizeBytes`) holds any of
 * their leaves. They are allocated so that V8 does not start a full garbage collection for every
 * 64 MB of them.
 *
 * V8 counts the bytes of every ArrayBuffer as external memory and starts a full (mark-compact)
 * collection whenever that count has grown 64 MB since the last one: a guard for memory that nothing
 * else bounds. A full collection marks the whole JS heap, so its cost is set by the host's heap, not
 * by the store: in a process holding 200 MB of objects (the audit benchmark's events), each one
 * paused ingest for 100-190 ms, and these buffers started one every 15,000-20,000 audit events,
 * 15-20% of the ingest time.
 *
 * V8 leaves SharedArrayBuffers out of that count (no one isolate owns one), so the buffers made here
 * are backed by SharedArrayBuffers, used by one thread like any other. They are still reported to V8,
 * in larger steps: after every {@link REPORT_STEP} bytes allocated here, one ArrayBuffer of
 * {@link REPORT_BYTES} is allocated and dropped at once. It is never written, so its pages are never
 * resident; only its count reaches V8, which then starts a full collection as it would have for
 * that much growth. So a collection starts at least once per REPORT_STEP allocated here, whatever
 * else the process allocates or not, and buffers dropped here wait about that long for it (plus
 * the collection's own marking time). Memory is the price: see docs/design.md, "Retained memory".
 *
 * Small buffers are ordinary ones: most die young, in a minor collection, which is cheap and counts
 * them back out.
 */

import { prefaultedShared } from './prefaulted-memory.js';

/** Bytes allocated here between two reports to V8. */
export const REPORT_STEP = 256 << 20;
/** Bytes of the dropped ArrayBuffer a report allocates: more than V8's 64 MB trigger, with margin. */
const REPORT_BYTES = 128 << 20;
/** Below this a buffer is an ordinary one. */
const SHARED_FROM_BYTES = 16 << 10;

let sinceReport = 0;
let step = REPORT_STEP;
let reports = 0;

/**
 * A SharedArrayBuffer of `bytes` (at least SHARED_FROM_BYTES), counted towards the next report;
 * `steady` for a size the caller allocates over and over (util/prefaulted-memory.ts).
 */
function shared(bytes: number, steady: boolean): SharedArrayBuffer {
  sinceReport += bytes;
  if (sinceReport >= step) {
    sinceReport = 0;
    report();
  }
  return steady ? prefaultedShared(bytes) : new SharedArrayBuffer(bytes);
}

/**
 * Bytes of dropped slabs (see {@link retainedSlab}) between two reports: what V8 itself would let
 * ArrayBuffers grow by before a full collection, so that dropped slabs wait no longer than dropped
 * ArrayBuffers would.
 */
const SLAB_REPORT_STEP = 64 << 20;
let slabsDropped = 0;
let slabsDroppedTotal = 0;

/**
 * A SharedArrayBuffer of `bytes` for memory whose owner reports its end ({@link retainedDropped})
 * instead of its allocation: the leaf slabs a fold packs, which the node cache keeps while any of
 * their leaves is cached. Counted as ArrayBuffers, the slabs of a growing tree started a full
 * collection for every 64 MB the cache grew by although none of it was garbage: five or more in an
 * ingest of 200,000 audit events, 130-200 ms each in a process holding 200 MB of objects.
 */
export function retainedSlab(bytes: number, steady = false): SharedArrayBuffer {
  return steady ? prefaultedShared(bytes) : new SharedArrayBuffer(bytes);
}

/** Reports that `bytes` of slabs are no longer held (they become garbage unless something else still holds them). */
export function retainedDropped(bytes: number): void {
  slabsDroppedTotal += bytes;
  slabsDropped += bytes;
  if (slabsDropped >= SLAB_REPORT_STEP) {
    slabsDropped %= SLAB_REPORT_STEP;
    report();
  }
}

/** Tells V8 of REPORT_BYTES at once, which starts a full collection soon. */
function report(): void {
  reports++;
  try {
    // Dropped at once: a minor collection frees it and counts it back out.
    Buffer.allocUnsafeSlow(REPORT_BYTES);
  } catch {
    // No address space for it: memory is short, and V8 collects on its own then.
  }
}

// Small arrays come from their own constructors, not from `new ArrayBuffer`: V8 keeps those of up
// to 64 bytes inside its heap, 20 times cheaper to make than an ArrayBuffer of their own (a memtable
// run of a single-put commit is 4 bytes).

/**
 * `length` zeroed bytes kept under the store's own budget (see the file header); `steady` for a
 * length the caller allocates over and over.
 */
export function retainedBytes(length: number, steady = false): Uint8Array {
  return length < SHARED_FROM_BYTES ? new Uint8Array(length) : new Uint8Array(shared(length, steady));
}

/** `length` zeroed 32-bit integers kept under the store's own budget. */
export function retainedInt32(length: number): Int32Array {
  return 4 * length < SHARED_FROM_BYTES ? new Int32Array(length) : new Int32Array(shared(4 * length, false));
}

/** `length` zeroed 64-bit floats kept under the store's own budget. */
export function retainedFloat64(length: number): Float64Array {
  return 8 * length < SHARED_FROM_BYTES ? new Float64Array(length) : new Float64Array(shared(8 * length, false));
}

/** @internal For tests: how many reports were made so far. */
export function retainedMemoryReports(): number {
  return reports;
}

/** @internal For tests: sets the bytes between reports (REPORT_STEP to restore it). */
export function setRetainedReportStep(bytes: number): void {
  step = bytes;
  sinceReport = 0;
}

/** @internal For tests: bytes of slabs reported dropped so far. */
export function retainedSlabBytesDropped(): number {
  return slabsDroppedTotal;
}
