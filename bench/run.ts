// Benchmark runner: runs every engine in its own child process,
// one after the other, for several rounds, cross-checks their answers, prints the tables and
// appends every result to bench/results/<timestamp>.jsonl.
//
//   npx tsx bench/run.ts [--quick] [--engines redb,lmdb,sqlite,level] [--rounds N] [--seed N]

import { fork } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BASELINE_WRITES } from './baseline.js';
import type { ChildMessage } from './child.js';
import { ENGINES, REFERENCE_ENGINE, isEngineName, type EngineName } from './engines/index.js';
import { crossCheck, summarise, summariseBaseline, type EngineRun, type EngineSummary } from './summary.js';
import { baselineTable, footprintTable, throughputTable } from './table.js';
import { WORKLOADS, expectedDigests, sizesFor, type Measure } from './workloads.js';
import { liveChildren } from './live-children.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const CHILD = join(BENCH_DIR, 'child.ts');
const QUICK_SCALE = 0.1;
const DEFAULT_SEED = 20_240_601;
const PEERS = ['lmdb', 'better-sqlite3', 'classic-level'];
// Generous: a full round of the slowest peer takes well under a minute on the reference machine.
const CHILD_TIMEOUT_MS = 10 * 60 * 1000;

interface Options {
  engines: EngineName[];
  rounds: number;
  scale: number;
  seed: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      engines: { type: 'string' },
      rounds: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: tsx bench/run.ts [--quick] [--engines ' +
        Object.keys(ENGINES).join(',') +
        '] [--rounds N] [--seed N]\n' +
        `  --quick   workloads at 1/${1 / QUICK_SCALE} size, 1 round unless --rounds is given`,
    );
    process.exit(0);
  }
  // By default: us and the three peers. The variants (redb-none, redb-lz4, redb-aes, redb-4k) run when named.
  const requested = values.engines ? values.engines.split(',').map((e) => e.trim()).filter(Boolean) : Object.keys(ENGINES).filter((e) => !e.startsWith('redb-'));
  const engines: EngineName[] = [];
  for (const name of requested) {
    if (!isEngineName(name)) throw new Error(`unknown engine "${name}"; known: ${Object.keys(ENGINES).join(', ')}`);
    const why = ENGINES[name].unavailable();
    if (why) console.log(`note: skipping ${ENGINES[name].label}: ${why}`);
    else if (!engines.includes(name)) engines.push(name);
  }
  const rounds = values.rounds === undefined ? (values.quick ? 1 : 3) : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  return { engines, rounds, scale: values.quick ? QUICK_SCALE : 1, seed };
}

/** The peers are the project's dev dependencies (installed by `npm install` at the root); their
 * versions go into the results. */
function peerVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const name of PEERS) {
    const manifest = join(BENCH_DIR, '..', 'node_modules', name, 'package.json');
    if (!existsSync(manifest)) throw new Error(`${name} is not installed: run npm install at the repository root (the peers are dev dependencies)`);
    versions[name] = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
  }
  return versions;
}


/** Run child.ts for one task in a fresh temp dir, which is removed afterwards whatever happens. */
function runChild(task: EngineName | 'fsync', options: Options): Promise<ChildMessage> {
  const dir = mkdtempSync(join(tmpdir(), `redb-bench-${task}-`));
  return new Promise<ChildMessage>((resolve) => {
    let message: ChildMessage | undefined;
    const child = fork(CHILD, [task, dir, String(options.scale), String(options.seed)], {
      // The child is TypeScript too; --expose-gc lets it collect between workloads.
      execArgv: ['--import', import.meta.resolve('tsx'), '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    liveChildren.set(child, dir);
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('message', (m) => (message = m as ChildMessage));
    // A child that cannot be started emits 'error' (and maybe no 'exit'): report it as a failure.
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

async function main(): Promise<number> {
  const options = parseOptions();
  const versions = peerVersions();
  if (options.engines.length === 0) {
    console.log('No engine to run.');
    return 1;
  }

  const resultsDir = join(BENCH_DIR, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const resultsFile = join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
  const record = (line: object): void => appendFileSync(resultsFile, `${JSON.stringify(line)}\n`);
  const sizes = sizesFor(options.scale);
  record({
    type: 'meta',
    startedAt: new Date().toISOString(),
    ...options,
    sizes,
    baselineWrites: BASELINE_WRITES,
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    tmpdir: tmpdir(),
    peers: versions,
  });
  console.log(
    `${options.scale === 1 ? 'Full size' : `Scale ${options.scale}`}, ${options.rounds} round(s), seed ${options.seed}, ` +
      `engines: ${options.engines.map((e) => ENGINES[e].label).join(', ')}\n` +
      `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, temp dirs under ${tmpdir()}`,
  );

  const runs: EngineRun[] = [];
  const baselines: Measure[] = [];
  const failures: string[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const baseline = await runChild('fsync', options);
    if (baseline.kind === 'baseline') {
      baselines.push(baseline.result);
      record({ type: 'baseline', round, ...baseline.result });
    } else if (baseline.kind === 'error') {
      failures.push(`fsync baseline round ${round}: ${baseline.message}`);
    }
    // Rotate the order each round so no engine always runs first (cold caches) or last.
    const order = options.engines.map((_, i) => options.engines[(i + round - 1) % options.engines.length]!);
    for (const engine of order) {
      const started = performance.now();
      const outcome = await runChild(engine, options);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (outcome.kind === 'engine') {
        runs.push({ engine, round, result: outcome.result });
        record({ type: 'run', engine, round, ...outcome.result });
        console.log(`round ${round}/${options.rounds}  ${ENGINES[engine].label.padEnd(15)} ${seconds} s`);
      } else {
        const message = outcome.kind === 'error' ? outcome.message : 'unexpected reply';
        failures.push(`${ENGINES[engine].label} round ${round}: ${message}`);
        record({ type: 'error', engine, round, message });
        console.log(`round ${round}/${options.rounds}  ${ENGINES[engine].label.padEnd(15)} FAILED after ${seconds} s`);
      }
    }
  }

  const summaries = options.engines
    .map((engine) => summarise(engine, runs))
    .filter((s): s is EngineSummary => s !== undefined);
  const problems = crossCheck(runs, expectedDigests(sizes));
  recordSummaries(record, summaries);
  record({ type: 'crosscheck', ok: problems.length === 0, problems, digests: runs[0]?.result.digests });

  console.log('');
  if (summaries.length > 0) {
    console.log(throughputTable(summaries, sizes));
    console.log('');
    console.log(footprintTable(summaries));
    console.log('');
  }
  const baseline = summariseBaseline(baselines);
  if (baseline) {
    record({ type: 'baseline-summary', ...baseline });
    console.log(baselineTable(baseline, summaries));
    console.log('');
  }
  if (problems.length === 0) {
    console.log(`Cross-check: ${runs.length} run(s) agree (${describeDigests(runs)}).`);
  } else {
    console.log(`Cross-check FAILED: the engines disagree, so these numbers do not compare like with like:`);
    for (const problem of problems) console.log(`  ${problem}`);
  }
  for (const failure of failures) console.log(`FAILED: ${failure}`);
  console.log(`Results: ${resultsFile}`);
  return problems.length === 0 && failures.length === 0 ? 0 : 1;
}

function recordSummaries(record: (line: object) => void, summaries: readonly EngineSummary[]): void {
  const reference = summaries.find((s) => s.engine === REFERENCE_ENGINE);
  for (const s of summaries) {
    for (const workload of WORKLOADS) {
      const w = s.workloads[workload];
      const ratioToRedb = reference ? w.median / reference.workloads[workload].median : null;
      record({ type: 'summary', engine: s.engine, workload, opsPerSec: w, ratioToRedb });
    }
    record({ type: 'footprint-summary', engine: s.engine, ...s.footprint });
  }
}

function describeDigests(runs: readonly EngineRun[]): string {
  const d = runs[0]?.result.digests;
  return d ? `get hits ${d.getHits}, range entries ${d.rangeEntries}, live entries ${d.liveCount}` : 'no runs';
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
