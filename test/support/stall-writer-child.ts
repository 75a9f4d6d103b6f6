/**
 * Child for the lock-stall test: opens the database at argv[2], commits transactions 1..argv[5]
 * (key `k<i>`), and after transaction argv[3] blocks its own event loop for argv[4] ms with a
 * synchronous wait (to the event loop, what a long synchronous checkpoint or the host's own work
 * does: no timer runs until it returns). Then it finishes, closes
 * and exits 0. Lines on stdout (synchronous writes): `ready`, `ack <i>`, `stalling`, `resumed`,
 * `closed`; any error goes to stderr with exit code 3.
 */
import fs from 'node:fs';
import { Database } from '../../src/shard/database.js';
import { writeLine as line } from './protocol-line.js';

const [dir, stallAfterArg, stallMsArg, totalArg] = process.argv.slice(2);
const stallAfter = Number(stallAfterArg);
const stallMs = Number(stallMsArg);
const total = Number(totalArg);

async function main(): Promise<void> {
  const db = Database.open(dir!, { checkpointIntervalMs: 0 });
  line('ready');
  for (let i = 1; i <= total; i++) {
    const key = Buffer.from(`k${i}`);
    if (i % 2 === 0) await db.writeAsync((tx) => tx.put(key, key));
    else db.write((tx) => tx.put(key, key));
    line(`ack ${i}`);
    if (i === stallAfter) {
      line('stalling');
      // Blocked: no timer (proper-lockfile's refresh included) can run. A synchronous wait blocks
      // the event loop exactly as a busy loop would, without spinning a core for seconds.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, stallMs);
      line('resumed');
    }
  }
  db.close();
  line('closed');
}

main().catch((err: unknown) => {
  fs.writeSync(2, `stall-writer-child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(3);
});
