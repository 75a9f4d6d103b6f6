/**
 * Child for the read-only test: opens the database at argv[2] with small checkpoint and segment
 * thresholds (so checkpoints recycle space and WAL segments rotate often) and commits transactions
 * 1, 2, ... until killed. Transaction i puts `c<i>` (its marker) and rewrites a few shared keys, so
 * the page file keeps freeing and reusing blocks. Prints `ready`, then `ack <i>` per commit.
 */
import fs from 'node:fs';
import { Database } from '../../src/shard/database.js';
import { writeLine } from './protocol-line.js';

const db = Database.open(process.argv[2]!, { pageSize: 1024, walSegmentBytes: 64 * 1024, checkpointWalBytes: 64 * 1024, checkpointIntervalMs: 20 });
writeLine('ready');
const pad = Buffer.alloc(300, 7);

async function main(): Promise<void> {
  for (let i = 1; ; i++) {
    const write = (tx: Parameters<Parameters<Database['write']>[0]>[0]): void => {
      tx.put(Buffer.from(`c${String(i).padStart(8, '0')}`), Buffer.concat([Buffer.from(`${i}:`), pad]));
      for (let s = 0; s < 4; s++) tx.put(Buffer.from(`shared${(i + s) % 50}`), Buffer.from(`${i}`));
    };
    if (i % 3 === 0) db.write(write);
    else await db.writeAsync(write);
    writeLine(`ack ${i}`);
    if (i % 25 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
main().catch((err: unknown) => {
  fs.writeSync(2, `busy-writer-child failed: ${String((err as Error).stack ?? err)}\n`);
  process.exit(3);
});
