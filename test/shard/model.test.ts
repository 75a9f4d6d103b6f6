/**
 * Model-based property test: random sequences of transactions, snapshots, checkpoints, compactions
 * and reopens against the engine and against plain Maps, which must always agree. Small pages and a
 * small key alphabet force splits, merges, out-of-line values and overwrites within a few operations.
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
  | { kind: 'clear'; table: string }
  | { kind: 'drop'; table: string };

type Step =
  | { kind: 'tx'; ops: TxOp[]; abort: boolean; async: boolean }
  | { kind: 'snapshot' }
  | { kind: 'checkSnapshot'; pick: number; close: boolean }
  | { kind: 'range'; table: string; lo: Buffer | null; hi: Buffer | null; loEx: boolean; hiEx: boolean; reverse: boolean; limit: number | null }
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
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('delete' as const), table: tableArb, key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), table: tableArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), table: tableArb }) },
);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ kind: fc.constant('tx' as const), ops: fc.array(txOpArb, { minLength: 1, maxLength: 40 }), abort: fc.boolean().map((b) => b && Math.random() < 0.3), async: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'snapshot' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('checkSnapshot' as const), pick: fc.nat(), close: fc.boolean() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('range' as const),
      table: tableArb,
      lo: fc.option(keyArb, { nil: null }),
      hi: fc.option(keyArb, { nil: null }),
      loEx: fc.boolean(),
      hiEx: fc.boolean(),
      reverse: fc.boolean(),
      limit: fc.option(fc.integer({ min: 0, max: 30 }), { nil: null }),
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
  } else if (op.kind === 'delete') {
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

/** Codec settings a run uses: every combination must behave the same. */
interface Config {
  compression: 'zstd' | 'lz4' | 'none';
  dedupThreshold: number;
  encrypted: boolean;
}
const KEY = Buffer.alloc(32, 7);
const configArb: fc.Arbitrary<Config> = fc.record({
  compression: fc.constantFrom('zstd' as const, 'lz4' as const, 'none' as const),
  dedupThreshold: fc.constantFrom(64, 1024),
  encrypted: fc.boolean(),
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
  };
  let db = Database.open(dir, opts);
  let model: Model = new Map();
  const snaps: { snap: Snapshot; model: Model }[] = [];
  try {
    for (const step of steps) {
      switch (step.kind) {
        case 'tx': {
          const body = (tx: Parameters<Parameters<Database['write']>[0]>[0]): void => {
            for (const op of step.ops) {
              const table = op.table === 'default' ? tx : tx.table(op.table);
              if (op.kind === 'put') table.put(op.key, op.value);
              else if (op.kind === 'delete') table.delete(op.key);
              else if (op.kind === 'clear') table.clear();
              else tx.dropTable(op.table);
            }
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
        case 'snapshot':
          snaps.push({ snap: db.read(), model: cloneModel(model) });
          break;
        case 'checkSnapshot': {
          if (snaps.length === 0) break;
          const i = step.pick % snaps.length;
          const { snap, model: m } = snaps[i]!;
          const names = [...new Set([...m.keys(), ...snap.tableNames()])];
          assert.deepEqual(dumpReader(names, (t) => snap.table(t).range()), dumpModel(withTables(m, names)));
          if (step.close) {
            snap.close();
            snaps.splice(i, 1);
          }
          break;
        }
        case 'range': {
          const o: Record<string, unknown> = { reverse: step.reverse };
          if (step.lo) o[step.loEx ? 'gt' : 'gte'] = step.lo;
          if (step.hi) o[step.hiEx ? 'lt' : 'lte'] = step.hi;
          if (step.limit !== null) o.limit = step.limit;
          const got = [...db.table(step.table).range(o)].map((e) => [hex(e.key), hex(e.value)]);
          let want = (dumpModel(model)[step.table] ?? []).filter(([k]) => {
            if (step.lo && (step.loEx ? k <= hex(step.lo) : k < hex(step.lo))) return false;
            if (step.hi && (step.hiEx ? k >= hex(step.hi) : k > hex(step.hi))) return false;
            return true;
          });
          if (step.reverse) want = want.reverse();
          if (step.limit !== null) want = want.slice(0, step.limit);
          assert.deepEqual(got, want);
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
    for (const s of snaps) s.snap.close();
    db.close();
    db = Database.open(dir, opts);
    assert.deepEqual(dumpReader(names, (t) => db.table(t).range()), dumpModel(withTables(model, names)));
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
  const numRuns = Number(process.env.MODEL_RUNS ?? 200);
  console.log(`model test seed ${seed} (rerun with MODEL_SEED=${seed}), ${numRuns} runs`);
  await fc.assert(
    fc.asyncProperty(configArb, fc.array(stepArb, { minLength: 5, maxLength: 60 }), (config, steps) => runSequence(config, steps)),
    { seed, numRuns },
  );
});
