/**
 * The helper thread of background-merge.ts: merges the runs it is handed (run-merge.ts) into the
 * output the caller allocated (temporaries of its own between passes), and answers with the merge's id and whether it succeeded. It keeps
 * nothing between merges.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { markRepeats, mergeAll } from './run-merge.js';

/** An ArrayBuffer this large, allocated and dropped, starts a full collection (see util/retained-memory.ts). */
const COLLECT_BYTES = 128 << 20;
/**
 * Bytes of buffers newly handed over (`fresh`: the caller counts each arena and column once) between
 * two collections: about what this thread may keep alive that the caller has dropped.
 */
const COLLECT_EVERY_BYTES = 64 << 20;
let sinceCollection = 0;

interface MergeMessage {
  id: number;
  srcs: Uint8Array[];
  locs: Int32Array;
  words: Float64Array;
  words2: Float64Array;
  /** Oldest first. */
  runs: Int32Array[];
  out: Int32Array;
  /** Also mark older versions in the output (markRepeats). */
  repeats: boolean;
  /** Bytes of buffers in this message not handed over before. */
  fresh: number;
}

const { port, ctrl: ctrlBuffer } = workerData as { port: MessagePort; ctrl: SharedArrayBuffer };
const ctrl = new Int32Array(ctrlBuffer);

port.on('message', (m: MergeMessage) => {
  // Pairs with the caller's increment before posting: the entries it wrote are visible here.
  Atomics.load(ctrl, 0);
  let ok = true;
  try {
    mergeAll(m, m.runs, m.out);
    if (m.repeats) markRepeats(m, m.out);
  } catch {
    ok = false;
  }
  Atomics.add(ctrl, 1, 1);
  port.postMessage({ id: m.id, ok });
  // Every buffer of the message is garbage now, but held until this thread collects, which a
  // thread that allocates almost nothing does almost never (see background-merge.ts).
  sinceCollection += m.fresh;
  if (sinceCollection < COLLECT_EVERY_BYTES) return;
  sinceCollection = 0;
  try {
    Buffer.allocUnsafeSlow(COLLECT_BYTES);
  } catch {
    // No room for the report: the next merge tries again.
  }
});
