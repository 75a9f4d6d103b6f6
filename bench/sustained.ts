// Sustained ingest (issue 14): a long run of durable commits, each engine in its own process,
// timed through close(). Two workloads:
//
//   kv     random 24-byte keys and 128-byte values (kv.bulk's data) in commits of 10,000 puts.
//   audit  the audit benchmark's seeded multi-tenant events in commits of 1,000: redb-audit through
//          its public API (RedbAuditStore.insertEvents), the peers doing the same work by hand
//          (bench/audit-engines: the event plus its five index entries per commit, durable).
//
// Short runs hide what a long one meets: redb-audit's checkpoints (every `memtableBytes` of
// commits or `checkpointWalBytes` of WAL they run inside the commit that crosses the line),
// LevelDB's compactions, a B-tree outgrowing the cache. So besides throughput this records every
// commit's latency (median, p99, p99.9, max), for redb-audit which commits ran a checkpoint and
// their latency, the resident memory over the run and its peak (maxRSS), and the directory's bytes
// after close.
//
// Which commits ran a checkpoint: commits go to the WAL, and only a checkpoint (or a compaction,
// which this never asks for) writes the page file (docs/format.md), so a commit across which a
// shard's data.redb changed its mtime or size ran one. The public counter, stats().checkpoints,
// says the same (checked on 60 kv and 60 audit commits with small memtables: the same commits),
// but a stats() call also counts the entries of every commit since the last call, a tree lookup per
// put: 45 ms after each 10,000-put commit, work the engine would not otherwise do and a cache it
// would not otherwise warm. A stat() per page file costs microseconds and touches nothing.
//
// Data is generated per commit from the seeded streams, never held whole: 10,000,000 puts held up
// front would be 1.5 GB of the memory measured.
//
//   npx tsx bench/sustained.ts                                   # smoke: kv, 200,000 puts
//   npx tsx bench/sustained.ts --workload audit                  # smoke: audit, 20,000 events
//   npx tsx bench/sustained.ts --full                            # issue 14: kv, 10,000,000 puts
//   npx tsx bench/sustained.ts --workload audit --full           # issue 14: audit, 2,000,000 events
//   options: --puts N | --events N, --engines a,b, --keys random|ordered (kv), --durability immediate|none
//            (audit: redb-audit's; the peers always fsync each commit), --seed N, --timeout-min N

import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Durability } from '../src/index.js';
import { auditEventBatches } from './audit-data.js';
import type { AuditEngineModule } from './audit-engines/types.js';
import { makeKeys, makeValues, streamRng, type Pair } from './data.js';
import { ENGINES, isEngineName } from './engines/index.js';
import { isPromise, type MaybePromise } from './engines/types.js';
import { latencyOf, type Latency } from './latency.js';
import { footprint } from './workloads.js';
import { liveChildren } from './live-children.js';

const SELF = fileURLToPath(import.meta.url);
const RESULTS_DIR = join(dirname(SELF), 'results');
const DEFAULT_SEED = 20_240_601;
const KV_PER_COMMIT = 10_000;
const AUDIT_PER_COMMIT = 1_000;
/** Smoke sizes (the default) and issue 14's sizes (--full). */
const SIZES = { kv: { smoke: 200_000, full: 10_000_000 }, audit: { smoke: 20_000, full: 2_000_000 } } as const;
/** Resident memory is sampled after every commit and reported, with the JS heap and the memory
 * outside it (Buffers, native allocations Node knows of), at this many evenly spaced points. */
const RSS_POINTS = 10;
const SLOWEST = 5;

type Workload = 'kv' | 'audit';

const AUDIT_ENGINES = {
  redb: { label: 'redb-audit', load: async (d: Durability): Promise<AuditEngineModule> => (await import('./audit-engines/redb.js')).redbAuditEngine(d) },
  lmdb: { label: 'lmdb-js', load: async (): Promise<AuditEngineModule> => (await import('./audit-engines/lmdb.js')).engine },
  level: { label: 'classic-level', load: async (): Promise<AuditEngineModule> => (await import('./audit-engines/level.js')).engine },
  sqlite: { label: 'better-sqlite3', load: async (): Promise<AuditEngineModule> => (await import('./audit-engines/sqlite.js')).engine },
} as const;
type AuditEngineName = keyof typeof AUDIT_ENGINES;
const isAuditEngine = (name: string): name is AuditEngineName => Object.hasOwn(AUDIT_ENGINES, name);

interface ChildArgs {
  workload: Workload;
  engine: string;
  dir: string;
  ops: number;
  seed: number;
  ordered: boolean;
  durability: Durability;
}

interface MemorySample {
  commit: number;
  rssMiB: number;
  heapUsedMiB: number;
  /** process.memoryUsage().external: Buffers and other memory V8 is told of but does not hold. */
  externalMiB: number;
}

export interface SustainedResult {
  workload: Workload;
  engine: string;
  label: string;
  ops: number;
  perCommit: number;
  /** ops ÷ (first commit through the end of close(), less the untimed data generation and probes). */
  opsPerSec: number;
  /** The same before close(): ops ÷ the sum of the commits' latencies. */
  opsPerSecBeforeClose: number;
  seconds: { commits: number; close: number; untimed: number; probes: number };
  /** CPU seconds of the whole process (every thread: LevelDB compacts on its own) from the first
   * commit through close(). Unlike opsPerSec it includes generating the data (the same work for
   * every engine, a few percent of the whole; the process's CPU cannot be split by thread on Node
   * 20), and it is the figure a loaded machine disturbs least. */
  cpuSeconds: number;
  opsPerCpuSecond: number;
  latency: Latency;
  /** redb-audit only: the commits during which a checkpoint ran (the engine's stats counter moved). */
  checkpoints: { count: number; latency: Latency | null; p99OverAllMedian: number | null } | null;
  slowest: { commit: number; ms: number; checkpoint: boolean }[];
  rss: { startMiB: number; peakMiB: number; maxSampledMiB: number; samples: MemorySample[] };
  disk: { bytes: number; allocatedBytes: number };
}

// ---------------------------------------------------------------------------------------------
// Child: one engine, one run.

interface Target {
  label: string;
  perCommit: number;
  commits: number;
  /** Builds commit i's data (untimed) and returns the function that commits it. */
  prepare(i: number): () => MaybePromise<void>;
  close(): MaybePromise<void>;
  checkpointFiles?: string[];
}

/** Changes whenever any of the files is written (mtime in ns) or resized. */
function filesState(files: readonly string[]): string {
  return files.map((f) => {
    const st = statSync(f, { bigint: true });
    return `${st.mtimeNs}:${st.size}`;
  }).join(',');
}

async function kvTarget(a: ChildArgs): Promise<Target> {
  if (!isEngineName(a.engine)) throw new Error(`unknown kv engine ${a.engine}`);
  const db = await ENGINES[a.engine].load().then((m) => m.open(a.dir));
  const keys = streamRng(a.seed, 'sustained-keys');
  const values = streamRng(a.seed, 'sustained-values');
  return {
    label: ENGINES[a.engine].label,
    perCommit: KV_PER_COMMIT,
    commits: Math.ceil(a.ops / KV_PER_COMMIT),
    prepare(i) {
      const first = i * KV_PER_COMMIT;
      const n = Math.min(KV_PER_COMMIT, a.ops - first);
      const k = makeKeys(keys, n);
      const v = makeValues(values, n, first);
      const pairs = new Array<Pair>(n);
      for (let j = 0; j < n; j++) {
        // Ordered keys: an 8-byte counter, then 16 random bytes, as time-ordered audit keys ascend.
        if (a.ordered) k[j]!.writeBigUInt64BE(BigInt(first + j), 0);
        pairs[j] = [k[j]!, v[j]!];
      }
      return () => db.putBatch(pairs);
    },
    close: () => db.close(),
    checkpointFiles: db.checkpointFiles?.(),
  };
}

async function auditTarget(a: ChildArgs): Promise<Target> {
  if (!isAuditEngine(a.engine)) throw new Error(`unknown audit engine ${a.engine}`);
  const db = await (await AUDIT_ENGINES[a.engine].load(a.durability)).open(a.dir);
  const batches = auditEventBatches(a.seed, a.ops, AUDIT_PER_COMMIT);
  return {
    label: a.engine === 'redb' ? `redb-audit (${a.durability})` : AUDIT_ENGINES[a.engine].label,
    perCommit: AUDIT_PER_COMMIT,
    commits: Math.ceil(a.ops / AUDIT_PER_COMMIT),
    prepare() {
      const batch = batches.next();
      if (batch.done) throw new Error('the event stream ended before the last commit');
      return () => db.insert(batch.value);
    },
    close: () => db.close(),
    checkpointFiles: db.checkpointFiles?.(),
  };
}

const MIB = 1024 * 1024;

async function child(a: ChildArgs): Promise<SustainedResult> {
  const startRss = process.memoryUsage.rss();
  const t = a.workload === 'kv' ? await kvTarget(a) : await auditTarget(a);
  const latencies = new Float64Array(t.commits);
  const ranCheckpoint = new Uint8Array(t.commits);
  const rss = new Float64Array(t.commits);
  const samplePoints = new Set(Array.from({ length: RSS_POINTS }, (_, p) => Math.max(0, Math.min(t.commits - 1, Math.round(((p + 1) * t.commits) / RSS_POINTS) - 1))));
  const samples: MemorySample[] = [];
  let untimed = 0n;
  let probes = 0n;
  const cpuSeconds = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;
  const cpuStart = process.cpuUsage();
  const files = t.checkpointFiles;
  let seen = files ? filesState(files) : '';
  const start = process.hrtime.bigint();
  for (let i = 0; i < t.commits; i++) {
    const g0 = process.hrtime.bigint();
    const commit = t.prepare(i);
    const c0 = process.hrtime.bigint();
    const done = commit();
    if (isPromise(done)) await done;
    const c1 = process.hrtime.bigint();
    latencies[i] = Number(c1 - c0) / 1e6;
    if (files) {
      // redb-audit checkpoints inside the commit that crosses its threshold (this loop never yields
      // to the event loop for it, so the interval timer's checkpoint cannot run between commits).
      const now = filesState(files);
      if (now !== seen) ranCheckpoint[i] = 1;
      seen = now;
    }
    rss[i] = process.memoryUsage.rss();
    if (samplePoints.has(i)) {
      const m = process.memoryUsage();
      samples.push({ commit: i, rssMiB: m.rss / MIB, heapUsedMiB: m.heapUsed / MIB, externalMiB: m.external / MIB });
      // A full run takes many minutes: say how far it is (stderr, which the parent passes through).
      if (t.commits >= 100) {
        const at = Number(process.hrtime.bigint() - start) / 1e9;
        process.stderr.write(`  ${t.label}: ${Math.round((samples.length * 100) / RSS_POINTS)}% (${Math.min(a.ops, (i + 1) * t.perCommit).toLocaleString('en-US')}) at ${at.toFixed(0)} s, RSS ${(m.rss / MIB).toFixed(0)} MiB\n`);
      }
    }
    const c2 = process.hrtime.bigint();
    untimed += c0 - g0 + (c2 - c1);
    probes += c2 - c1;
  }
  const loaded = process.hrtime.bigint();
  const closed = t.close();
  if (isPromise(closed)) await closed;
  const end = process.hrtime.bigint();
  const cpu = cpuSeconds(process.cpuUsage(cpuStart));

  const s = (ns: bigint): number => Number(ns) / 1e9;
  const commitSeconds = latencies.reduce((sum, ms) => sum + ms, 0) / 1000;
  const closeSeconds = s(end - loaded);
  const timed = s(end - start - untimed);
  const latency = latencyOf(latencies)!;
  let checkpoints: SustainedResult['checkpoints'] = null;
  if (files) {
    const during = latencies.filter((_, i) => ranCheckpoint[i] === 1);
    const cl = latencyOf(during);
    checkpoints = { count: during.length, latency: cl, p99OverAllMedian: cl ? cl.p99Ms / latency.medianMs : null };
  }
  const slowest = [...latencies.keys()]
    .sort((x, y) => latencies[y]! - latencies[x]!)
    .slice(0, SLOWEST)
    .map((i) => ({ commit: i, ms: latencies[i]!, checkpoint: ranCheckpoint[i] === 1 }));
  return {
    workload: a.workload,
    engine: a.engine,
    label: t.label,
    ops: a.ops,
    perCommit: t.perCommit,
    opsPerSec: a.ops / timed,
    opsPerSecBeforeClose: a.ops / commitSeconds,
    seconds: { commits: commitSeconds, close: closeSeconds, untimed: s(untimed), probes: s(probes) },
    cpuSeconds: cpu,
    opsPerCpuSecond: a.ops / cpu,
    latency,
    checkpoints,
    slowest,
    // maxRSS is in KiB: the whole process's high-water mark, Node and tsx included (see startMiB).
    rss: { startMiB: startRss / MIB, peakMiB: process.resourceUsage().maxRSS / 1024, maxSampledMiB: rss.reduce((a, b) => Math.max(a, b), 0) / MIB, samples },
    disk: footprint(a.dir),
  };
}

// ---------------------------------------------------------------------------------------------
// Parent: options, one child per engine, the table and the results file.

interface Options {
  workload: Workload;
  ops: number;
  engines: string[];
  seed: number;
  ordered: boolean;
  durability: Durability;
  timeoutMs: number;
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      workload: { type: 'string', default: 'kv' },
      puts: { type: 'string' },
      events: { type: 'string' },
      full: { type: 'boolean', default: false },
      engines: { type: 'string' },
      keys: { type: 'string', default: 'random' },
      durability: { type: 'string', default: 'immediate' },
      seed: { type: 'string' },
      'timeout-min': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: tsx bench/sustained.ts [--workload kv|audit] [--full] [--puts N | --events N] [--engines a,b]\n' +
        '                               [--keys random|ordered] [--durability immediate|none] [--seed N] [--timeout-min N]\n' +
        `  kv:    --puts N (default ${SIZES.kv.smoke.toLocaleString('en-US')}; --full ${SIZES.kv.full.toLocaleString('en-US')}), commits of ${KV_PER_COMMIT.toLocaleString('en-US')}, engines ${Object.keys(ENGINES).join(',')} (default redb,level)\n` +
        `  audit: --events N (default ${SIZES.audit.smoke.toLocaleString('en-US')}; --full ${SIZES.audit.full.toLocaleString('en-US')}), commits of ${AUDIT_PER_COMMIT.toLocaleString('en-US')}, engines ${Object.keys(AUDIT_ENGINES).join(',')} (default redb,lmdb,level)`,
    );
    process.exit(0);
  }
  const workload = values.workload;
  if (workload !== 'kv' && workload !== 'audit') throw new Error(`--workload must be kv or audit, got ${workload}`);
  if (workload === 'kv' && values.events !== undefined) throw new Error('--events is for --workload audit; the kv workload counts --puts');
  if (workload === 'audit' && values.puts !== undefined) throw new Error('--puts is for --workload kv; the audit workload counts --events');
  const ops = positiveInt(workload === 'kv' ? 'puts' : 'events', workload === 'kv' ? values.puts : values.events, values.full ? SIZES[workload].full : SIZES[workload].smoke);
  if (values.keys !== 'random' && values.keys !== 'ordered') throw new Error(`--keys must be random or ordered, got ${values.keys}`);
  if (workload === 'audit' && values.keys !== 'random') throw new Error('--keys is for --workload kv; audit events are always time-ordered');
  const durability = values.durability;
  if (durability !== 'immediate' && durability !== 'none') throw new Error(`--durability must be immediate or none, got ${durability}`);
  if (workload === 'kv' && durability !== 'immediate') throw new Error('--durability is for --workload audit; every kv engine fsyncs each commit');
  const known = workload === 'kv' ? Object.keys(ENGINES) : Object.keys(AUDIT_ENGINES);
  const engines = [...new Set((values.engines ?? (workload === 'kv' ? 'redb,level' : 'redb,lmdb,level')).split(',').map((e) => e.trim()).filter(Boolean))];
  for (const e of engines) if (!known.includes(e)) throw new Error(`unknown ${workload} engine "${e}"; known: ${known.join(', ')}`);
  for (const e of engines) {
    const why = workload === 'kv' && isEngineName(e) ? ENGINES[e].unavailable() : undefined;
    if (why) throw new Error(`${e} cannot run: ${why}`);
  }
  return {
    workload,
    ops,
    engines,
    seed: values.seed === undefined ? DEFAULT_SEED : positiveInt('seed', values.seed, DEFAULT_SEED),
    ordered: values.keys === 'ordered',
    durability,
    timeoutMs: positiveInt('timeout-min', values['timeout-min'], 120) * 60_000,
  };
}


function runChild(o: Options, engine: string): Promise<SustainedResult> {
  const dir = mkdtempSync(join(tmpdir(), `sustained-${o.workload}-${engine}-`));
  const args: ChildArgs = { workload: o.workload, engine, dir, ops: o.ops, seed: o.seed, ordered: o.ordered, durability: o.durability };
  return new Promise<SustainedResult>((resolve, reject) => {
    const c = spawn(process.execPath, [...(process.env.BENCH_CHILD_FLAGS ? process.env.BENCH_CHILD_FLAGS.split(' ') : []), '--import', import.meta.resolve('tsx'), SELF, '--child', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    liveChildren.set(c, dir);
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      c.kill('SIGKILL');
    }, o.timeoutMs);
    c.on('error', (err) => reject(new Error(`could not start the ${engine} child: ${err.message}`)));
    c.on('exit', (code, signal) => {
      clearTimeout(timer);
      liveChildren.delete(c);
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!) as SustainedResult);
      else reject(new Error(`${engine} failed (${timedOut ? `killed past --timeout-min ${o.timeoutMs / 60_000}` : signal ? `killed by ${signal}` : `exit ${code}`}); its error output is above`));
    });
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const n0 = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

function grid(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function table(o: Options, results: readonly SustainedResult[]): string {
  const unit = o.workload === 'kv' ? 'puts/s' : 'events/s';
  const redb = results.find((r) => r.engine === 'redb');
  const rows: string[][] = [
    ['engine', unit, 'redb ÷ it', 'per CPU-s', 'redb ÷ it', 'before close', 'close s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'p99/p50', 'ckpt commits', 'ckpt p99 ms', 'ckpt p99/p50', 'peak RSS MiB', 'disk MiB'],
  ];
  for (const r of results) {
    const c = r.checkpoints;
    rows.push([
      r.label,
      n0(r.opsPerSec),
      redb && r !== redb ? (redb.opsPerSec / r.opsPerSec).toFixed(2) : '',
      n0(r.opsPerCpuSecond),
      redb && r !== redb ? (redb.opsPerCpuSecond / r.opsPerCpuSecond).toFixed(2) : '',
      n0(r.opsPerSecBeforeClose),
      r.seconds.close.toFixed(2),
      ms(r.latency.medianMs),
      ms(r.latency.p99Ms),
      ms(r.latency.p999Ms),
      ms(r.latency.maxMs),
      r.latency.p99OverMedian.toFixed(2),
      c ? String(c.count) : '',
      c?.latency ? ms(c.latency.p99Ms) : '',
      c?.p99OverAllMedian != null ? c.p99OverAllMedian.toFixed(2) : '',
      r.rss.peakMiB.toFixed(0),
      (r.disk.allocatedBytes / MIB).toFixed(1),
    ]);
  }
  return grid(rows);
}

function targets(o: Options, results: readonly SustainedResult[]): string[] {
  const lines: string[] = [];
  const redb = results.find((r) => r.engine === 'redb');
  if (redb?.checkpoints) {
    const c = redb.checkpoints;
    lines.push(
      c.latency
        ? `redb-audit: ${c.count} of ${redb.latency.commits} commits ran a checkpoint; their p99 is ${c.p99OverAllMedian!.toFixed(2)}× the median commit (issue 14: ≤ 3×), all commits' p99 ${redb.latency.p99OverMedian.toFixed(2)}×`
        : `redb-audit: no commit ran a checkpoint (the run stayed under memtableBytes/checkpointWalBytes; close() wrote the only one), all commits' p99 ${redb.latency.p99OverMedian.toFixed(2)}× the median`,
    );
  }
  if (o.workload === 'audit' && redb && o.durability === 'immediate') lines.push(`redb-audit (immediate): ${n0(redb.opsPerSec)} events/s through close (issue 14: ≥ 20,000)`);
  const mib = (ss: MemorySample[], f: (m: MemorySample) => number): string => ss.map((m) => f(m).toFixed(0)).join(' ');
  for (const r of results) {
    lines.push(
      `${r.label}: peak RSS ${r.rss.peakMiB.toFixed(0)} MiB (issue 14: < 1024; ${r.rss.startMiB.toFixed(0)} MiB before opening; highest after a commit ${r.rss.maxSampledMiB.toFixed(0)}), ` +
        `over the run: RSS ${mib(r.rss.samples, (m) => m.rssMiB)}, JS heap ${mib(r.rss.samples, (m) => m.heapUsedMiB)}, external ${mib(r.rss.samples, (m) => m.externalMiB)} MiB`,
    );
  }
  for (const r of results) lines.push(`${r.label}: slowest commits ${r.slowest.map((s) => `#${s.commit} ${ms(s.ms)} ms${s.checkpoint ? ' (checkpoint)' : ''}`).join(', ')}`);
  return lines;
}

async function main(): Promise<void> {
  const o = parseOptions();
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${new Date().toISOString().replace(/[:.]/g, '-')}-sustained.jsonl`);
  const record = (line: object): void => appendFileSync(file, `${JSON.stringify(line)}\n`);
  record({ type: 'meta', bench: 'sustained', startedAt: new Date().toISOString(), ...o, node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, loadavg: loadavg(), tmpdir: tmpdir() });
  const what =
    o.workload === 'kv'
      ? `${n0(o.ops)} puts of ${o.ordered ? 'ordered' : 'random'} keys in durable commits of ${n0(KV_PER_COMMIT)}`
      : `${n0(o.ops)} audit events in commits of ${n0(AUDIT_PER_COMMIT)} (redb-audit durability ${o.durability}; the peers fsync every commit)`;
  console.log(`sustained ingest: ${what}, timed through close(), each engine in its own process, temp dirs under ${tmpdir()}`);
  const results: SustainedResult[] = [];
  for (const engine of o.engines) {
    const started = performance.now();
    try {
      const r = await runChild(o, engine);
      results.push(r);
      record({ type: 'run', loadavg: loadavg(), ...r });
      console.log(`${r.label.padEnd(24)} ${((performance.now() - started) / 1000).toFixed(1)} s  (load average ${loadavg()[0]!.toFixed(1)})`);
    } catch (err) {
      record({ type: 'error', engine, message: (err as Error).message });
      console.log(`${engine.padEnd(24)} FAILED: ${(err as Error).message}`);
      process.exitCode = 1;
    }
  }
  if (results.length > 0) console.log(`\n${table(o, results)}\n\n${targets(o, results).join('\n')}`);
  console.log(`\nresults: ${file}`);
}

if (process.argv[2] === '--child') {
  const result = await child(JSON.parse(process.argv[3]!) as ChildArgs);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  await main();
}
