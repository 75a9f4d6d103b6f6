/**
 * The crash test's workload, shared by the child that writes it and the parent that checks it.
 *
 * Transaction i is a pure function of (i, seed): the parent never needs to be told what the child
 * wrote, it recomputes it. That is what makes the post-crash check exact: after recovery the store
 * must equal, entry for entry in both tables, the result of applying transactions 1..k for the k
 * the store reports, and k must be at least the last acknowledged transaction.
 *
 * Each transaction touches both tables (so a commit torn between tables would show), writes
 * inline values, values right at the inline limit, out-of-line values, and now and then a value
 * larger than a whole WAL segment; it overwrites and deletes keys of older transactions (so splits
 * and merges both happen, and freed out-of-line blocks get reused). Every transaction deletes the
 * one WINDOW transactions back, which keeps the store at a steady size: verify() and the full
 * comparison cost the same on the thousandth kill as on the first.
 */
import type { DatabaseOptions, WriteTxn } from '../../src/index.js';

/** How many transactions stay in the store before the window deletes them. */
export const WINDOW = 1500;

/** Small pages, segments and checkpoint threshold so that splits, merges, WAL rotations and
 * checkpoints all happen many times within a few hundred milliseconds of writing. */
export const CRASH_DB_OPTIONS: DatabaseOptions = {
  durability: 'immediate',
  pageSize: 1024,
  walSegmentBytes: 256 * 1024,
  checkpointWalBytes: 128 * 1024,
  checkpointIntervalMs: 40,
};

/** inlineMax of the engine for CRASH_DB_OPTIONS.pageSize: longer values are stored out of line. */
const INLINE_MAX = 1024 / 4;
/** Larger than CRASH_DB_OPTIONS.walSegmentBytes, so the WAL record cannot fit a normal segment. */
const HUGE_MIN = 256 * 1024 + 4096;

export const SIDE_TABLE = 'side';
export const DEFAULT = 'default';

/** One write of a transaction; `value` null is a delete. */
export interface CrashOp {
  table: typeof DEFAULT | typeof SIDE_TABLE;
  key: string;
  value: Buffer | null;
}

/** 32-bit avalanche mix (the murmur3 finaliser) of two words, for seeding per-(i, field) streams. */
export function mix32(a: number, b: number): number {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence on every run. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

const FIELD_IDS: Record<string, number> = { a: 1, b: 2, big: 3, huge: 4, side: 5, rewrite: 6, many: 7, shape: 8 };

/** Seeded bytes for one value: a readable prefix naming its origin (for failure messages), then noise. */
function makeValue(seed: number, i: number, field: string, length: number, salt = 0): Buffer {
  if (length === 0) return Buffer.alloc(0);
  const prefix = Buffer.from(`${i}:${field}:${salt}:`, 'latin1');
  const out = Buffer.allocUnsafe(Math.max(length, prefix.length));
  prefix.copy(out, 0);
  let x = mix32(mix32(seed, i), (FIELD_IDS[field] ?? 99) * 65536 + salt) || 1;
  for (let o = prefix.length; o < out.length; o++) {
    // xorshift32: cheap enough for the 300 KB values without dominating the run.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[o] = x & 0xff;
  }
  return out;
}

/** Keys sort in transaction order, so window deletes remove the left edge of the tree (merges). */
export function txKey(i: number, field: string): string {
  return `tx/${String(i).padStart(10, '0')}/${field}`;
}

export function sideKey(i: number): string {
  return `side/${String(i).padStart(10, '0')}`;
}

/**
 * What transaction i puts under its own keys (the keys that name i), in order. With `withValues`
 * false only the keys are wanted (for deleting them later): the same random draws are made, so the
 * keys are identical, but no value bytes are generated.
 */
function ownPuts(i: number, seed: number, withValues = true): CrashOp[] {
  const r = new Rng(mix32(mix32(seed, i), FIELD_IDS.shape!));
  const valueBytes = withValues ? makeValue : (): null => null;
  const ops: CrashOp[] = [];
  // Lengths straddling the inline limit are where inline/out-of-line handling changes.
  const bLength = r.chance(0.1) ? r.pick([INLINE_MAX - 1, INLINE_MAX, INLINE_MAX + 1]) : r.int(0, 120);
  ops.push({ table: DEFAULT, key: txKey(i, 'a'), value: valueBytes(seed, i, 'a', r.int(8, 60)) });
  ops.push({ table: DEFAULT, key: txKey(i, 'b'), value: valueBytes(seed, i, 'b', bLength) });
  if (r.chance(1 / 8)) ops.push({ table: DEFAULT, key: txKey(i, 'big'), value: valueBytes(seed, i, 'big', r.int(INLINE_MAX + 1, 5000)) });
  if (r.chance(1 / 600)) ops.push({ table: DEFAULT, key: txKey(i, 'huge'), value: valueBytes(seed, i, 'huge', r.int(HUGE_MIN, HUGE_MIN + 100_000)) });
  if (r.chance(1 / 60)) {
    // A wide transaction: enough keys to split several leaves in one commit.
    const n = r.int(20, 80);
    for (let m = 0; m < n; m++) ops.push({ table: DEFAULT, key: txKey(i, `m${String(m).padStart(3, '0')}`), value: valueBytes(seed, i, 'many', r.int(1, 40), m) });
  }
  ops.push({ table: SIDE_TABLE, key: sideKey(i), value: valueBytes(seed, i, 'side', r.int(4, 40)) });
  return ops;
}

/** Every key transaction j created (so that a later transaction can delete all of it). */
function ownKeysOf(j: number, seed: number): CrashOp[] {
  return ownPuts(j, seed, false).map((op) => ({ table: op.table, key: op.key, value: null }));
}

/**
 * All operations of transaction i, in the order they are applied. Transaction numbers start at 1.
 * Deleting a key that is already gone is allowed (the engine treats it as a no-op, and so does the
 * model), so the ops need no knowledge of what earlier transactions did.
 */
export function transactionOps(i: number, seed: number): CrashOp[] {
  const r = new Rng(mix32(mix32(seed, i), 0x51ab));
  const ops = ownPuts(i, seed);
  // `last` in both tables: a commit split between the tables would leave them disagreeing.
  const last = Buffer.from(String(i), 'latin1');
  ops.push({ table: DEFAULT, key: 'last', value: last });
  ops.push({ table: SIDE_TABLE, key: 'last', value: last });
  if (i - WINDOW >= 1) ops.push(...ownKeysOf(i - WINDOW, seed));
  const lo = Math.max(1, i - WINDOW + 1);
  if (i - 1 >= lo) {
    if (r.chance(1 / 6)) ops.push({ table: DEFAULT, key: txKey(r.int(lo, i - 1), 'a'), value: null });
    if (r.chance(1 / 6)) {
      const j = r.int(lo, i - 1);
      // Overwrite with a value that may move between inline and out of line.
      ops.push({ table: DEFAULT, key: txKey(j, 'b'), value: makeValue(seed, i, 'rewrite', r.pick([3, 90, INLINE_MAX + 1, 2000]), j % 1000) });
    }
    if (r.chance(1 / 40)) {
      // A burst of deletes across a run of older transactions: empties leaves, forces merges.
      const from = r.int(lo, i - 1);
      const to = Math.min(i - 1, from + r.int(5, 40));
      for (let j = from; j <= to; j++) ops.push(...ownKeysOf(j, seed));
    }
  }
  return ops;
}

/** Applies transaction i inside a write transaction: what the child commits and the parent replays. */
export function applyTransaction(tx: WriteTxn, i: number, seed: number): void {
  for (const op of transactionOps(i, seed)) {
    const t = op.table === DEFAULT ? tx : tx.table(op.table);
    const key = Buffer.from(op.key, 'latin1');
    if (op.value) t.put(key, op.value);
    else t.delete(key);
  }
}

/** Highest transaction a store holds, read from its `last` key (0 when none committed yet). */
export function parseLast(value: Uint8Array | undefined): number {
  if (value === undefined) return 0;
  const s = Buffer.from(value).toString('latin1');
  if (!/^\d+$/.test(s)) throw new Error(`the store's "last" key holds ${JSON.stringify(s)}, not a transaction number`);
  return Number(s);
}
