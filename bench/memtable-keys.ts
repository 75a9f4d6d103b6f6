// Micro-benchmark of the memtable with audit-shaped keys (tenant, timestamp, id; tenant, kind,
// value, timestamp, id): CPU time of MemTable.add over commits of 1,000 events' keys, the merges
// included, and of newest() (what a fold reads). Used to compare key-comparison changes.
//
//   npx tsx bench/memtable-keys.ts [--commits 60]

import { parseArgs } from 'node:util';
import { MemTable } from '../src/shard/data/memtable.js';
import { NO_BYTES, WriteColumns } from '../src/shard/data/write-columns.js';
import { streamRng } from './data.js';

const { values } = parseArgs({ options: { commits: { type: 'string' } } });
const commits = Number(values.commits ?? 60);
const rng = streamRng(7, 'memtable-keys');
const ACTIONS = ['auth.login', 'auth.logout', 'record.read', 'record.update', 'patient.record.read', 'file.download'];
const OUTCOMES = ['success', 'failure', 'denied'];

function u64(b: Buffer, off: number, v: number): void {
  b.writeUInt32BE(Math.floor(v / 2 ** 32), off);
  b.writeUInt32BE(v >>> 0, off + 4);
}

/** One commit's keys, written into one arena as the engine does. */
function commitKeys(c: number): Uint8Array[] {
  const arena = Buffer.alloc(1000 * 7 * 64);
  let at = 0;
  const keys: Uint8Array[] = [];
  const put = (parts: (Buffer | string)[]): void => {
    const start = at;
    for (const p of parts) at += typeof p === 'string' ? arena.write(p, at, 'latin1') : (p.copy(arena, at), p.length);
    keys.push(arena.subarray(start, at));
  };
  for (let e = 0; e < 1000; e++) {
    const tenant = Buffer.from([0, rng.below(20) + 1]);
    const ts = Buffer.alloc(8);
    u64(ts, 0, Date.UTC(2026, 9, 1) + (c * 1000 + e) * 13_000 + rng.below(1000));
    const id = Buffer.alloc(17);
    id[0] = 1;
    for (let i = 1; i < 17; i++) id[i] = rng.below(256);
    put([tenant, ts, id]);
    const tail = [Buffer.from([0]), ts, id];
    put([tenant, Buffer.from([1]), `user-${rng.below(10)}@tenant-${tenant[1]}.example`, ...tail]);
    put([tenant, Buffer.from([2]), ACTIONS[rng.below(ACTIONS.length)]!, ...tail]);
    put([tenant, Buffer.from([3]), `record\u0000res-${rng.below(5000)}`, ...tail]);
    put([tenant, Buffer.from([4]), OUTCOMES[rng.below(3)]!, ...tail]);
    put([tenant, Buffer.from([5]), ACTIONS[rng.below(ACTIONS.length)]!.split('.')[0]!, ...tail]);
  }
  return keys;
}

/** A commit's keys as the columns a transaction hands the memtable (every value empty, as an index entry's). */
function columnsOf(keys: readonly Uint8Array[]): WriteColumns {
  const columns = new WriteColumns();
  for (const key of keys) columns.pushViews(key, NO_BYTES);
  return columns;
}

const batches = Array.from({ length: commits }, (_, c) => columnsOf(commitKeys(c)));
for (let round = 0; round < 3; round++) {
  const mem = new MemTable(() => false);
  const t0 = process.cpuUsage();
  for (let c = 0; c < batches.length; c++) {
    mem.add(c + 1, batches[c]!, () => {});
  }
  const t1 = process.cpuUsage(t0);
  const t2 = process.cpuUsage();
  const n = mem.newest().newest.length;
  const t3 = process.cpuUsage(t2);
  console.log(`round ${round + 1}: add ${((t1.user + t1.system) / 1000).toFixed(0)} ms CPU for ${mem.size} writes, newest() ${((t3.user + t3.system) / 1000).toFixed(0)} ms (${n} keys)`);
}
