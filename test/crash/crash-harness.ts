/**
 * The parent side of the crash test: spawn the child (crash-child.ts), SIGKILL it at a seeded random
 * moment, reopen the store here, and prove that recovery arrived exactly at a commit boundary at or
 * after the last acknowledged transaction:
 *
 * - The store's `last` key names k, the highest transaction it holds; k must be at least every
 *   transaction any child acknowledged (nothing acknowledged was lost) and at most what a child can
 *   have issued.
 * - Both tables must equal, entry for entry and byte for byte, the result of applying transactions
 *   1..k of the workload to empty tables. That single comparison proves every transaction up to k is
 *   fully present (except what a later transaction up to k deleted or overwrote, which the model
 *   deletes and overwrites too), that no transaction after k left anything behind, and so that the
 *   visible transactions are exactly the prefix 1..k: no transaction is partly visible.
 * - `verify()` is clean.
 *
 * Then, seeded, the parent checkpoints, compacts or commits a few transactions itself before closing,
 * so that the next child starts from differently shaped files; the next child continues at k+1. Now
 * and then a crashed store is handed straight to a second child without the parent opening it, so
 * that recovery itself gets killed (during the replay, the WAL segment switch, or just after).
 *
 * With `stalls`, every child blocks its own event loop (a synchronous wait: no timer runs, as
 * during a long synchronous checkpoint or the host's own work) for `stalls.ms` after every `stalls.every`
 * acknowledgements, while the parent keeps trying to open the store from outside every
 * CONTEND_EVERY_MS. Every such open must get LockedError: one that succeeds took the lock of a live
 * holder, which is the failure. The kills then land before, during and after stalls, and the same
 * "no acknowledged commit lost" check runs after each.
 *
 * Reproduce a failure with the same seed: the schedule (kill modes, delays, parent actions) and the
 * transactions are functions of it. Kill timing still depends on the machine, so a rare failure may
 * need a few runs; the store as the crash left it is kept and its path is in the error.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Database, LockedError, type RecoveryReport } from '../../src/index.js';
import { applyTransaction, CRASH_DB_OPTIONS, DEFAULT, parseLast, Rng, SIDE_TABLE, transactionOps } from './workload.js';
import { childArgs } from '../support/child-script.js';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * How far past its last printed ack a child can have committed: up to 8 writeAsync calls in flight
 * (whose acks may not be printed yet when the kill lands), plus one synchronous write. A store
 * holding more than this past every ack holds something no child wrote.
 */
const MAX_UNACKED = 9;
/** A child that neither acks nor gets killed for this long (plus its stalls) is hung. */
const CHILD_TIMEOUT_MS = 60_000;
/** How often, in a stall run, the parent tries to open the store a child holds. */
const CONTEND_EVERY_MS = 500;

/** Periodic event-loop stalls in the children; see the header. */
export interface StallPlan {
  /** Length of each stall, ms. */
  ms: number;
  /** A stall after every this many acknowledgements. */
  every: number;
}

/** When, in the child's life, the SIGKILL lands. */
export type KillMode =
  /** a random 0–15 ms after the child says it is about to open: during open and recovery, or just after */
  | 'during-open'
  /** as soon as open has finished, racing the first commits */
  | 'after-open'
  /** right after the Nth acknowledgement arrives (N random, 1–50): at commit boundaries */
  | 'after-acks'
  /** a random 30–400 ms after the first acknowledgement: in the middle of steady writing */
  | 'timed';

export interface CrashRunOptions {
  /** SIGKILLs to deliver in total. */
  kills: number;
  /** Seeds the whole schedule and the workload. */
  seed: number;
  /** Store directory (created if missing). */
  dir: string;
  /** Progress lines; silent when absent. */
  log?: (message: string) => void;
  /** Children stall their event loop periodically while the parent tries to open the store. */
  stalls?: StallPlan;
}

export interface CrashRunSummary {
  seed: number;
  kills: number;
  /** Times the parent reopened a crashed store and checked it. */
  checks: number;
  /** Acknowledgements received from children, every one proved present afterwards. */
  ackedCommits: number;
  /** The highest transaction at the end: transactions 1..this were all verified. */
  lastTxn: number;
  /** Crashed stores whose WAL ended in a torn record (on the parent's reopen). */
  tornTails: number;
  /** WAL records replayed by the parent's reopens. */
  replayedCommits: number;
  /** Reopens that had to fall back to the older header slot. */
  fallbackSlots: number;
  /** Kills that hit a child that was itself recovering a crashed store. */
  chainedKills: number;
  killModes: Record<KillMode, number>;
  parentActions: { checkpoint: number; compact: number; write: number; none: number };
  /** Stall runs: stalls the children reported, and the parent's opens refused with LockedError meanwhile. */
  stalls: number;
  contendedOpens: number;
  durationMs: number;
}

/** A check failed: the message says what, and where the crashed store was kept. */
export class CrashCheckError extends Error {
  override name = 'CrashCheckError';
}

interface ChildOutcome {
  /** `ready` line's k, or null when the kill came before open finished. */
  ready: number | null;
  /** Highest acknowledged transaction (0 if none) and how many acks arrived. */
  maxAck: number;
  acks: number;
  minAck: number;
  stalls: number;
  /** Opens the parent tried while this child held the store, all refused. */
  contended: number;
}

interface ChildPlan {
  start: number | 'auto';
  mode: KillMode;
  /** ms for during-open / timed; ack count for after-acks. */
  param: number;
}

/** Runs one child until our SIGKILL; rejects if it dies any other way or hangs. */
function runChild(dir: string, seed: number, plan: ChildPlan, stalls?: StallPlan): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, childArgs(CHILD, dir, String(plan.start), String(seed)), {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: stalls ? { ...process.env, CRASH_STALL_MS: String(stalls.ms), CRASH_STALL_EVERY: String(stalls.every) } : process.env,
    });
    const out: ChildOutcome = { ready: null, maxAck: 0, acks: 0, minAck: Infinity, stalls: 0, contended: 0 };
    let killed = false;
    let timer: NodeJS.Timeout | null = null;
    let stderr = '';
    let pending = '';
    let protocolError: string | null = null;
    const kill = (): void => {
      if (killed) return;
      killed = true;
      child.kill('SIGKILL');
    };
    const later = (ms: number): void => {
      if (!timer) timer = setTimeout(kill, ms);
    };
    const timeoutMs = CHILD_TIMEOUT_MS + (stalls ? 4 * stalls.ms : 0);
    const hang = setTimeout(() => {
      protocolError ??= `the child neither finished its plan nor died within ${timeoutMs} ms`;
      kill();
    }, timeoutMs);
    // In a stall run: open the store from here while the child holds it. Only a LockedError is right.
    const contend = stalls
      ? setInterval(() => {
          if (killed || out.ready === null) return;
          try {
            Database.open(dir, CRASH_DB_OPTIONS).close();
            protocolError ??= `the parent opened the store while the child (pid ${child.pid}) was alive and holding it${out.stalls > 0 ? ', during or after a stall' : ''}: a live holder's lock was taken`;
            kill();
          } catch (err) {
            if (err instanceof LockedError && err.reason === 'held' && err.holderPid === child.pid) out.contended++;
            else if (!killed) {
              protocolError ??= `the parent's open while the child held the store failed with ${String(err)} instead of LockedError naming the child`;
              kill();
            }
          }
        }, CONTEND_EVERY_MS)
      : null;

    const onLine = (l: string): void => {
      if (l === 'opening') {
        if (plan.mode === 'during-open') later(plan.param);
      } else if (l.startsWith('ready ')) {
        out.ready = Number(l.slice(6));
        if (plan.mode === 'after-open') kill();
      } else if (l === 'stalling') {
        out.stalls++;
      } else if (l.startsWith('ack ')) {
        const i = Number(l.slice(4));
        out.acks++;
        out.maxAck = Math.max(out.maxAck, i);
        out.minAck = Math.min(out.minAck, i);
        if (plan.mode === 'timed') later(plan.param);
        else if (plan.mode === 'after-acks' && out.acks >= plan.param) kill();
      } else {
        protocolError ??= `unexpected line from the child: ${JSON.stringify(l)}`;
      }
    };
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      // A partial last line is what a kill mid-write leaves: it was never an acknowledgement.
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', (err) => {
      if (contend) clearInterval(contend);
      clearTimeout(hang);
      if (timer) clearTimeout(timer);
      reject(err);
    });
    // 'close' rather than 'exit': it comes once stdout is drained, so every ack the child wrote
    // before the kill has been counted. By then the child has been reaped, so its pid is gone and
    // the directory lock it left can be taken over.
    child.on('close', (code, signal) => {
      if (contend) clearInterval(contend);
      clearTimeout(hang);
      if (timer) clearTimeout(timer);
      if (protocolError) return reject(new CrashCheckError(`${protocolError}${stderr ? `\nchild stderr:\n${stderr}` : ''}`));
      if (!killed || signal !== 'SIGKILL') {
        return reject(new CrashCheckError(`the child ended by itself (exit code ${code}, signal ${signal}) instead of being killed:\n${stderr || '(no stderr)'}`));
      }
      resolve(out);
    });
  });
}

/** The expected contents of both tables after transactions 1..k, advanced one transaction at a time. */
class Model {
  readonly tables = new Map<string, Map<string, Buffer>>([
    [DEFAULT, new Map()],
    [SIDE_TABLE, new Map()],
  ]);
  k = 0;

  constructor(private readonly seed: number) {}

  advanceTo(k: number): void {
    for (let i = this.k + 1; i <= k; i++) {
      for (const op of transactionOps(i, this.seed)) {
        const t = this.tables.get(op.table)!;
        if (op.value) t.set(op.key, op.value);
        else t.delete(op.key);
      }
    }
    this.k = Math.max(this.k, k);
  }
}

function describeValue(v: Buffer | undefined): string {
  if (v === undefined) return 'absent';
  const head = v.subarray(0, 24).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `${v.length} bytes "${head}${v.length > 24 ? '...' : ''}"`;
}

/** Differences between one table in the store and in the model, at most `limit` of them. */
function diffTable(db: Database, name: string, expected: Map<string, Buffer>, limit: number): string[] {
  const issues: string[] = [];
  const entries = name === DEFAULT ? db.range() : db.table(name).range();
  const seen = new Set<string>();
  let previous: Buffer | null = null;
  for (const { key, value } of entries) {
    if (previous && Buffer.compare(previous, key) >= 0) issues.push(`${name}: keys out of order at ${key.toString('latin1')}`);
    previous = key;
    const k = key.toString('latin1');
    seen.add(k);
    const want = expected.get(k);
    if (!want || !want.equals(value)) issues.push(`${name}/${k}: store has ${describeValue(value)}, expected ${describeValue(want)}`);
    if (issues.length >= limit) return issues;
  }
  for (const [k, v] of expected) {
    if (seen.has(k)) continue;
    issues.push(`${name}/${k}: store has nothing, expected ${describeValue(v)}`);
    if (issues.length >= limit) break;
  }
  return issues;
}

function pickPlan(r: Rng, start: number | 'auto', stalls?: StallPlan): ChildPlan {
  // Kills before, during and after the first stall or two: during a stall acks stop, so a kill by
  // ack count lands right before one or after the child resumed.
  if (stalls) return r.chance(0.5) ? { start, mode: 'after-acks', param: r.int(1, 2 * stalls.every + 5) } : { start, mode: 'timed', param: r.int(30, Math.round(stalls.ms * 1.5)) };
  const roll = r.next();
  if (roll < 0.1) return { start, mode: 'during-open', param: r.int(0, 15) };
  if (roll < 0.2) return { start, mode: 'after-open', param: 0 };
  if (roll < 0.35) return { start, mode: 'after-acks', param: r.int(1, 50) };
  return { start, mode: 'timed', param: r.int(30, 400) };
}

/** Keeps a copy of a failing store where the test's cleanup will not delete it. */
function preserve(from: string, label: string): string {
  const to = fs.mkdtempSync(path.join(os.tmpdir(), `redb-crash-failure-${label}-`));
  try {
    fs.cpSync(from, to, { recursive: true });
  } catch {
    // Best effort: the error message still says what failed.
  }
  return to;
}

/**
 * Kills and checks until `kills` SIGKILLs were delivered. Resolves with what was proved; rejects with
 * a CrashCheckError (naming the seed and where the crashed store was kept) at the first failed check.
 */
export async function runCrashCycles(options: CrashRunOptions): Promise<CrashRunSummary> {
  const { kills, seed, dir } = options;
  const log = options.log ?? ((): void => {});
  const started = performance.now();
  fs.mkdirSync(dir, { recursive: true });
  const crashedCopy = `${dir}.crashed`;
  const r = new Rng(seed ^ 0x5eed5eed);
  const model = new Model(seed);
  const summary: CrashRunSummary = {
    seed,
    kills: 0,
    checks: 0,
    ackedCommits: 0,
    lastTxn: 0,
    tornTails: 0,
    replayedCommits: 0,
    fallbackSlots: 0,
    chainedKills: 0,
    killModes: { 'during-open': 0, 'after-open': 0, 'after-acks': 0, timed: 0 },
    parentActions: { checkpoint: 0, compact: 0, write: 0, none: 0 },
    stalls: 0,
    contendedOpens: 0,
    durationMs: 0,
  };
  // Transactions 1..committed are in the store, which the parent closed cleanly.
  let committed = 0;

  while (summary.kills < kills) {
    const check = summary.checks + 1;
    const fail = (what: string, chain: string): never => {
      const kept = fs.existsSync(crashedCopy) ? preserve(crashedCopy, `${seed}-${check}`) : '(no copy)';
      throw new CrashCheckError(
        `crash check ${check} failed (seed ${seed}; reproduce with CRASH_SEED=${seed}): ${what}\n` +
          `children this round: ${chain}\nthe store as the crash left it, before the parent reopened it: ${kept}`,
      );
    };

    // One or more children on the same store; after the first, each recovers what the previous
    // left, without the parent looking in between.
    let acked = committed;
    let issuedBound = committed;
    const chain: string[] = [];
    for (let c = 0; ; c++) {
      const plan = pickPlan(r, c === 0 ? committed + 1 : 'auto', options.stalls);
      let out: ChildOutcome;
      try {
        out = await runChild(dir, seed, plan, options.stalls);
      } catch (err) {
        chain.push(`${plan.mode}(${plan.param}) -> ${(err as Error).message}`);
        return fail('a child did not run to its kill', chain.join('; '));
      }
      summary.kills++;
      summary.killModes[plan.mode]++;
      if (c > 0) summary.chainedKills++;
      summary.ackedCommits += out.acks;
      summary.stalls += out.stalls;
      summary.contendedOpens += out.contended;
      chain.push(`${plan.mode}(${plan.param}): ready ${out.ready ?? '-'}, ${out.acks} acks up to ${out.maxAck || '-'}`);
      // The child's own recovery must already have found every transaction acknowledged before it.
      if (out.ready !== null && out.ready < acked) {
        return fail(`a child's open found transactions up to ${out.ready}, but ${acked} had been acknowledged`, chain.join('; '));
      }
      if (out.acks > 0 && out.ready !== null && out.minAck <= out.ready) {
        return fail(`a child acknowledged transaction ${out.minAck}, which its store already held`, chain.join('; '));
      }
      acked = Math.max(acked, out.maxAck);
      issuedBound = Math.max(issuedBound, out.maxAck, out.ready ?? 0) + MAX_UNACKED;
      if (summary.kills >= kills || c >= 2 || !r.chance(0.2)) break;
    }

    // Keep the store exactly as the crash left it, for a failure report.
    fs.rmSync(crashedCopy, { recursive: true, force: true });
    fs.cpSync(dir, crashedCopy, { recursive: true });

    let db: Database;
    try {
      db = Database.open(dir, CRASH_DB_OPTIONS);
    } catch (err) {
      return fail(`reopening the crashed store threw ${(err as Error).stack ?? String(err)}`, chain.join('; '));
    }
    try {
      const rec: RecoveryReport = db.recovery;
      if (rec.tornTail) summary.tornTails++;
      if (rec.usedFallbackSlot) summary.fallbackSlots++;
      summary.replayedCommits += rec.replayedCommits;

      const k = parseLast(db.get(Buffer.from('last', 'latin1')));
      const sideK = parseLast(db.table(SIDE_TABLE).get(Buffer.from('last', 'latin1')));
      if (k < acked) fail(`transactions ${k + 1}..${acked} were acknowledged but the store ends at ${k}`, chain.join('; '));
      if (k < committed) fail(`the store ends at ${k}, before the ${committed} the parent had closed it with`, chain.join('; '));
      if (k > issuedBound) fail(`the store claims transaction ${k}, but no child can have committed past ${issuedBound}`, chain.join('; '));
      if (sideK !== k) fail(`"last" is ${k} in the default table but ${sideK} in "${SIDE_TABLE}": a commit split between tables`, chain.join('; '));

      model.advanceTo(k);
      const issues = [DEFAULT, SIDE_TABLE].flatMap((t) => diffTable(db, t, model.tables.get(t)!, 20));
      if (issues.length > 0) {
        fail(`the store is not exactly transactions 1..${k} (acknowledged up to ${acked}):\n  ${issues.join('\n  ')}`, chain.join('; '));
      }
      const report = db.verify();
      if (!report.ok) {
        fail(`verify() found ${report.issues.length} issue(s):\n  ${report.issues.map((i) => `${i.area} ${i.file}@${i.offset}: ${i.message}`).join('\n  ')}`, chain.join('; '));
      }
      summary.checks++;
      committed = k;

      // Vary the state the next child starts from.
      const action = r.pick(['none', 'none', 'checkpoint', 'compact', 'write'] as const);
      summary.parentActions[action]++;
      if (action === 'checkpoint') {
        db.checkpoint();
      } else if (action === 'compact') {
        db.compact();
        const again = db.verify();
        if (!again.ok) fail(`verify() after compact() found: ${again.issues.map((i) => i.message).join('; ')}`, chain.join('; '));
      } else if (action === 'write') {
        const n = r.int(1, 30);
        const async: Promise<void>[] = [];
        for (let m = 0; m < n; m++) {
          const i = ++committed;
          if (r.chance(0.5)) db.write((tx) => applyTransaction(tx, i, seed));
          else async.push(db.writeAsync((tx) => applyTransaction(tx, i, seed)));
        }
        await Promise.all(async);
        if (r.chance(0.5)) db.checkpoint();
        model.advanceTo(committed);
        const after = [DEFAULT, SIDE_TABLE].flatMap((t) => diffTable(db, t, model.tables.get(t)!, 20));
        if (after.length > 0) fail(`after the parent's own ${n} transactions:\n  ${after.join('\n  ')}`, chain.join('; '));
      }
      summary.lastTxn = committed;
      log(
        `check ${summary.checks}: kills ${summary.kills}/${kills}, store at txn ${k} (acked ${acked}), ` +
          `replayed ${rec.replayedCommits}${rec.tornTail ? ', torn tail' : ''}${rec.usedFallbackSlot ? ', fallback slot' : ''}; ${chain.join('; ')}; parent: ${action}`,
      );
    } catch (err) {
      // Close quietly: a failing close must not hide the check that failed.
      try {
        db.close();
      } catch {
        // The store is kept for the report; the lock is released when this process exits.
      }
      throw err;
    }
    db.close();
  }
  fs.rmSync(crashedCopy, { recursive: true, force: true });
  summary.durationMs = performance.now() - started;
  return summary;
}
