/**
 * Model-based property test: random sequences of transactions, snapshots, checkpoints, compactions
 * and reopens against the engine and against plain Maps, which must always agree. Small pages and a
 * small key alphabet force splits, merges, out-of-line values and overwrites within a few operations.
 * Counts are checked with contents. Some runs use the smallest memtableBytes, with bulk transactions
 * big enough that commits fold the memtables into the trees on their own; range scans are also run
 * across a commit (and a checkpoint), and must return what was there when they started.
 *
 * The seed is printed; MODEL_SEED=<n> replays a run. `npm test` makes 100 runs (fast-check's
 * numRuns; it was 200); MODEL_RUNS=<n> sets the count, and `npm run test:kv-model` makes 1000.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Database, type Snapshot } from '../../src/index.js';

type Model = Map<string, Map<string, Buffer>>;

type TxOp =
  | { kind: 'put'; table: string; key: Buffer; value: Buffer }
  | { kind: 'delete'; table: string; key: Buffer }
  | { kind: 'remove'; table: string; key: Buffer }
  | { kind: 'clear'; table: string }
  | { kind: 'drop'; table: string };

interface RangeStep {
  table: string;
  lo: Buffer | null;
  hi: Buffer | null;
  loEx: boolean;
  hiEx: boolean;
  reverse: boolean;
  limit: number | null;
}

type Step =
  | { kind: 'tx'; ops: TxOp[]; abort: boolean; async: boolean }
  /** Many puts in one transaction: enough, in a few steps, to reach the smallest memtableBytes. */
  | { kind: 'bulk'; table: string; first: number; count: number; size: number; removeEvery: number }
  | { kind: 'snapshot' }
  | { kind: 'checkSnapshot'; pick: number; close: boolean }
  | ({ kind: 'range' } & RangeStep)
  /**
   * A scan that takes `take` entries, lets a commit (and maybe a checkpoint) happen, then finishes.
   * The commit also overwrites or deletes the next keys the scan is about to return (`nearby` picks how).
   */
  | ({ kind: 'rangeAcross'; take: number; ops: TxOp[]; nearby: number; async: boolean; checkpoint: boolean } & RangeStep)
  | { kind: 'checkpoint' }
  | { kind: 'compact' }
  | { kind: 'reopen' }
  | { kind: 'verify' };

const TABLES = ['default', 'events', 'idx'];
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const keyArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 300 }).map((n) => Buffer.from(`key${String(n).padStart(4, '0')}`)) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 12 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 20 }).map((n) => Buffer.concat([Buffer.alloc(200, 0x61 + (n % 3)), Buffer.from(String(n))])) },
);
const valueArb = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a)) },
  { weight: 2, arbitrary: fc.integer({ min: 129, max: 3000 }).map((n) => Buffer.alloc(n, n & 0xff)) },
);
const tableArb = fc.constantFrom(...TABLES);

const txOpArb: fc.Arbitrary<TxOp> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('put' as const), table: tableArb, key: keyArb, value: valueArb }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('delete' as const), table: tableArb, key: keyArb }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('remove' as const), table: tableArb, key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), table: tableArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), table: tableArb }) },
);

const rangeFields = {
  table: tableArb,
  lo: fc.option(keyArb, { nil: null }),
  hi: fc.option(keyArb, { nil: null }),
  loEx: fc.boolean(),
  hiEx: fc.boolean(),
  reverse: fc.boolean(),
  limit: fc.option(fc.integer({ min: 0, max: 30 }), { nil: null }),
};
const txOpsArb = fc.array(txOpArb, { minLength: 1, maxLength: 40 });

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ kind: fc.constant('tx' as const), ops: txOpsArb, abort: fc.boolean().map((b) => b && Math.random() < 0.3), async: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('bulk' as const),
      table: tableArb,
      first: fc.integer({ min: 0, max: 300 }),
      count: fc.integer({ min: 300, max: 700 }),
      size: fc.integer({ min: 40, max: 120 }),
      removeEvery: fc.integer({ min: 0, max: 5 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'snapshot' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('checkSnapshot' as const), pick: fc.nat(), close: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('range' as const), ...rangeFields }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('rangeAcross' as const),
      ...rangeFields,
      take: fc.integer({ min: 0, max: 20 }),
      ops: txOpsArb,
      nearby: fc.integer({ min: 0, max: 3 }),
      async: fc.boolean(),
      checkpoint: fc.integer({ min: 0, max: 9 }).map((n) => n < 3),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'compact' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'verify' as const }) },
);

function cloneModel(m: Model): Model {
  return new Map([...m].map(([t, kv]) => [t, new Map(kv)]));
}

function applyToModel(m: Model, op: TxOp): void {
  if (op.kind === 'put') {
    if (!m.has(op.table)) m.set(op.table, new Map());
    m.get(op.table)!.set(hex(op.key), op.value);
  } else if (op.kind === 'delete' || op.kind === 'remove') {
    m.get(op.table)?.delete(hex(op.key));
  } else if (op.kind === 'clear') {
    if (m.has(op.table)) m.set(op.table, new Map());
  } else {
    m.delete(op.table);
  }
}

/** Everything a reader can see, as sorted [key, value] hex pairs per table. */
function dumpModel(m: Model): Record<string, [string, string][]> {
  const out: Record<string, [string, string][]> = {};
  for (const [t, kv] of m) out[t] = [...kv].map(([k, v]) => [k, hex(v)] as [string, string]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out;
}

function dumpReader(names: string[], range: (t: string) => Iterable<{ key: Buffer; value: Buffer }>): Record<string, [string, string][]> {
  const out: Record<string, [string, string][]> = {};
  for (const t of names) out[t] = [...range(t)].map((e) => [hex(e.key), hex(e.value)] as [string, string]);
  return out;
}

/** Range options for a step, and what the model says the scan returns. */
function rangeOf(step: RangeStep, m: Model): { opts: Record<string, unknown>; want: string[][] } {
  const opts: Record<string, unknown> = { reverse: step.reverse };
  if (step.lo) opts[step.loEx ? 'gt' : 'gte'] = step.lo;
  if (step.hi) opts[step.hiEx ? 'lt' : 'lte'] = step.hi;
  if (step.limit !== null) opts.limit = step.limit;
  let want = (dumpModel(m)[step.table] ?? []).filter(([k]) => {
    if (step.lo && (step.loEx ? k <= hex(step.lo) : k < hex(step.lo))) return false;
    if (step.hi && (step.hiEx ? k >= hex(step.hi) : k > hex(step.hi))) return false;
    return true;
  });
  if (step.reverse) want = want.reverse();
  if (step.limit !== null) want = want.slice(0, step.limit);
  return { opts, want };
}

/** count() of every listed table (and db.count() of the default one, through `total`) agrees with the model. */
function assertCounts(names: string[], m: Model, count: (t: string) => number, where: string, total?: number): void {
  for (const t of names) assert.equal(count(t), m.get(t)?.size ?? 0, `${where}: count() of ${t}`);
  if (total !== undefined) assert.equal(total, m.get('default')?.size ?? 0, `${where}: count() of the default table`);
}

type Tx = Parameters<Parameters<Database['write']>[0]>[0];

/** Applies a step's operations to a transaction. */
function applyToTx(tx: Tx, ops: readonly TxOp[]): void {
  for (const op of ops) {
    const table = op.table === 'default' ? tx : tx.table(op.table);
    if (op.kind === 'put') table.put(op.key, op.value);
    else if (op.kind === 'delete') table.delete(op.key);
    else if (op.kind === 'remove') table.remove(op.key);
    else if (op.kind === 'clear') table.clear();
    else tx.dropTable(op.table);
  }
}

/** Codec settings a run uses: every combination must behave the same. */
interface Config {
  compression: 'zstd' | 'lz4' | 'none';
  dedupThreshold: number;
  encrypted: boolean;
  /** The smallest memtableBytes (64 KiB): bulk steps make commits fold the memtables on their own. */
  smallMemtable: boolean;
}
const KEY = Buffer.alloc(32, 7);
const configArb: fc.Arbitrary<Config> = fc.record({
  compression: fc.constantFrom('zstd' as const, 'lz4' as const, 'none' as const),
  dedupThreshold: fc.constantFrom(64, 1024),
  encrypted: fc.boolean(),
  smallMemtable: fc.boolean(),
});

async function runSequence(config: Config, steps: Step[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redb-model-'));
  const opts = {
    pageSize: 512,
    checkpointIntervalMs: 0,
    walSegmentBytes: 64 * 1024,
    checkpointWalBytes: 64 * 1024,
    compression: config.compression,
    dedupThreshold: config.dedupThreshold,
    ...(config.encrypted ? { encryption: { key: KEY } } : {}),
    ...(config.smallMemtable ? { memtableBytes: 64 * 1024 } : {}),
  };
  let db = Database.open(dir, opts);
  let model: Model = new Map();
  const snaps: { snap: Snapshot; model: Model }[] = [];
  try {
    for (const step of steps) {
      switch (step.kind) {
        case 'tx': {
          const body = (tx: Tx): void => {
            applyToTx(tx, step.ops);
            if (step.abort) throw new Error('abort');
          };
          try {
            if (step.async) await db.writeAsync(body);
            else db.write(body);
            for (const op of step.ops) applyToModel(model, op);
          } catch (err) {
            assert.ok(step.abort && (err as Error).message === 'abort', `unexpected error ${(err as Error).stack}`);
          }
          break;
        }
        case 'bulk': {
          // Keys of the usual key space (so they meet the other steps' keys), in descending order
          // half the time, wrapping around (so a key may be written twice in the commit); every
          // removeEvery-th one is removed blindly instead of put. 400 such puts are about 64 KiB of
          // memtable: with the small memtableBytes, the commit folds and checkpoints.
          const ops: TxOp[] = [];
          for (let i = 0; i < step.count; i++) {
            const n = (step.first + (step.size % 2 === 0 ? i : step.count - i)) % 301;
            const key = Buffer.from(`key${String(n).padStart(4, '0')}`);
            if (step.removeEvery > 0 && i % step.removeEvery === 0) ops.push({ kind: 'remove', table: step.table, key });
            else ops.push({ kind: 'put', table: step.table, key, value: Buffer.alloc(step.size, (i + step.first) & 0xff) });
          }
          db.write((tx) => applyToTx(tx, ops));
          for (const op of ops) applyToModel(model, op);
          break;
        }
        case 'snapshot':
          snaps.push({ snap: db.read(), model: cloneModel(model) });
          break;
        case 'checkSnapshot': {
          if (snaps.length === 0) break;
          const i = step.pick % snaps.length;
          const { snap, model: m } = snaps[i]!;
          const names = [...new Set([...m.keys(), ...snap.tableNames()])];
          assert.deepEqual(dumpReader(names, (t) => snap.table(t).range()), dumpModel(withTables(m, names)));
          assertCounts(names, m, (t) => snap.table(t).count(), `snapshot at txn ${snap.txn}`, snap.count());
          if (step.close) {
            snap.close();
            snaps.splice(i, 1);
          }
          break;
        }
        case 'range': {
          const { opts, want } = rangeOf(step, model);
          const got = [...db.table(step.table).range(opts)].map((e) => [hex(e.key), hex(e.value)]);
          assert.deepEqual(got, want);
          assertCounts(TABLES, model, (t) => db.table(t).count(), 'live', db.count());
          break;
        }
        case 'rangeAcross': {
          // The scan reads the state it started on, whatever commits (and folds) happen meanwhile.
          const { opts, want } = rangeOf(step, model);
          const it = db.table(step.table).range(opts);
          const got: string[][] = [];
          while (got.length < step.take) {
            const r = it.next();
            if (r.done) break;
            got.push([hex(r.value.key), hex(r.value.value)]);
          }
          const ops = [...step.ops];
          if (step.nearby > 0) {
            want.slice(got.length, got.length + 3).forEach(([k], j) => {
              const key = Buffer.from(k!, 'hex');
              const how = (step.nearby + j) % 3;
              if (how === 0) ops.push({ kind: 'put', table: step.table, key, value: Buffer.from(`across${j}`) });
              else ops.push({ kind: how === 1 ? 'remove' : 'delete', table: step.table, key });
            });
          }
          if (step.async) await db.writeAsync((tx) => applyToTx(tx, ops));
          else db.write((tx) => applyToTx(tx, ops));
          if (step.checkpoint) db.checkpoint();
          for (const e of it) got.push([hex(e.key), hex(e.value)]);
          assert.deepEqual(got, want, 'a scan that ran across a commit');
          for (const op of ops) applyToModel(model, op);
          break;
        }
        case 'checkpoint':
          db.checkpoint();
          break;
        case 'compact':
          db.compact();
          break;
        case 'reopen':
          for (const s of snaps) s.snap.close();
          snaps.length = 0;
          db.close();
          db = Database.open(dir, opts);
          break;
        case 'verify': {
          const report = db.verify();
          assert.ok(report.ok, JSON.stringify(report.issues));
          break;
        }
      }
    }
    // Final state: the live database, after a reopen, and verify all agree with the model.
    const names = [...new Set([...model.keys(), ...db.tableNames()])];
    assert.deepEqual(dumpReader(names, (t) => db.table(t).range()), dumpModel(withTables(model, names)));
    for (const [t, kv] of model) assert.equal(db.table(t).count(), kv.size, `count of ${t}`);
    assertCounts(names, model, (t) => db.table(t).count(), 'at the end', db.count());
    for (const s of snaps) s.snap.close();
    db.close();
    db = Database.open(dir, opts);
    assert.deepEqual(dumpReader(names, (t) => db.table(t).range()), dumpModel(withTables(model, names)));
    assertCounts(names, model, (t) => db.table(t).count(), 'after reopening', db.count());
    const report = db.verify();
    assert.ok(report.ok, JSON.stringify(report.issues));
  } finally {
    for (const s of snaps) s.snap.close();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The model with an empty entry for every listed table it lacks (dropped or never created). */
function withTables(m: Model, names: string[]): Model {
  const out = cloneModel(m);
  for (const n of names) if (!out.has(n)) out.set(n, new Map());
  return out;
}

test('random transactions, snapshots, checkpoints, compactions and reopens agree with a Map model', async () => {
  const seed = Number(process.env.MODEL_SEED ?? Date.now() % 2 ** 31);
  const numRuns = Number(process.env.MODEL_RUNS ?? 100);
  console.log(`model test seed ${seed} (rerun with MODEL_SEED=${seed}), ${numRuns} runs`);
  await fc.assert(
    fc.asyncProperty(configArb, fc.array(stepArb, { minLength: 5, maxLength: 60 }), (config, steps) => runSequence(config, steps)),
    { seed, numRuns, includeErrorInReport: true },
  );
});
