/**
 * Child process for loss and rebuild tests: opens the whole store (argv[3] "manager", one shard) or
 * one shard ("db") at argv[2], commits argv[4] transactions of one key each (`k/<6 digits>` -> `v<i>`)
 * with immediate durability, optionally checkpointing after argv[5] of them, prints "done <count>"
 * once every commit has been acknowledged, and waits to be killed with SIGKILL. Nothing is closed, so
 * the WAL holds every commit after the last checkpoint, as after a crash.
 */
import { Database, RedbManager } from '../../src/index.js';

const [dir, mode, countArg, checkpointAfterArg] = process.argv.slice(2);
const count = Number(countArg);
const checkpointAfter = checkpointAfterArg === undefined ? -1 : Number(checkpointAfterArg);
const shardOptions = { checkpointIntervalMs: 0, checkpointWalBytes: 1 << 30, memtableBytes: 1 << 30, durability: 'immediate' as const };
const db = mode === 'manager' ? RedbManager.open({ baseDir: dir!, shardCount: 1, ...shardOptions }).shardAt(0) : Database.open(dir!, shardOptions);
for (let i = 1; i <= count; i++) {
  db.write((tx) => tx.put(Buffer.from(`k/${String(i).padStart(6, '0')}`), Buffer.from(`v${i}`)));
  if (i === checkpointAfter) db.checkpoint();
}
process.stdout.write(`done ${count}\n`);
setInterval(() => {}, 1000);
