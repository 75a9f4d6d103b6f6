// The checkpoint fold and the key-value write paths alone, in CPU time (process.cpuUsage), for
// before/after comparisons on a shared machine: a load of random-key puts in commits of 10,000 timed
// through close() (the fold and the checkpoint), range scans of 100 entries over cached leaves, and
// deletes in commits of 10,000 (timed apart from the close that folds them).
//
//   npx tsx bench/fold-cpu.ts [--puts 300000] [--deletes 100000] [--ranges 2000] [--compression zstd|lz4|none]
//                             [--level 3] [--load-deletes 0] [--memtable bytes]

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../src/index.js';
import { makeKeys, makeProbes, makeValues, streamRng } from './data.js';
import { footprint } from './workloads.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const puts = Number(arg('puts', '300000'));
const deletes = Number(arg('deletes', '100000'));
const ranges = Number(arg('ranges', '2000'));
const compression = arg('compression', 'zstd') as 'zstd' | 'lz4' | 'none';
const compressionLevel = Number(arg('level', '3'));
/** Deletions of absent keys mixed into each load commit (a purge running beside ingest). */
const loadDeletes = Number(arg('load-deletes', '0'));
/** memtableBytes: below the load's size, checkpoints fold into a tree that is already there. */
const memtableBytes = Number(arg('memtable', String(64 << 20)));
const PER_COMMIT = 10_000;

// PROFILE=<phase> (load, close, range, delete, deleteClose) writes that phase's CPU profile to fold-<phase>.cpuprofile.
const profiled = process.env.PROFILE;
const session = profiled ? new Session() : null;
session?.connect();
function post(method: string): unknown {
  let result: unknown;
  session!.post(method, (err, r) => {
    if (err) throw err;
    result = r;
  });
  return result;
}
function phase(name: string): { done(): void } {
  if (name !== profiled) return { done() {} };
  post('Profiler.enable');
  post('Profiler.start');
  return {
    done() {
      const r = post('Profiler.stop') as { profile: unknown };
      writeFileSync(`fold-${name}.cpuprofile`, JSON.stringify(r.profile));
    },
  };
}

function cpuSeconds(from: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
}

const keys = makeKeys(streamRng(7, 'bulk.keys'), puts);
const values = makeValues(streamRng(7, 'bulk.values'), puts);
const starts = makeProbes(streamRng(7, 'range.starts'), ranges, puts);
const dir = mkdtempSync(join(tmpdir(), 'fold-cpu-'));
try {
  const out: Record<string, number | string> = { puts, compression, compressionLevel };
  let db = Database.open(dir, { durability: 'immediate', compression, compressionLevel, memtableBytes, checkpointWalBytes: Math.max(memtableBytes, 64 << 20) });
  let p = phase('load');
  const faults = process.resourceUsage().minorPageFault;
  let t = process.cpuUsage();
  for (let i = 0; i < puts; i += PER_COMMIT) {
    db.write((tx) => {
      for (let j = i; j < Math.min(puts, i + PER_COMMIT); j++) tx.put(keys[j]!, values[j]!);
      for (let j = 0; j < loadDeletes; j++) tx.remove(Buffer.from(`absent-${i}-${j}`));
    });
  }
  out.loadCpuUsPerPut = (cpuSeconds(t) / puts) * 1e6;
  out.loadFaultsPerPut = (process.resourceUsage().minorPageFault - faults) / puts;
  out.loadRssMiB = process.memoryUsage().rss / 2 ** 20;
  p.done();
  p = phase('close');
  t = process.cpuUsage();
  db.close();
  out.closeCpuUsPerPut = (cpuSeconds(t) / puts) * 1e6;
  p.done();
  out.bytesPerEntry = footprint(dir).bytes / puts;

  db = Database.open(dir, { durability: 'immediate', compression, compressionLevel, memtableBytes, checkpointWalBytes: Math.max(memtableBytes, 64 << 20) });
  let seen = 0;
  // The first pass reads the leaves from disk; the second, timed, finds them cached (as the bench's
  // scans do after its gets).
  for (let pass = 0; pass < 2; pass++) {
    if (pass === 1) p = phase('range');
    t = process.cpuUsage();
    for (let i = 0; i < ranges; i++) {
      for (const e of db.range({ gte: keys[starts[i]!]!, limit: 100 })) seen += e.value[0]!;
    }
  }
  out.rangeCpuUsPerScan = (cpuSeconds(t) / ranges) * 1e6;
  p.done();
  p = phase('delete');
  t = process.cpuUsage();
  for (let i = 0; i < deletes; i += PER_COMMIT) {
    db.write((tx) => {
      for (let j = i; j < Math.min(deletes, i + PER_COMMIT); j++) tx.remove(keys[j]!);
    });
  }
  out.deleteCpuUsPerDelete = (cpuSeconds(t) / deletes) * 1e6;
  p.done();
  p = phase('deleteClose');
  t = process.cpuUsage();
  db.close();
  out.deleteCloseCpuUsPerDelete = (cpuSeconds(t) / deletes) * 1e6;
  p.done();
  if (seen < 0) throw new Error('unreachable');
  for (const k of Object.keys(out)) if (typeof out[k] === 'number' && !Number.isInteger(out[k])) out[k] = Number((out[k] as number).toFixed(2));
  console.log(JSON.stringify(out));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
