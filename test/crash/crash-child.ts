/**
 * The process the crash harness kills. Usage:
 *
 *   node --import tsx test/crash/crash-child.ts <dir> <startTxn|auto> <seed>
 *
 * Opens the store with durability 'immediate' and commits transactions startTxn, startTxn+1, ...
 * (see workload.ts) until it is killed, checkpointing and compacting now and then on its own. `auto` continues after whatever the store holds: the harness
 * uses it when it lets a second child recover a store the first one crashed, without looking first.
 *
 * Protocol, one line each on stdout, written with a synchronous write(2) so that a line the parent
 * reads was written before the kill, and nothing is left in a user-space buffer:
 *   opening        about to call Database.open
 *   ready <k>      open finished; the store holds transactions 1..k
 *   ack <i>        transaction i's write() returned or its writeAsync() promise resolved
 *   stalling       (with CRASH_STALL_MS and CRASH_STALL_EVERY set) about to block the event loop
 *                  for CRASH_STALL_MS after every CRASH_STALL_EVERY acknowledgements
 * Any error ends the process with exit code 3 and the error on stderr: the harness only ever expects
 * the child to die of SIGKILL.
 */
import fs from 'node:fs';
// The shard module directly rather than the package index: a child that must start in a few hundred
// milliseconds, hundreds of times, loads only the engine it exercises.
import { Database } from '../../src/shard/database.js';
import type { WriteTxn } from '../../src/shard/txn/write-txn.js';
import { applyTransaction, CRASH_DB_OPTIONS, mix32, parseLast, Rng } from './workload.js';
import { writeLine as line } from '../support/protocol-line.js';

function die(err: unknown): never {
  try {
    fs.writeSync(2, `crash-child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  } finally {
    process.exit(3);
  }
}

process.on('uncaughtException', die);
process.on('unhandledRejection', die);

const [dir, startArg, seedArg] = process.argv.slice(2);
if (!dir || !startArg || !seedArg) die(new Error('usage: crash-child.ts <dir> <startTxn|auto> <seed>'));
const seed = Number(seedArg) >>> 0;

function apply(tx: WriteTxn, i: number): void {
  applyTransaction(tx, i, seed);
}

const stallMs = Number(process.env.CRASH_STALL_MS ?? 0);
const stallEvery = Number(process.env.CRASH_STALL_EVERY ?? 0);
let acks = 0;

/** Acknowledges transaction i; in a stall run, blocks the event loop after every stallEvery acks. */
function ack(i: number): void {
  line(`ack ${i}`);
  if (stallMs > 0 && stallEvery > 0 && ++acks % stallEvery === 0) {
    line('stalling');
    // Blocked: no timer runs, so the lock directory is not refreshed meanwhile. A synchronous wait
    // blocks the event loop exactly as a busy loop would, without spinning a core for seconds.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, stallMs);
  }
}

async function main(): Promise<void> {
  line('opening');
  const db = Database.open(dir!, CRASH_DB_OPTIONS);
  const held = parseLast(db.get(Buffer.from('last', 'latin1')));
  if (startArg !== 'auto' && held !== Number(startArg) - 1) {
    throw new Error(`the store holds transactions up to ${held}, but the harness expected ${Number(startArg) - 1}`);
  }
  line(`ready ${held}`);

  // The commit pattern varies by phase, so crashes land in every state the commit path has: a lone
  // fsync per commit, several commits sharing one fsync, and sync commits flushing async ones that
  // are still waiting for theirs.
  const r = new Rng(mix32(seed, held + 1) ^ 0x0c0ffee);
  let next = held + 1;
  for (;;) {
    const phase = r.pick(['sync', 'async', 'async', 'mixed'] as const);
    const n = r.int(1, 60);
    if (phase === 'sync') {
      for (let m = 0; m < n; m++) {
        const i = next++;
        db.write((tx) => apply(tx, i));
        ack(i);
      }
    } else {
      const concurrency = r.int(1, 8);
      const pending = new Set<Promise<void>>();
      for (let m = 0; m < n; m++) {
        const i = next++;
        if (phase === 'mixed' && r.chance(0.2)) {
          db.write((tx) => apply(tx, i));
          ack(i);
          continue;
        }
        const p: Promise<void> = db.writeAsync((tx) => apply(tx, i)).then(() => {
          ack(i);
          pending.delete(p);
        });
        pending.add(p);
        if (pending.size >= concurrency) await Promise.race(pending);
      }
      await Promise.all(pending);
    }
    // Explicit checkpoints and compactions, so kills also land inside those (a compaction rewrites
    // the whole page file and renames it into place).
    const extra = r.next();
    if (extra < 1 / 20) db.compact();
    else if (extra < 1 / 8) db.checkpoint();
    // Background checkpoints record their failure instead of throwing; on a healthy disk there must
    // be none, so one is an engine bug worth dying loudly for.
    const checkpointError = db.stats().lastCheckpointError;
    if (checkpointError) throw new Error(`a background checkpoint failed: ${checkpointError}`);
    // Let timers run now and then, so interval checkpoints fire between commits too.
    if (r.chance(0.3)) await new Promise((resolve) => setTimeout(resolve, r.int(0, 3)));
  }
}

main().catch(die);
