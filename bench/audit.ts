// The audit benchmark: redb-audit's audit store (RedbAuditStore, its public API) against lmdb-js,
// better-sqlite3 and classic-level doing the same work by hand, on identical seeded multi-tenant
// events, every commit durable. Each engine runs in its own child process, one after the other, for
// several rounds with the order rotating; the answers are cross-checked; the table shows medians
// and redb-audit ÷ best peer (above 1 = redb-audit faster); every result is appended to
// bench/results/<timestamp>-audit.jsonl.
//
//   npx tsx bench/audit.ts [--events 200000] [--quick] [--rounds N] [--engines redb,lmdb,sqlite,level] [--seed N]

import { fork } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { AuditEngineModule } from './audit-engines/types.js';
import { AUDIT_WORKLOADS, EVENTS_PER_COMMIT, auditSizes, runAuditSuite, type AuditSizes, type AuditSuiteResult, type AuditWorkload } from './audit-suite.js';
import { spread, type Spread } from './summary.js';
import { liveChildren } from './live-children.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const DEFAULT_SEED = 20_240_601;
const CHILD_TIMEOUT_MS = 20 * 60 * 1000;

const ENGINES = {
  redb: { label: 'redb-audit', load: async (): Promise<AuditEngineModule> => (await import('./audit-engines/redb.js')).engine },
  lmdb: { label: 'lmdb-js', load: async (): Promise<AuditEngineModule> => (await import('./audit-engines/lmdb.js')).engine },
  sqlite: { label: 'better-sqlite3', load: async (): Promise<AuditEngineModule> => (await import('./audit-engines/sqlite.js')).engine },
  level: { label: 'classic-level', load: async (): Promise<AuditEngineModule> => (await import('./audit-engines/level.js')).engine },
} as const;
type EngineName = keyof typeof ENGINES;
const isEngine = (name: string): name is EngineName => Object.hasOwn(ENGINES, name);

const WORKLOAD_LABELS: Record<AuditWorkload, string> = {
  ingest: `ingest (events/s, commits of ${EVENTS_PER_COMMIT.toLocaleString('en-US')}, through close)`,
  timeWindow: 'time window: 1 h, newest 100 (queries/s; first pass after reopen)',
  actor: "actor's latest 100 (queries/s; first pass)",
  actionCount: "action count, prefix such as 'auth.*' (queries/s; first pass)",
  resource: "resource's latest 100 (queries/s; first pass; not an issue-10 target)",
  timeWindowWarm: 'time window (second pass, warm)',
  actorWarm: "actor's latest 100 (second pass, warm)",
  actionCountWarm: 'action count (second pass, warm)',
  resourceWarm: "resource's latest 100 (second pass, warm)",
  export: 'export of the largest tenant, NDJSON to a file (events/s)',
};

type ChildMessage = { kind: 'result'; result: AuditSuiteResult } | { kind: 'error'; message: string };

interface Options {
  engines: EngineName[];
  rounds: number;
  events: number;
  seed: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      events: { type: 'string' },
      engines: { type: 'string' },
      rounds: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      `usage: tsx bench/audit.ts [--events N] [--quick] [--rounds N] [--engines ${Object.keys(ENGINES).join(',')}] [--seed N]\n` +
        '  --events N  events to ingest (default 200,000)\n  --quick     20,000 events, 1 round unless --rounds is given',
    );
    process.exit(0);
  }
  const engines: EngineName[] = [];
  for (const name of (values.engines ?? Object.keys(ENGINES).join(',')).split(',').map((e) => e.trim()).filter(Boolean)) {
    if (!isEngine(name)) throw new Error(`unknown engine "${name}"; known: ${Object.keys(ENGINES).join(', ')}`);
    if (!engines.includes(name)) engines.push(name);
  }
  const events = values.events !== undefined ? Number(values.events) : values.quick ? 20_000 : 200_000;
  if (!Number.isInteger(events) || events < EVENTS_PER_COMMIT) throw new Error(`--events must be an integer of at least ${EVENTS_PER_COMMIT}, got ${values.events}`);
  const rounds = values.rounds === undefined ? (values.quick ? 1 : 3) : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  return { engines, rounds, events, seed };
}


function runChild(engine: EngineName, options: Options): Promise<ChildMessage> {
  const dir = mkdtempSync(join(tmpdir(), `redb-audit-bench-${engine}-`));
  return new Promise<ChildMessage>((resolve) => {
    let message: ChildMessage | undefined;
    const child = fork(SELF, ['--child', engine, dir, String(options.events), String(options.seed)], {
      execArgv: ['--import', import.meta.resolve('tsx'), '--expose-gc', ...process.execArgv.filter((a) => a.startsWith('--cpu-prof'))],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    liveChildren.set(child, dir);
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('message', (m) => (message = m as ChildMessage));
    child.on('error', (error) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      resolve({ kind: 'error', message: `could not run the child process: ${error.message}` });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      resolve(message ?? { kind: 'error', message: `child exited with ${signal ?? `code ${code}`} before reporting` });
    });
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

async function child(engine: string, dir: string, events: number, seed: number): Promise<void> {
  let message: ChildMessage;
  try {
    if (!isEngine(engine)) throw new Error(`unknown engine ${engine}`);
    message = { kind: 'result', result: await runAuditSuite(await ENGINES[engine].load(), dir, seed, auditSizes(events)) };
  } catch (error) {
    process.exitCode = 1;
    message = { kind: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  if (process.send) process.send(message, () => process.disconnect?.());
  else console.log(JSON.stringify(message, null, 2));
}

interface Run {
  engine: EngineName;
  round: number;
  result: AuditSuiteResult;
}

function peerVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const name of ['lmdb', 'better-sqlite3', 'classic-level']) {
    const manifest = join(BENCH_DIR, '..', 'node_modules', name, 'package.json');
    if (!existsSync(manifest)) throw new Error(`${name} is not installed: run npm install at the repository root (the peers are dev dependencies)`);
    versions[name] = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
  }
  return versions;
}

/** Every run's digests must equal the first run's: same ids, counts and export bytes. */
function crossCheck(runs: readonly Run[]): string[] {
  const problems: string[] = [];
  const first = runs[0];
  if (!first) return problems;
  for (const run of runs.slice(1)) {
    for (const [key, value] of Object.entries(run.result.digests)) {
      const want = first.result.digests[key as keyof AuditSuiteResult['digests']];
      if (value !== want) problems.push(`${ENGINES[run.engine].label} round ${run.round}: ${key} ${value}, but ${ENGINES[first.engine].label} round ${first.round} had ${want}`);
    }
  }
  return problems;
}

function fmt(n: number): string {
  return n >= 100_000 ? `${(n / 1000).toFixed(0)}k` : n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : Math.round(n).toLocaleString('en-US');
}

function grid(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}

interface Summary {
  engine: EngineName;
  workloads: Record<AuditWorkload, Spread>;
  bytesPerEvent: Spread;
  ingestBeforeClose: Spread;
}

function summarise(engine: EngineName, runs: readonly Run[]): Summary | undefined {
  const mine = runs.filter((r) => r.engine === engine);
  if (mine.length === 0) return undefined;
  const workloads = {} as Record<AuditWorkload, Spread>;
  for (const w of AUDIT_WORKLOADS) workloads[w] = spread(mine.map((r) => r.result.workloads[w].opsPerSec));
  return {
    engine,
    workloads,
    bytesPerEvent: spread(mine.map((r) => r.result.footprint.bytesPerEvent)),
    ingestBeforeClose: spread(mine.map((r) => r.result.ingestBeforeClose.opsPerSec)),
  };
}

/** Median per engine (with the spread when there are several rounds), and redb-audit ÷ best peer. */
function table(summaries: readonly Summary[]): string {
  const redb = summaries.find((s) => s.engine === 'redb');
  const peers = summaries.filter((s) => s.engine !== 'redb');
  const cell = (s: Spread, f: (n: number) => string): string => (s.rounds > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median));
  const rows: string[][] = [['workload', ...summaries.map((s) => ENGINES[s.engine].label), 'redb ÷ best peer']];
  for (const w of AUDIT_WORKLOADS) {
    const best = Math.max(...peers.map((p) => p.workloads[w].median));
    rows.push([WORKLOAD_LABELS[w], ...summaries.map((s) => cell(s.workloads[w], fmt)), redb && peers.length ? (redb.workloads[w].median / best).toFixed(2) : '']);
  }
  const smallest = Math.min(...peers.map((p) => p.bytesPerEvent.median));
  rows.push(['bytes on disk per event after close (lower is better)', ...summaries.map((s) => cell(s.bytesPerEvent, (n) => n.toFixed(0))), redb && peers.length ? `${(smallest / redb.bytesPerEvent.median).toFixed(2)} (smallest peer ÷ redb)` : '']);
  rows.push(['ingest before close (events/s)', ...summaries.map((s) => cell(s.ingestBeforeClose, fmt)), '']);
  return grid(rows);
}

async function main(): Promise<number> {
  const options = parseOptions();
  const versions = peerVersions();
  const sizes: AuditSizes = auditSizes(options.events);
  const resultsDir = join(BENCH_DIR, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const resultsFile = join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-audit.jsonl`);
  const record = (line: object): void => appendFileSync(resultsFile, `${JSON.stringify(line)}\n`);
  record({ type: 'meta', bench: 'audit', startedAt: new Date().toISOString(), ...options, sizes, node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, loadavg: loadavg(), tmpdir: tmpdir(), peers: versions });
  console.log(
    `Audit benchmark: ${options.events.toLocaleString('en-US')} events, ${options.rounds} round(s), seed ${options.seed}, ` +
      `${sizes.timeWindowQueries}/${sizes.actorQueries}/${sizes.actionCountQueries} queries, engines: ${options.engines.map((e) => ENGINES[e].label).join(', ')}\n` +
      `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, temp dirs under ${tmpdir()}`,
  );

  const runs: Run[] = [];
  const failures: string[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order = options.engines.map((_, i) => options.engines[(i + round - 1) % options.engines.length]!);
    for (const engine of order) {
      const started = performance.now();
      const outcome = await runChild(engine, options);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (outcome.kind === 'result') {
        runs.push({ engine, round, result: outcome.result });
        // The machine's load average next to each run: on a shared machine it explains most of the spread.
        record({ type: 'run', engine, round, loadavg: loadavg(), ...outcome.result });
        console.log(`round ${round}/${options.rounds}  ${ENGINES[engine].label.padEnd(15)} ${seconds} s  (load average ${loadavg()[0]!.toFixed(1)})`);
      } else {
        failures.push(`${ENGINES[engine].label} round ${round}: ${outcome.message}`);
        record({ type: 'error', engine, round, message: outcome.message });
        console.log(`round ${round}/${options.rounds}  ${ENGINES[engine].label.padEnd(15)} FAILED after ${seconds} s`);
      }
    }
  }

  const summaries = options.engines.map((e) => summarise(e, runs)).filter((s): s is Summary => s !== undefined);
  for (const s of summaries) record({ type: 'summary', ...s });
  const problems = crossCheck(runs);
  record({ type: 'crosscheck', ok: problems.length === 0, problems, digests: runs[0]?.result.digests });
  console.log('');
  if (summaries.length > 0) console.log(table(summaries) + '\n');
  const d = runs[0]?.result.digests;
  if (problems.length === 0) {
    console.log(
      `Cross-check: ${runs.length} run(s) agree` +
        (d ? ` (time windows ${d.timeWindowRows} rows, actor ${d.actorRows} rows, action counts total ${d.actionCountTotal}, resource ${d.resourceRows} rows, export ${d.exportEvents} events / ${d.exportBytes} bytes of ${runs[0]!.result.largestTenant}).` : '.'),
    );
  } else {
    console.log('Cross-check FAILED: the engines disagree, so these numbers do not compare like with like:');
    for (const p of problems) console.log(`  ${p}`);
  }
  for (const f of failures) console.log(`FAILED: ${f}`);
  console.log(`Results: ${resultsFile}`);
  return problems.length === 0 && failures.length === 0 ? 0 : 1;
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]), Number(process.argv[6]));
} else {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
