/**
 * Corruption: flipping any single byte of a page, a header slot or a WAL record is reported by
 * verify(), and reading affected data throws CorruptionError: never wrong bytes, never a hang.
 *
 * Each trial XORs one byte of a pristine store with a random non-zero mask and judges what the
 * engine does against a model of what was written (not against the engine's own reads). The trials
 * run in worker threads (test/support/corruption-harness.ts, corruption-worker.ts): engine calls are
 * synchronous, so only a parent thread can stop a read that never returns; the watchdog here fails
 * the test and names the trial if a worker makes no progress for HANG_MS.
 *
 * The seed is printed; CORRUPTION_SEED=<n> replays a run exactly. In `npm test` the four blocks
 * checked byte by byte get every header byte and a random quarter of the rest;
 * `npm run test:corruption` (CORRUPTION_FULL=1) flips every byte of them.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Worker } from 'node:worker_threads';
import { DATA_FILE } from '../../src/shard/durability/open-shard.js';
import {
  buildPageFileStore,
  buildUncleanStore,
  captureFiles,
  mapPageFile,
  planHeaderTrials,
  planPageTrials,
  readSlots,
  Rng,
  type Job,
  type JobResult,
  type LiveBlock,
  type PageTrial,
  type Section,
} from '../support/corruption-harness.js';
import { compiledPath } from '../support/compiled.mjs';

const FULL = process.env.CORRUPTION_FULL === '1';
const SEED = process.env.CORRUPTION_SEED ? Number(process.env.CORRUPTION_SEED) : crypto.randomInt(1, 2 ** 31);
/** A trial takes milliseconds; this long without one finishing can only be a hang. */
const HANG_MS = 30_000;
/** Page-file trials are split into this many jobs so that both cores share them evenly. */
const PAGE_CHUNKS = 4;
const WIDTH = Math.max(1, Math.min(2, os.availableParallelism()));

// Workers do not inherit the parent's TypeScript loader: they run the worker as tsc compiled it
// (test/support/compiled.mjs). Starting one and loading the engine still takes a while, so a worker
// runs one job after another rather than one each.
const WORKER = compiledPath(path.join(import.meta.dirname, '..', 'support', 'corruption-worker.ts'));

/** Runs one job on `worker`; rejects naming the current trial if it stops making progress. */
function runOn(worker: Worker, job: Job): Promise<JobResult> {
  return new Promise((resolve, reject) => {
    let label = 'starting the job';
    let lastProgress = Date.now();
    let settled = false;
    const finish = (err: Error | null, result?: JobResult): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (err) reject(err);
      else resolve(result!);
    };
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress > HANG_MS) finish(new Error(`no progress for ${HANG_MS} ms in trial "${label}": a read, open or verify hung`));
    }, 250);
    const onMessage = (m: { type: string; label?: string; result?: JobResult; message?: string }): void => {
      lastProgress = Date.now();
      if (m.type === 'trial') label = m.label!;
      else if (m.type === 'done') finish(null, m.result);
      else if (m.type === 'failed') finish(new Error(`job failed during "${label}": ${m.message}`));
    };
    const onError = (err: Error): void => finish(new Error(`worker crashed during "${label}": ${err.stack ?? err.message}`));
    const onExit = (code: number): void => finish(new Error(`worker exited with code ${code} during "${label}"`));
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage(job);
  });
}

type Settled = { ok: true; value: JobResult } | { ok: false; error: unknown };

/**
 * Runs jobs on at most `width` workers, each taking the next job when it finishes one; a worker
 * whose job failed, crashed or hung is terminated and the next job gets a fresh one. Each promise
 * settles (never rejects) so none goes unhandled.
 */
function runPool(jobs: Job[], width: number): Promise<Settled>[] {
  const done = jobs.map(() => {
    let settle!: (s: Settled) => void;
    const promise = new Promise<Settled>((resolve) => (settle = resolve));
    return { promise, settle };
  });
  let next = 0;
  const lane = async (): Promise<void> => {
    let worker: Worker | null = null;
    while (next < jobs.length) {
      const i = next++;
      worker ??= new Worker(WORKER);
      try {
        done[i]!.settle({ ok: true, value: await runOn(worker, jobs[i]!) });
      } catch (error) {
        done[i]!.settle({ ok: false, error });
        void worker.terminate();
        worker = null;
      }
    }
    if (worker) void worker.terminate();
  };
  for (let i = 0; i < width; i++) void lane();
  return done.map((d) => d.promise);
}

/** Merges the named sections of several jobs; throws the first job error. */
async function sections(promises: Promise<Settled>[], names: string[]): Promise<Section> {
  const merged: Section = { trials: 0, ms: 0, failures: [], counts: {} };
  for (const p of promises) {
    const s = await p;
    if (!s.ok) throw s.error;
    for (const name of names) {
      const part = s.value[name];
      if (!part) continue;
      merged.trials += part.trials;
      merged.ms += part.ms;
      merged.failures.push(...part.failures);
      for (const [k, v] of Object.entries(part.counts)) merged.counts[k] = (merged.counts[k] ?? 0) + v;
    }
  }
  return merged;
}

/** Prints what a group of trials did, then fails listing the first failures, if any. */
function report(t: TestContext, title: string, s: Section): void {
  const counts = Object.entries(s.counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const line = `${title}: ${s.trials} flips in ${(s.ms / 1000).toFixed(1)} s of worker time, ${s.failures.length} failures; ${counts}`;
  t.diagnostic(line);
  console.log(`[corruption seed ${SEED}] ${line}`);
  assert.equal(s.failures.length, 0, `${s.failures.length} failed expectations (seed ${SEED}), first ones:\n${s.failures.slice(0, 15).join('\n')}`);
}

describe('single-byte corruption', () => {
  let root = '';
  let pageJobs: Promise<Settled>[] = [];
  let cleanHeaderJob: Promise<Settled>[] = [];
  let uncleanHeaderJob: Promise<Settled>[] = [];
  let walJob: Promise<Settled>[] = [];
  let exhaustive: LiveBlock[] = [];
  let liveBlocks: LiveBlock[] = [];

  before(() => {
    console.log(`[corruption] seed ${SEED} (replay with CORRUPTION_SEED=${SEED})`);
    const rng = new Rng(SEED);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'redb-corruption-'));
    const work = (name: string): string => fs.mkdtempSync(path.join(root, `${name}-`));

    const pristine = path.join(root, 'pristine');
    const expected = buildPageFileStore(pristine, rng);
    const map = mapPageFile(path.join(pristine, DATA_FILE));
    liveBlocks = map.blocks;
    const plan = planPageTrials(map, rng, FULL);
    exhaustive = plan.exhaustive;
    // Interleave so each chunk gets a similar mix of cheap (open refuses) and full trials.
    const chunks: PageTrial[][] = Array.from({ length: PAGE_CHUNKS }, () => []);
    plan.trials.forEach((tr, i) => chunks[i % PAGE_CHUNKS]!.push(tr));

    const unclean = buildUncleanStore(path.join(root, 'unclean-build'), rng);
    const [a, b] = readSlots(unclean.files.data);
    assert.ok(a && b && a.checkpointTxn !== b.checkpointTxn, 'the unclean fixture must leave the slots at different checkpoints');

    const jobs: Job[] = [
      { kind: 'wal', seed: rng.u32(), workDir: work('wal') },
      ...chunks.map((trials, i): Job => ({ kind: 'page', pristineDir: pristine, workDir: work('page'), blocks: map.blocks, expected, trials, control: i === 0 })),
      { kind: 'header', name: 'clean close', files: captureFiles(pristine), workDir: work('hdr'), expected, trials: planHeaderTrials(rng, 16, 12) },
      { kind: 'header', name: 'unclean (crash)', files: unclean.files, workDir: work('hdr'), expected: unclean.expected, trials: planHeaderTrials(rng, 16, 12) },
    ];
    const settled = runPool(jobs, WIDTH);
    walJob = [settled[0]!];
    pageJobs = settled.slice(1, 1 + PAGE_CHUNKS);
    cleanHeaderJob = [settled[1 + PAGE_CHUNKS]!];
    uncleanHeaderJob = [settled[2 + PAGE_CHUNKS]!];
  });

  after(async () => {
    // Let running workers finish before their directories go.
    await Promise.all([...walJob, ...pageJobs, ...cleanHeaderJob, ...uncleanHeaderJob]);
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  test('a flipped byte in any live page-file block is refused at open or reported by verify, and the keys behind it throw CorruptionError instead of returning wrong bytes', async (t) => {
    const kinds = new Map<string, number>();
    for (const b of liveBlocks) kinds.set(b.kind, (kinds.get(b.kind) ?? 0) + 1);
    t.diagnostic(`live blocks: ${[...kinds].map(([k, n]) => `${k}=${n}`).join(' ')}`);
    t.diagnostic(`${FULL ? 'every byte' : 'every header byte and a quarter of the rest'} flipped in: ${exhaustive.map((b) => `${b.kind}${b.root ? '(root)' : ''}@${b.offset}+${b.length}`).join(', ')}`);
    assert.ok((kinds.get('branch') ?? 0) >= 2 && (kinds.get('value') ?? 0) > 0, 'the fixture must have branch levels and out-of-line values');
    assert.ok(liveBlocks.some((b) => b.kind === 'branch' && !b.root), 'the fixture must have a tree three levels deep (a branch below the root branch)');
    assert.ok(liveBlocks.some((b) => b.kind === 'leaf' && b.root), 'the fixture must have a table whose root is a leaf');
    const s = await sections(pageJobs, ['pages']);
    report(t, 'page file', s);
    const detected = Object.entries(s.counts)
      .filter(([k]) => k.endsWith(':refusedAtOpen') || k.endsWith(':reportedByVerify'))
      .reduce((n, [, v]) => n + v, 0);
    assert.equal(detected, s.trials, 'every flip in a live block must be detected');
  });

  test('a flipped byte in a free extent is read by nothing and changes nothing', async (t) => {
    const s = await sections(pageJobs, ['free']);
    report(t, 'free space', s);
    assert.ok(s.trials > 0, 'the fixture must have free extents');
  });

  test('a damaged header slot of a cleanly closed store is reported by verify, and open uses the other slot with every entry intact', async (t) => {
    const s = await sections(cleanHeaderJob, ['header']);
    report(t, 'header slots, clean close', s);
    assert.equal(s.counts.reportedByVerify, s.trials);
  });

  test('a damaged header slot of a crashed store (slots at different checkpoints) falls back to the other checkpoint and the WAL: nothing acknowledged is lost', async (t) => {
    const s = await sections(uncleanHeaderJob, ['header']);
    report(t, 'header slots, unclean', s);
    assert.equal(s.counts.reportedByVerify, s.trials);
  });

  test('verify() on a live database reports a flipped byte in any WAL record or segment header', async (t) => {
    const s = await sections(walJob, ['walLive']);
    report(t, 'WAL, live verify', s);
    assert.equal(s.counts.reportedByVerify, s.trials);
  });

  test('reopening after a flipped byte in an acknowledged WAL record (any but the last) throws CorruptionError rather than dropping commits', async (t) => {
    const s = await sections(walJob, ['walReopenEarlier']);
    report(t, 'WAL, reopen, earlier records', s);
    assert.equal(s.counts.refusedAtOpen, s.trials);
  });

  test('reopening after a flipped byte in the header of a WAL segment that holds records throws CorruptionError rather than discarding the segment', async (t) => {
    const s = await sections(walJob, ['walSegmentHeader']);
    report(t, 'WAL, reopen, segment headers', s);
    assert.equal(s.counts.refusedAtOpen, s.trials);
  });

  test('a flipped byte in the last WAL record is recovered as a torn tail: only that commit is lost and verify() is clean', async (t) => {
    // Nothing after the last record can prove it was acknowledged, so damage to it is
    // indistinguishable from a crash during its write; open may also refuse (CorruptionError).
    const s = await sections(walJob, ['walReopenLast']);
    report(t, 'WAL, reopen, last record', s);
    assert.equal((s.counts.tornTailDroppedOnlyLast ?? 0) + (s.counts.refusedAtOpen ?? 0), s.trials);
  });
});
