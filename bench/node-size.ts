// What the node size (`pageSize`) trades (docs/performance.md, "Node size"): random-key puts in
// durable commits of 10,000 (kv.bulk's key and value shapes) through close(), then, reopened with
// an empty cache, random point reads of loaded keys, twice over the same keys. With the default
// 3,000,000 puts the table (about 450 MB of keys and values) is larger than the default 128 MiB
// node cache, so most reads of the first pass load and decompress a leaf, as reads of a large
// store do. Each size runs in its own process, sizes alternating over the rounds; the table shows
// the median of the rounds. Every run is appended to results/<timestamp>-node-size.jsonl.
//
//   npx tsx bench/node-size.ts [--puts N] [--gets N] [--sizes 4096,16384,32768] [--rounds N]

import { fork } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Database } from '../src/index.js';
import { makeKeys, makeValues, streamRng } from './data.js';
import { spread } from './summary.js';
import { footprint } from './workloads.js';

const SELF = fileURLToPath(import.meta.url);
const RESULTS_DIR = join(dirname(SELF), 'results');
const PER_COMMIT = 10_000;
/** Every this many loaded keys one is kept for the reads, so that the reads need no second copy of the data. */
const KEEP_EVERY = 10;

interface SizeResult {
  pageSize: number;
  putsPerSec: number;
  coldGetsPerSec: number;
  secondPassGetsPerSec: number;
  diskBytes: number;
  peakRssMiB: number;
}

function runOne(pageSize: number, puts: number, gets: number): SizeResult {
  const dir = mkdtempSync(join(tmpdir(), 'node-size-'));
  try {
    const keysRng = streamRng(1, 'node-size-keys');
    const valuesRng = streamRng(1, 'node-size-values');
    const kept: Buffer[] = [];
    let db = Database.open(dir, { pageSize });
    const t0 = performance.now();
    for (let first = 0; first < puts; first += PER_COMMIT) {
      const k = makeKeys(keysRng, PER_COMMIT);
      const v = makeValues(valuesRng, PER_COMMIT, first);
      db.write((tx) => {
        for (let j = 0; j < PER_COMMIT; j++) tx.put(k[j]!, v[j]!);
      });
      for (let j = 0; j < PER_COMMIT; j += KEEP_EVERY) kept.push(Buffer.from(k[j]!));
    }
    db.close();
    const loadMs = performance.now() - t0;
    const diskBytes = footprint(dir).bytes;
    db = Database.open(dir, { pageSize });
    const probes = streamRng(1, 'node-size-probes');
    const order = Array.from({ length: gets }, () => kept[probes.below(kept.length)]!);
    const pass = (): number => {
      const t = performance.now();
      for (const key of order) if (db.get(key) === undefined) throw new Error('a loaded key was not found');
      return (gets / (performance.now() - t)) * 1000;
    };
    const coldGetsPerSec = pass();
    const secondPassGetsPerSec = pass();
    db.close();
    return { pageSize, putsPerSec: (puts / loadMs) * 1000, coldGetsPerSec, secondPassGetsPerSec, diskBytes, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function child(pageSize: number, puts: number, gets: number): Promise<SizeResult> {
  return new Promise((resolve, reject) => {
    const c = fork(SELF, ['--child', String(pageSize), '--puts', String(puts), '--gets', String(gets)], { execArgv: ['--import', import.meta.resolve('tsx')] });
    let result: SizeResult | undefined;
    c.on('message', (m) => (result = m as SizeResult));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`page size ${pageSize}: child exited with ${code}`))));
  });
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');

const { values } = parseArgs({
  options: { puts: { type: 'string' }, gets: { type: 'string' }, sizes: { type: 'string' }, rounds: { type: 'string' }, child: { type: 'string' } },
});
const puts = Number(values.puts ?? 3_000_000);
const gets = Number(values.gets ?? 100_000);
if (!Number.isInteger(puts) || puts < PER_COMMIT || puts % PER_COMMIT !== 0) throw new Error(`--puts must be a positive multiple of ${PER_COMMIT}, got ${values.puts}`);
if (!Number.isInteger(gets) || gets < 1) throw new Error(`--gets must be a positive integer, got ${values.gets}`);

if (values.child !== undefined) {
  process.send!(runOne(Number(values.child), puts, gets));
} else {
  const sizes = (values.sizes ?? '4096,16384,32768').split(',').map(Number);
  const rounds = Number(values.rounds ?? 1);
  for (const s of sizes) if (!Number.isInteger(s) || s < 512 || s > 65536) throw new Error(`--sizes: each must be an integer from 512 to 65536, got ${s}`);
  console.log(`node size: ${fmt(puts)} random puts in durable commits of ${fmt(PER_COMMIT)} through close(), then ${fmt(gets)} random gets reopened, twice; ${rounds} round(s)`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const resultsFile = join(RESULTS_DIR, `${new Date().toISOString().replace(/[:.]/g, '-')}-node-size.jsonl`);
  appendFileSync(resultsFile, JSON.stringify({ type: 'meta', puts, gets, sizes, rounds, node: process.version }) + '\n');
  const all = new Map<number, SizeResult[]>(sizes.map((s) => [s, []]));
  for (let r = 0; r < rounds; r++) {
    // Rotate the order so that no size always runs first on a cold machine.
    for (let i = 0; i < sizes.length; i++) {
      const s = sizes[(i + r) % sizes.length]!;
      const res = await child(s, puts, gets);
      all.get(s)!.push(res);
      appendFileSync(resultsFile, JSON.stringify({ type: 'run', round: r + 1, ...res }) + '\n');
      console.log(`  round ${r + 1} ${s}: ${JSON.stringify(res)}`);
    }
  }
  const base = sizes[0]!;
  const m = (s: number, k: keyof SizeResult): number => spread(all.get(s)!.map((x) => x[k])).median;
  console.log(`\npage size  puts/s (through close)  ÷ ${base}  cold gets/s  ÷ ${base}  second pass gets/s  disk MiB  peak RSS MiB`);
  for (const s of sizes) {
    console.log(
      [
        String(s).padStart(9),
        fmt(m(s, 'putsPerSec')).padStart(22),
        (m(s, 'putsPerSec') / m(base, 'putsPerSec')).toFixed(2).padStart(7),
        fmt(m(s, 'coldGetsPerSec')).padStart(12),
        (m(s, 'coldGetsPerSec') / m(base, 'coldGetsPerSec')).toFixed(2).padStart(7),
        fmt(m(s, 'secondPassGetsPerSec')).padStart(19),
        (m(s, 'diskBytes') / 2 ** 20).toFixed(1).padStart(9),
        fmt(m(s, 'peakRssMiB')).padStart(13),
      ].join(' '),
    );
  }
  console.log(`\nresults: ${resultsFile}`);
}
