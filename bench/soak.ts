// Memory soak: one key-value store per option set, each in its own process, written with durable
// commits of random keys until the set's count, then closed; reports throughput, commit latency
// (median, p99, max: a checkpoint done inside one commit shows as the max), the highest
// resident memory seen after a commit in the first half of the run and in the second, the peak
// (maxRSS, close included), the resident memory after close, the directory's bytes and the
// checkpoints run. A store whose memory is bounded by its options (memtableBytes, cacheSizeBytes)
// levels off in the first half; one that is not keeps growing in the second. It found the lz4 addon's leak and the blob
// table's unbounded memory (docs/performance.md, "The lz4 codec" and "Deduplicated values").
//
//   npx tsx bench/soak.ts                      # every set at its default count (about 2-3 minutes)
//   npx tsx bench/soak.ts --scale 5 --sets blobs-4k,json-1500
//
// Sets (values half random bytes unless said otherwise; dedup is on by default for values of 1 KiB
// and more):
//   default            128-byte values, commits of 10,000, default options
//   lz4 / aes          the same with compression 'lz4' / with encryption
//   group              the same with durability 'group', through writeAsync
//   blobs-4k           4 KiB values, commits of 500 (deduplicated: the blob table)
//   blobs-4k-nodedup   the same with dedupEnabled false
//   json-1500          unique 1,500-byte JSON-like values, commits of 500 (deduplicated)
//   json-1500-nodedup  the same with dedupEnabled false

import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Database, type DatabaseOptions } from '../src/index.js';
import { KEY_BYTES, streamRng, type Rng } from './data.js';
import { latencyOf, type Latency } from './latency.js';
import { footprint } from './workloads.js';

const SELF = fileURLToPath(import.meta.url);
const RESULTS_DIR = join(dirname(SELF), 'results');
const SEED = 20_240_601;
const MIB = 1 << 20;

interface SoakSet {
  valueBytes: number;
  perCommit: number;
  /** Puts at --scale 1. */
  puts: number;
  json?: boolean;
  options: DatabaseOptions;
  async?: boolean;
}

const SETS: Record<string, SoakSet> = {
  default: { valueBytes: 128, perCommit: 10_000, puts: 1_000_000, options: {} },
  lz4: { valueBytes: 128, perCommit: 10_000, puts: 1_000_000, options: { compression: 'lz4' } },
  aes: { valueBytes: 128, perCommit: 10_000, puts: 1_000_000, options: { encryptionEnabled: true, encryptionKey: new Uint8Array(32).fill(0x5a) } },
  group: { valueBytes: 128, perCommit: 10_000, puts: 1_000_000, options: { durability: 'group' }, async: true },
  'blobs-4k': { valueBytes: 4096, perCommit: 500, puts: 200_000, options: {} },
  'blobs-4k-nodedup': { valueBytes: 4096, perCommit: 500, puts: 200_000, options: { dedupEnabled: false } },
  'json-1500': { valueBytes: 1500, perCommit: 500, puts: 200_000, json: true, options: {} },
  'json-1500-nodedup': { valueBytes: 1500, perCommit: 500, puts: 200_000, json: true, options: { dedupEnabled: false } },
};

interface SoakResult {
  set: string;
  puts: number;
  seconds: number;
  putsPerSec: number;
  /** Highest RSS after a commit in the first and in the second half of the run. */
  firstHalfRssMiB: number;
  secondHalfRssMiB: number;
  peakRssMiB: number;
  rssAfterCloseMiB: number;
  diskMiB: number;
  checkpoints: number;
  latency: Latency;
}

const WORDS = ['record', 'update', 'tenant', 'actor', 'service', 'outcome', 'success', 'before', 'after', 'field'];

/** Fills `value` with the set's next value: half random bytes, or a unique JSON-like text padded with spaces. */
function nextValue(set: SoakSet, rng: Rng, value: Buffer, i: number): void {
  if (!set.json) {
    rng.fill(value, 0, value.length >> 1);
    return;
  }
  const words = Array.from({ length: 8 + rng.below(40) }, () => WORDS[rng.below(WORDS.length)]).join(' ');
  const text = `{"id":"${rng.nextU32().toString(36)}${i}","tenant":"t${rng.below(20)}","action":"record.update","actor":{"id":"u${rng.below(97)}"},"details":{"note":"${words}","n":${i}}}`;
  value.fill(0x20);
  value.write(text.slice(0, value.length));
}

async function child(name: string, puts: number): Promise<SoakResult> {
  const set = SETS[name]!;
  const dir = mkdtempSync(join(tmpdir(), `soak-${name}-`));
  try {
    const db = Database.open(dir, { durability: 'immediate', ...set.options });
    const rng = streamRng(SEED, name);
    const key = Buffer.alloc(KEY_BYTES);
    const value = Buffer.alloc(set.valueBytes);
    const t0 = performance.now();
    const halves = [0, 0];
    const commitMs = new Float64Array(Math.ceil(puts / set.perCommit));
    for (let at = 0, c = 0; at < puts; at += set.perCommit, c++) {
      const fill = (tx: { put(k: Uint8Array, v: Uint8Array): void }): void => {
        for (let i = at; i < Math.min(puts, at + set.perCommit); i++) {
          rng.fill(key, 0, KEY_BYTES);
          nextValue(set, rng, value, i);
          tx.put(key, value);
        }
      };
      const began = performance.now();
      if (set.async) await db.writeAsync(fill);
      else db.write(fill);
      commitMs[c] = performance.now() - began;
      const half = at < puts / 2 ? 0 : 1;
      halves[half] = Math.max(halves[half]!, process.memoryUsage().rss / MIB);
    }
    const checkpoints = db.stats({ tables: false }).checkpoints;
    await db.close();
    const seconds = (performance.now() - t0) / 1000;
    return {
      set: name,
      puts,
      seconds,
      putsPerSec: puts / seconds,
      firstHalfRssMiB: halves[0]!,
      secondHalfRssMiB: halves[1]!,
      peakRssMiB: (process.resourceUsage().maxRSS * 1024) / MIB,
      rssAfterCloseMiB: process.memoryUsage().rss / MIB,
      diskMiB: footprint(dir).bytes / MIB,
      checkpoints,
      latency: latencyOf(commitMs)!,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runChild(name: string, puts: number): Promise<SoakResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), SELF, '--child', name, String(puts)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as SoakResult);
      else reject(new Error(`soak set ${name} exited with ${code}: ${out}`));
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scale: { type: 'string' }, sets: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log(`usage: npx tsx bench/soak.ts [--scale X] [--sets ${Object.keys(SETS).join(',')}]`);
    return;
  }
  const scale = Number(values.scale ?? 1);
  if (!(scale > 0)) throw new Error(`--scale must be a positive number, got ${values.scale}`);
  const names = values.sets ? values.sets.split(',').map((s) => s.trim()) : Object.keys(SETS);
  for (const n of names) if (!Object.hasOwn(SETS, n)) throw new Error(`unknown set ${n}; the sets are ${Object.keys(SETS).join(', ')}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${new Date().toISOString().replace(/[:.]/g, '-')}-soak.jsonl`);
  appendFileSync(file, JSON.stringify({ type: 'meta', bench: 'soak', startedAt: new Date().toISOString(), scale, sets: names, node: process.version, loadavg: loadavg() }) + '\n');
  const rows: string[][] = [];
  for (const name of names) {
    const r = await runChild(name, Math.round(SETS[name]!.puts * scale));
    appendFileSync(file, JSON.stringify({ type: 'run', ...r }) + '\n');
    const l = r.latency;
    const row = [r.set, r.puts.toLocaleString('en-US'), r.seconds.toFixed(1), Math.round(r.putsPerSec).toLocaleString('en-US'), `${l.medianMs.toFixed(0)} / ${l.p99Ms.toFixed(0)} / ${l.maxMs.toFixed(0)}`, r.firstHalfRssMiB.toFixed(0), r.secondHalfRssMiB.toFixed(0), r.peakRssMiB.toFixed(0), r.rssAfterCloseMiB.toFixed(0), r.diskMiB.toFixed(0), String(r.checkpoints)];
    rows.push(row);
    console.log(row.join('  '));
  }
  console.log('\n| set | puts | s | puts/s | commit ms p50 / p99 / max | RSS MiB, first half | second half | peak (close included) | after close | disk MiB | checkpoints |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log(`\nresults: ${file}`);
}

if (process.argv[2] === '--child') {
  const r = await child(process.argv[3]!, Number(process.argv[4]));
  console.log(JSON.stringify(r));
} else {
  await main();
}
