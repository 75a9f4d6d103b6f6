/**
 * The long crash test: `npm run test:crash -- --kills 1000 [--seed N] [--dir PATH]`.
 *
 * `--stalls` adds periodic event-loop stalls to every child (default 15 s after every 40
 * acknowledgements; `--stall-ms`, `--stall-every`) while the parent keeps trying to open the store:
 * every such open must be refused, and no acknowledged commit may be lost. Without `--kills` a stall
 * run makes 6 kills (each child lives through a stall or two: about two minutes in all).
 *
 * Same harness as the crash test in `npm test` (crash-harness.ts), many more kills. Prints a line per
 * check (every 10th unless --verbose), then a summary; exits 1 on the first failed check, printing the
 * seed to rerun with and where the crashed store was kept.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CrashCheckError, runCrashCycles, type StallPlan } from './crash-harness.js';

function parseArgs(argv: string[]): { kills: number; seed: number; dir: string | null; verbose: boolean; stalls: StallPlan | null } {
  let kills: number | null = null;
  let stalls = false;
  let stallMs = 15_000;
  let stallEvery = 40;
  let seed = (Math.random() * 2 ** 32) >>> 0;
  let dir: string | null = null;
  let verbose = false;
  for (let a = 0; a < argv.length; a++) {
    const arg = argv[a]!;
    const value = (): string => {
      const v = argv[++a];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--kills') kills = Number(value());
    else if (arg === '--seed') seed = Number(value());
    else if (arg === '--dir') dir = value();
    else if (arg === '--verbose') verbose = true;
    else if (arg === '--stalls') stalls = true;
    else if (arg === '--stall-ms') stallMs = Number(value());
    else if (arg === '--stall-every') stallEvery = Number(value());
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: npm run test:crash -- [--kills N] [--seed N] [--dir PATH] [--verbose] [--stalls [--stall-ms MS] [--stall-every ACKS]]');
      process.exit(0);
    } else throw new Error(`unknown argument ${arg} (try --help)`);
  }
  kills ??= stalls ? 6 : 1000;
  if (!Number.isInteger(kills) || kills < 1) throw new Error('--kills must be a positive integer');
  if (!Number.isInteger(stallMs) || stallMs < 1) throw new Error('--stall-ms must be a positive integer');
  if (!Number.isInteger(stallEvery) || stallEvery < 1) throw new Error('--stall-every must be a positive integer');
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error('--seed must be an integer from 0 to 2^32-1');
  return { kills, seed, dir, verbose, stalls: stalls ? { ms: stallMs, every: stallEvery } : null };
}

async function main(): Promise<void> {
  const { kills, seed, dir, verbose, stalls } = parseArgs(process.argv.slice(2));
  // A directory of our own unless one is given; removed after a pass, kept after a failure.
  const base = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'redb-crash-'));
  const storeDir = dir ?? path.join(base, 'db');
  console.log(
    `crash test: ${kills} kills, seed ${seed} (rerun with --seed ${seed}), store ${storeDir}` +
      (stalls ? `; children stall ${stalls.ms} ms after every ${stalls.every} acks while this process keeps opening the store` : ''),
  );
  let checks = 0;
  try {
    const s = await runCrashCycles({
      kills,
      seed,
      dir: storeDir,
      ...(stalls ? { stalls } : {}),
      log: (line) => {
        checks++;
        if (verbose || checks % 10 === 0) console.log(line);
      },
    });
    const secs = (s.durationMs / 1000).toFixed(1);
    console.log('');
    console.log(`PASS: ${s.kills} kills in ${secs} s, seed ${s.seed}`);
    console.log(`  crashed stores reopened and checked: ${s.checks} (${s.chainedKills} kills hit a child recovering a crashed store)`);
    console.log(`  kills by moment: ${Object.entries(s.killModes).map(([m, n]) => `${m} ${n}`).join(', ')}`);
    console.log(`  acknowledged commits, all verified present: ${s.ackedCommits}`);
    console.log(`  transactions 1..${s.lastTxn} verified exactly (no partial transaction, nothing lost)`);
    console.log(`  WAL commits replayed on reopen: ${s.replayedCommits}; torn WAL tails cut: ${s.tornTails}; fallback header slots: ${s.fallbackSlots}`);
    if (stalls) console.log(`  event-loop stalls: ${s.stalls}; opens by this process while a child held the store, all refused: ${s.contendedOpens}`);
    console.log(`  parent actions between kills: ${Object.entries(s.parentActions).map(([a, n]) => `${a} ${n}`).join(', ')}`);
    if (!dir) fs.rmSync(base, { recursive: true, force: true });
  } catch (err) {
    console.error('');
    console.error(err instanceof CrashCheckError ? `FAIL: ${err.message}` : err);
    console.error(`seed ${seed}; store directory ${storeDir}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
