/**
 * The machinery of the single-byte corruption suite (test/shard/corruption.test.ts): deterministic
 * fixture stores with a model of what they must hold, a map of which bytes of a page file belong to
 * which live block, and the trials. A trial damages one byte of a pristine copy (or of a live WAL)
 * and checks what the engine makes of it.
 *
 * Trials run in worker threads (corruption-worker.ts) because every engine call is synchronous: a
 * read that looped forever could not be interrupted from its own thread, but the parent of a worker
 * can terminate it. Each trial announces itself first, so the parent can name the one that hung.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CorruptionError } from '../../src/errors.js';
import { Database } from '../../src/shard/database.js';
import type { DatabaseOptions } from '../../src/shard/options.js';
import type { WriteTxn } from '../../src/shard/txn/write-txn.js';
import { DEFAULT_TABLE } from '../../src/shard/validate.js';
import type { VerifyReport } from '../../src/shard/maintenance/verify.js';
import { decodeCatalog } from '../../src/shard/data/catalog.js';
import { DATA_FILE } from '../../src/shard/durability/open-shard.js';
import { StoreCodec } from '../../src/codec/store-codec.js';
import { nodeFileIO } from '../../src/io/node-file-io.js';
import { CacheBudget, NodeCache } from '../../src/btree/node-cache.js';
import { NodeStore } from '../../src/btree/node-store.js';
import { valueRefAt, valueTagAt } from '../../src/btree/leaf.js';
import { BranchNode, ValueTag } from '../../src/btree/node.js';
import type { Extent } from '../../src/pagefile/allocator.js';
import { decodeFreelist } from '../../src/pagefile/freelist-codec.js';
import { decodeHeaderSlot, type HeaderSlot } from '../../src/pagefile/header-slot.js';
import { BLOCK_HEADER_SIZE, BlockKind, SLOT_SIZE, type BlockRef } from '../../src/pagefile/layout.js';
import { PageFile } from '../../src/pagefile/page-file.js';
import { decodeRecordHeader, RECORD_HEADER_SIZE } from '../../src/wal/record-format.js';
import { decodeSegmentHeader, parseSegmentFileName, SEGMENT_HEADER_SIZE, WAL_DIR } from '../../src/wal/segment-format.js';

// ---------------------------------------------------------------------------------------------
// Randomness and the model of what a store holds
// ---------------------------------------------------------------------------------------------

/** xorshift32: small, seedable, and the same on every machine, so a printed seed replays a run. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0 || 0x2545f491;
  }

  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }

  /** An integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo));
  }

  /** A non-zero XOR mask, so that every trial really changes its byte. */
  mask(): number {
    return this.int(1, 256);
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/** What a store must hold: per table, entries sorted bytewise by key. Plain arrays survive postMessage. */
export type Expected = Record<string, Array<[Uint8Array, Uint8Array]>>;

/** The writes applied to a store, tracked independently of the engine so reads can be judged. */
export class Model {
  private readonly tables = new Map<string, Map<string, Buffer>>();

  put(table: string, key: Buffer, value: Buffer): void {
    let t = this.tables.get(table);
    if (!t) this.tables.set(table, (t = new Map()));
    t.set(key.toString('latin1'), value);
  }

  delete(table: string, key: Buffer): void {
    this.tables.get(table)?.delete(key.toString('latin1'));
  }

  keys(table: string): Buffer[] {
    return [...(this.tables.get(table)?.keys() ?? [])].map((k) => Buffer.from(k, 'latin1'));
  }

  snapshot(): Expected {
    const out: Expected = {};
    for (const [name, t] of this.tables) {
      out[name] = [...t]
        .map(([k, v]): [Buffer, Buffer] => [Buffer.from(k, 'latin1'), Buffer.from(v)])
        .sort((a, b) => Buffer.compare(a[0], b[0]));
    }
    return out;
  }
}

type Op = { table: string; key: Buffer; value: Buffer | null };

function applyOps(tx: WriteTxn, ops: Op[]): void {
  for (const op of ops) {
    const t = op.table === DEFAULT_TABLE ? tx : tx.table(op.table);
    if (op.value) t.put(op.key, op.value);
    else t.delete(op.key);
  }
}

function mirror(model: Model, ops: Op[]): void {
  for (const op of ops) {
    if (op.value) model.put(op.table, op.key, op.value);
    else model.delete(op.table, op.key);
  }
}

/** Commits `ops` as one transaction and mirrors them in the model. */
export function commit(db: Database, model: Model, ops: Op[]): void {
  db.write((tx) => applyOps(tx, ops));
  mirror(model, ops);
}

/**
 * Commits each batch as its own transaction, all started at once so that they share one fsync
 * (group commit): their WAL records are appended before any of them is durable, so none of them
 * names its predecessor as durable, and only a record after the group can prove they were
 * acknowledged.
 */
export async function commitGroup(db: Database, model: Model, batches: Op[][]): Promise<void> {
  await Promise.all(batches.map((ops) => db.writeAsync((tx) => applyOps(tx, ops))));
  for (const ops of batches) mirror(model, ops);
}

const pad = (n: number): string => String(n).padStart(6, '0');
const key = (prefix: string, n: number): Buffer => Buffer.from(`${prefix}/${pad(n)}`, 'latin1');

// ---------------------------------------------------------------------------------------------
// Fixture stores
// ---------------------------------------------------------------------------------------------

/**
 * Options of the corrupted copies. A 512-byte page size makes many small blocks (so under a thousand
 * entries give over a hundred leaves, several branch levels and values stored out of line above 128
 * bytes). Durability 'none' only skips fsyncs, which detection does not depend on, to keep a trial
 * cheap; no timer checkpoints, so nothing happens that a trial did not ask for. Dedup is off so that
 * every value lives in the table that owns its key, which is how trials map a block to its keys
 * (damaged deduplicated blobs are covered in test/shard/dedup.test.ts).
 */
export const TRIAL_OPTIONS: DatabaseOptions = {
  pageSize: 512,
  dedup: false,
  checkpointIntervalMs: 0,
  durability: 'none',
  walSegmentBytes: 64 * 1024,
};

/**
 * Options while the WAL must keep every commit: no automatic checkpoint, and 64 KiB segments so
 * that a few larger commits spread the log over several segment files.
 */
export const WAL_OPTIONS: DatabaseOptions = {
  pageSize: 512,
  dedup: false,
  checkpointIntervalMs: 0,
  checkpointWalBytes: 2 ** 40,
  walSegmentBytes: 64 * 1024,
};

/**
 * The page-file fixture: four tables (one of them a single root leaf), about 890 entries,
 * inline and out-of-line values, several checkpoints and then overwrites and deletes, so that the
 * file also holds free extents and a non-empty freelist. Closed cleanly: both header slots name the
 * same checkpoint and no WAL is left.
 *
 * Its size only sets how many blocks of each kind there are (about 130 leaves, 40 out-of-line values,
 * 11 branches in trees three levels deep): every trial opens, verifies and reads the whole store, and
 * every live block gets its own flips, so a larger store costs more per trial and more trials without
 * reaching another kind of block. The corruption test asserts the kinds it needs are there.
 */
export function buildPageFileStore(dir: string, rng: Rng): Expected {
  const model = new Model();
  const db = Database.open(dir, TRIAL_OPTIONS);
  try {
    for (let round = 0; round < 5; round++) {
      const ops: Op[] = [];
      for (let i = 0; i < 90; i++) ops.push({ table: DEFAULT_TABLE, key: key('acct', round * 90 + i), value: rng.bytes(rng.int(8, 60)) });
      for (let i = 0; i < 80; i++) ops.push({ table: 'events', key: key('evt', round * 80 + i), value: rng.bytes(rng.int(20, 100)) });
      for (let i = 0; i < 10; i++) {
        const big = rng.int(0, 10) < 7;
        ops.push({ table: 'blobs', key: key('blob', round * 10 + i), value: rng.bytes(big ? rng.int(150, 1500) : rng.int(10, 100)) });
      }
      commit(db, model, ops);
      db.checkpoint();
    }
    // Churn after the checkpoints frees blocks, so the last checkpoints record free extents.
    const churn: Op[] = [];
    model.keys(DEFAULT_TABLE).forEach((k, i) => {
      if (i % 9 === 0) churn.push({ table: DEFAULT_TABLE, key: k, value: null });
    });
    model.keys('events').forEach((k, i) => {
      if (i % 5 === 0) churn.push({ table: 'events', key: k, value: rng.bytes(rng.int(20, 100)) });
    });
    model.keys('blobs').forEach((k, i) => {
      if (i % 3 === 0) churn.push({ table: 'blobs', key: k, value: rng.bytes(rng.int(150, 2000)) });
    });
    commit(db, model, churn);
    db.checkpoint();
    commit(db, model, [{ table: 'tiny', key: Buffer.from('only'), value: Buffer.from('one entry: the root is a leaf') }]);
    for (let i = 0; i < 40; i++) commit(db, model, [{ table: DEFAULT_TABLE, key: key('acct', 2000 + i), value: rng.bytes(rng.int(8, 60)) }]);
  } finally {
    db.close();
  }
  return model.snapshot();
}

/** Files of a store, as bytes: the page file and every WAL segment by name. */
export interface StoreFiles {
  data: Uint8Array;
  wal: Array<[string, Uint8Array]>;
}

/** Reads a store's files; on a live store this is what a crash at this moment would leave. */
export function captureFiles(dir: string): StoreFiles {
  const walDir = path.join(dir, WAL_DIR);
  const names = fs.existsSync(walDir) ? fs.readdirSync(walDir).filter((n) => parseSegmentFileName(n) !== null).sort() : [];
  return {
    data: fs.readFileSync(path.join(dir, DATA_FILE)),
    wal: names.map((n): [string, Uint8Array] => [n, fs.readFileSync(path.join(walDir, n))]),
  };
}

/**
 * A store whose two header slots hold different checkpoints, as after a crash: two checkpoints, then
 * commits that only the WAL holds (some large, so the log spans several segments). The files are
 * captured while the database is still open, as a power cut would leave them.
 */
export function buildUncleanStore(dir: string, rng: Rng): { files: StoreFiles; expected: Expected } {
  const model = new Model();
  const db = Database.open(dir, WAL_OPTIONS);
  try {
    for (let round = 0; round < 2; round++) {
      const ops: Op[] = [];
      for (let i = 0; i < 150; i++) ops.push({ table: DEFAULT_TABLE, key: key('acct', round * 150 + i), value: rng.bytes(rng.int(8, 60)) });
      for (let i = 0; i < 90; i++) ops.push({ table: 'events', key: key('evt', round * 90 + i), value: rng.bytes(rng.int(20, 100)) });
      for (let i = 0; i < 8; i++) ops.push({ table: 'blobs', key: key('blob', round * 8 + i), value: rng.bytes(rng.int(150, 1200)) });
      commit(db, model, ops);
      db.checkpoint();
    }
    for (let c = 0; c < 14; c++) {
      const ops: Op[] = [{ table: 'events', key: key('evt', 1000 + c), value: rng.bytes(rng.int(20, 100)) }];
      if (c % 3 === 0) ops.push({ table: 'blobs', key: key('blob', 100 + c), value: rng.bytes(rng.int(9000, 16000)) });
      if (c % 4 === 1) ops.push({ table: DEFAULT_TABLE, key: key('acct', c * 7), value: null });
      commit(db, model, ops);
    }
    return { files: captureFiles(dir), expected: model.snapshot() };
  } finally {
    db.close();
  }
}

/** Decodes both header slots of a page file image. */
export function readSlots(data: Uint8Array): [HeaderSlot | null, HeaderSlot | null] {
  const one = (i: number): HeaderSlot | null => {
    const r = decodeHeaderSlot(data.subarray(i * SLOT_SIZE, (i + 1) * SLOT_SIZE));
    return r.state === 'valid' ? r.slot : null;
  };
  return [one(0), one(1)];
}

/** The valid slot with the highest seq: the checkpoint open starts from. */
export function newestSlot(data: Uint8Array): HeaderSlot {
  const [a, b] = readSlots(data);
  const best = a && b ? (a.seq >= b.seq ? a : b) : (a ?? b);
  if (!best) throw new Error('fixture has no valid header slot');
  return best;
}

// ---------------------------------------------------------------------------------------------
// Which bytes of the page file are live, and what they hold
// ---------------------------------------------------------------------------------------------

export type BlockKindName = 'leaf' | 'branch' | 'value' | 'catalog' | 'freelist';

export interface LiveBlock {
  offset: number;
  length: number;
  /** Payload bytes after the 24-byte header; the rest of the extent is zero padding. */
  storedLength: number;
  kind: BlockKindName;
  /** Table owning a tree node or value; null for the catalog and the freelist. */
  table: string | null;
  root: boolean;
  /** Indexes (into the table's sorted entries) of the keys whose reads pass through this block. */
  keys: [number, number] | null;
}

export interface PageMap {
  blocks: LiveBlock[];
  free: Extent[];
  fileEnd: number;
}

/**
 * Walks the newest checkpoint of a closed store the way the engine does (catalog, then every tree
 * from its root, then out-of-line values, then the freelist) and lists every live block. Because a
 * subtree covers a contiguous run of keys, each block's affected keys are an index range.
 */
export function mapPageFile(dataPath: string): PageMap {
  const file = PageFile.open(nodeFileIO, dataPath, new StoreCodec('none', 1, null), 1, true);
  try {
    const slot = newestSlot(fs.readFileSync(dataPath));
    const store = new NodeStore(file, new NodeCache(new CacheBudget(64 << 20)));
    const blocks: LiveBlock[] = [];
    const add = (ref: BlockRef, kind: BlockKindName, table: string | null, root: boolean, keys: [number, number] | null): LiveBlock => {
      const head = Buffer.from(file.readExtent(ref.offset, BLOCK_HEADER_SIZE));
      const b: LiveBlock = { offset: ref.offset, length: ref.length, storedLength: head.readUInt32LE(4), kind, table, root, keys };
      blocks.push(b);
      return b;
    };
    if (slot.catalog) {
      add(slot.catalog, 'catalog', null, false, null);
      const tables = decodeCatalog(file.readBlock(slot.catalog, BlockKind.Catalog).payload);
      if (typeof tables === 'string') throw new Error(tables);
      for (const t of tables) {
        let next = 0;
        const walk = (ref: BlockRef, root: boolean): [number, number] => {
          const node = store.readNode(ref);
          if (node instanceof BranchNode) {
            const b = add(ref, 'branch', t.name, root, null);
            const first = walk(node.refs.get(0)!, false);
            let last = first;
            for (let i = 1; i < node.refs.length; i++) last = walk(node.refs.get(i)!, false);
            b.keys = [first[0], last[1]];
            return b.keys;
          }
          const range: [number, number] = [next, next + node.count - 1];
          add(ref, 'leaf', t.name, root, range);
          for (let i = 0; i < node.count; i++) {
            if (valueTagAt(node, i) === ValueTag.OutOfLine) add(valueRefAt(node, i)!, 'value', t.name, false, [next + i, next + i]);
          }
          next += node.count;
          return range;
        };
        if (t.root) walk(t.root, true);
      }
    }
    let free: Extent[] = [];
    if (slot.freelist) {
      add(slot.freelist, 'freelist', null, false, null);
      const extents = decodeFreelist(file.readBlock(slot.freelist, BlockKind.Freelist).payload, slot.fileEnd);
      if (typeof extents === 'string') throw new Error(extents);
      free = extents;
    }
    return { blocks: blocks.sort((a, b) => a.offset - b.offset), free, fileEnd: slot.fileEnd };
  } finally {
    file.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The layout of the WAL records a live store holds
// ---------------------------------------------------------------------------------------------

export interface WalRecordSpan {
  segment: number;
  file: string;
  start: number;
  length: number;
  txn: number;
  durableTxn: number;
}

/**
 * Lists every record from the checkpoint's WAL position to the end of the log. A segment that has a
 * successor ends where the successor's header says; the last one ends at the first all-zero header.
 */
export function mapWal(walDir: string, from: { segment: number; offset: number }): WalRecordSpan[] {
  const segs = fs
    .readdirSync(walDir)
    .map((n) => parseSegmentFileName(n))
    .filter((n): n is number => n !== null && n >= from.segment)
    .sort((a, b) => a - b);
  const files = segs.map((s) => path.join(walDir, `${String(s).padStart(20, '0')}.wal`));
  const out: WalRecordSpan[] = [];
  segs.forEach((seg, i) => {
    const buf = fs.readFileSync(files[i]!);
    let bound: number | null = null;
    if (i + 1 < segs.length) {
      const h = decodeSegmentHeader(fs.readFileSync(files[i + 1]!).subarray(0, 64));
      if (typeof h === 'string') throw new Error(h);
      bound = h.prevEnd;
    }
    let pos = seg === from.segment ? from.offset : SEGMENT_HEADER_SIZE;
    for (;;) {
      if (bound !== null && pos >= bound) break;
      if (pos + RECORD_HEADER_SIZE > buf.length) break;
      if (bound === null && buf.subarray(pos, pos + RECORD_HEADER_SIZE).every((x) => x === 0)) break;
      const h = decodeRecordHeader(buf, pos);
      out.push({ segment: seg, file: files[i]!, start: pos, length: RECORD_HEADER_SIZE + h.storedLength, txn: h.txn, durableTxn: h.durableTxn });
      pos += RECORD_HEADER_SIZE + h.storedLength;
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Trial plumbing
// ---------------------------------------------------------------------------------------------

/** Outcome of one group of trials: how many ran, what went wrong, and tallies for the report. */
export interface Section {
  trials: number;
  /** Worker time spent on these trials. */
  ms: number;
  failures: string[];
  counts: Record<string, number>;
}

export type JobResult = Record<string, Section>;

export function newSection(): Section {
  return { trials: 0, ms: 0, failures: [], counts: {} };
}

export function tally(s: Section, name: string, n = 1): void {
  s.counts[name] = (s.counts[name] ?? 0) + n;
}

/** Reports progress to the parent before each trial; the parent's watchdog names a trial that hangs. */
export type Progress = (label: string) => void;

/** Collects the failed expectations of one trial, each prefixed with what the trial did. */
class TrialCheck {
  readonly failures: string[] = [];

  constructor(readonly label: string) {}

  expect(ok: boolean, what: string): boolean {
    if (!ok) this.failures.push(`${this.label}: ${what}`);
    return ok;
  }
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
}

/** Puts exactly these files in `dir` (and no other WAL segment), replacing what a trial changed. */
export function installFiles(dir: string, data: Uint8Array, wal: Array<[string, Uint8Array]>): void {
  const walDir = path.join(dir, WAL_DIR);
  fs.mkdirSync(walDir, { recursive: true });
  fs.writeFileSync(path.join(dir, DATA_FILE), data);
  const keep = new Set(wal.map(([n]) => n));
  for (const name of fs.readdirSync(walDir)) if (!keep.has(name)) fs.rmSync(path.join(walDir, name), { force: true });
  for (const [name, bytes] of wal) fs.writeFileSync(path.join(walDir, name), bytes);
}

/** What reading a whole store returned. */
interface ReadOutcome {
  /** Reads that returned bytes other than the model's, or failed with anything but CorruptionError. */
  wrong: string[];
  /** Per table, the CorruptionError a full range scan ended with. */
  rangeErrors: Map<string, CorruptionError>;
  /** Per table, the entry indexes whose get() threw CorruptionError, and the offsets named. */
  getErrors: Map<string, { index: number; err: CorruptionError }[]>;
}

/**
 * Reads everything: a full range of every table, then every key by get(). Each read must either
 * return exactly the model's bytes or throw CorruptionError; entries a range returned before it
 * threw must be an exact prefix. A range that yields more entries than the model stops at the first
 * surplus one, so a cycle in a damaged tree cannot spin here.
 */
function readEverything(db: Database, expected: Expected): ReadOutcome {
  const out: ReadOutcome = { wrong: [], rangeErrors: new Map(), getErrors: new Map() };
  for (const [name, entries] of Object.entries(expected)) {
    const handle = name === DEFAULT_TABLE ? db : db.table(name);
    let i = 0;
    try {
      for (const e of handle.range()) {
        const want = entries[i];
        if (!want) {
          out.wrong.push(`range of ${name} returned an entry past the last one (${e.key.toString('hex')})`);
          break;
        }
        if (!e.key.equals(want[0]) || !e.value.equals(want[1])) {
          out.wrong.push(`range of ${name} returned different bytes at entry ${i} (key ${e.key.toString('hex')})`);
          break;
        }
        i++;
      }
      if (i < entries.length && out.wrong.length === 0) out.wrong.push(`range of ${name} ended after ${i} of ${entries.length} entries without an error`);
    } catch (err) {
      if (err instanceof CorruptionError) out.rangeErrors.set(name, err);
      else out.wrong.push(`range of ${name} threw ${describeError(err)}`);
    }
    const errs: { index: number; err: CorruptionError }[] = [];
    entries.forEach(([k, v], index) => {
      try {
        const got = handle.get(k);
        if (!got) out.wrong.push(`get(${Buffer.from(k).toString('hex')}) in ${name} returned nothing`);
        else if (!got.equals(v)) out.wrong.push(`get(${Buffer.from(k).toString('hex')}) in ${name} returned different bytes`);
      } catch (err) {
        if (err instanceof CorruptionError) errs.push({ index, err });
        else out.wrong.push(`get in ${name} threw ${describeError(err)}`);
      }
    });
    if (errs.length > 0) out.getErrors.set(name, errs);
  }
  return out;
}

/** Checks that a store reads back exactly as the model says, with no error at all. */
function expectIntact(c: TrialCheck, db: Database, expected: Expected): void {
  const r = readEverything(db, expected);
  for (const w of r.wrong) c.expect(false, w);
  for (const [name, err] of r.rangeErrors) c.expect(false, `range of ${name} threw ${describeError(err)}`);
  for (const [name, errs] of r.getErrors) c.expect(false, `${errs.length} gets in ${name} threw, e.g. ${describeError(errs[0]!.err)}`);
}

function expectCleanVerify(c: TrialCheck, db: Database): void {
  const report = db.verify();
  c.expect(report.ok, `verify found issues in an intact store: ${JSON.stringify(report.issues.slice(0, 3))}`);
}

function issuesText(report: VerifyReport): string {
  return JSON.stringify(report.issues.slice(0, 4).map((i) => ({ area: i.area, file: path.basename(i.file), offset: i.offset, message: i.message })));
}

/** Opens, runs `body`, and always closes, recording a failed close as a failure of the trial. */
/** A store the damage must not have touched: it opens, verifies clean and holds exactly `expected`. */
function expectUnharmed(c: TrialCheck, dir: string, expected: Expected): void {
  try {
    withDatabase(c, dir, TRIAL_OPTIONS, (db) => {
      expectCleanVerify(c, db);
      expectIntact(c, db, expected);
    });
  } catch (err) {
    c.expect(false, `open threw ${describeError(err)}`);
  }
}

function withDatabase(c: TrialCheck, dir: string, options: DatabaseOptions, body: (db: Database) => void): void {
  const db = Database.open(dir, options);
  try {
    body(db);
  } finally {
    try {
      db.close();
    } catch (err) {
      c.expect(false, `close threw ${describeError(err)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Page-file trials
// ---------------------------------------------------------------------------------------------

/** One flipped byte of data.redb; `block` indexes PageJob.blocks, or is -1 for free space. */
export interface PageTrial {
  pos: number;
  mask: number;
  block: number;
}

export interface PageJob {
  kind: 'page';
  pristineDir: string;
  workDir: string;
  blocks: LiveBlock[];
  expected: Expected;
  trials: PageTrial[];
  /** Also prove the harness on the undamaged store first. */
  control: boolean;
}

export function runPageJob(job: PageJob, progress: Progress): JobResult {
  const pages = newSection();
  const free = newSection();
  const pristine = captureFiles(job.pristineDir);
  const dataPath = path.join(job.workDir, DATA_FILE);
  if (job.control) {
    progress('control: the undamaged page-file fixture');
    const c = new TrialCheck('undamaged page-file fixture');
    installFiles(job.workDir, pristine.data, pristine.wal);
    expectUnharmed(c, job.workDir, job.expected);
    pages.failures.push(...c.failures);
  }
  for (const t of job.trials) {
    const block = t.block >= 0 ? job.blocks[t.block]! : null;
    const where = block
      ? `${block.kind}${block.table ? ` of ${block.table}` : ''}${block.root ? ' (root)' : ''} block at ${block.offset}, +${t.pos - block.offset}`
      : 'free space';
    const label = `data.redb byte ${t.pos} ^0x${t.mask.toString(16)} (${where})`;
    progress(label);
    const c = new TrialCheck(label);
    const started = performance.now();
    const section = block ? pages : free;
    section.trials++;
    const data = Buffer.from(pristine.data);
    data[t.pos]! ^= t.mask;
    installFiles(job.workDir, data, pristine.wal);
    if (block) {
      tally(section, `${block.kind}:flips`);
      pageBlockTrial(c, section, job, block, dataPath);
    } else {
      // Nothing reads a free extent, so damage there must change nothing at all.
      expectUnharmed(c, job.workDir, job.expected);
    }
    section.failures.push(...c.failures);
    section.ms += performance.now() - started;
  }
  return { pages, free };
}

function pageBlockTrial(c: TrialCheck, s: Section, job: PageJob, block: LiveBlock, dataPath: string): void {
  const inBlock = (file: string, offset: number): boolean =>
    file === dataPath && offset >= block.offset && offset < block.offset + block.length;
  let db: Database;
  try {
    db = Database.open(job.workDir, TRIAL_OPTIONS);
  } catch (err) {
    // Open reads the catalog, the freelist and every table's root: refusing to open is the report.
    if (c.expect(err instanceof CorruptionError, `open threw ${describeError(err)}, not CorruptionError`)) {
      const ce = err as CorruptionError;
      c.expect(inBlock(ce.file, ce.offset), `open's CorruptionError names ${ce.file} at ${ce.offset}, not the damaged block`);
      tally(s, `${block.kind}:refusedAtOpen`);
    }
    return;
  }
  try {
    const report = db.verify();
    const named = report.issues.some((i) => i.area === 'block' && inBlock(i.file, i.offset));
    c.expect(!report.ok && named, `verify did not report the damaged block: ok=${report.ok} ${issuesText(report)}`);
    c.expect(report.issues.every((i) => i.file === dataPath), `verify blamed another file: ${issuesText(report)}`);
    if (!report.ok && named) tally(s, `${block.kind}:reportedByVerify`);

    const r = readEverything(db, job.expected);
    for (const w of r.wrong) c.expect(false, w);
    if (block.table !== null && block.keys !== null) {
      // A full range visits every block of its table, so it must stop at this one, naming it.
      const rangeErr = r.rangeErrors.get(block.table);
      c.expect(
        rangeErr !== undefined && inBlock(rangeErr.file, rangeErr.offset),
        `range of ${block.table} did not throw CorruptionError naming the damaged block (${rangeErr ? describeError(rangeErr) : 'no error'})`,
      );
      for (const [name, err] of r.rangeErrors) {
        if (name !== block.table) c.expect(false, `range of untouched table ${name} threw ${describeError(err)}`);
      }
      // Exactly the keys whose path runs through the damaged block fail; every other key reads back.
      const [lo, hi] = block.keys;
      const failed = r.getErrors.get(block.table) ?? [];
      const wrongSet = failed.filter((f) => f.index < lo || f.index > hi);
      c.expect(wrongSet.length === 0, `${wrongSet.length} gets outside the damaged block's keys threw, e.g. ${wrongSet[0] ? describeError(wrongSet[0].err) : ''}`);
      c.expect(failed.length === hi - lo + 1, `${failed.length} of the ${hi - lo + 1} keys behind the damaged block threw CorruptionError`);
      const misnamed = failed.filter((f) => !inBlock(f.err.file, f.err.offset));
      c.expect(misnamed.length === 0, `gets threw CorruptionError naming another place: ${misnamed[0] ? describeError(misnamed[0].err) : ''}`);
      for (const [name, errs] of r.getErrors) {
        if (name !== block.table) c.expect(false, `${errs.length} gets in untouched table ${name} threw`);
      }
      if (rangeErr || failed.length > 0) tally(s, `${block.kind}:readsThrew`);
    }
  } finally {
    try {
      db.close();
    } catch (err) {
      c.expect(false, `close threw ${describeError(err)}`);
    }
  }
}

/**
 * The flips for the page file: every byte of one leaf, one non-root branch, the catalog and the
 * freelist (with `full` false: every header byte and a random quarter of the rest, which keeps
 * `npm test` short; `npm run test:corruption` flips them all); and in every other live block one byte of its header, one of its payload and (when it
 * has any) one of its padding. Plus a few bytes of free extents, which must be harmless.
 */
export function planPageTrials(map: PageMap, rng: Rng, full: boolean): { trials: PageTrial[]; exhaustive: LiveBlock[] } {
  const pick = (want: (b: LiveBlock) => boolean): number => map.blocks.findIndex(want);
  const chosen = [
    // A leaf with an out-of-line value reference and padding exercises the most parsing paths.
    Math.max(pick((b) => b.kind === 'leaf' && !b.root && b.table === 'blobs' && b.length > BLOCK_HEADER_SIZE + b.storedLength), pick((b) => b.kind === 'leaf' && !b.root)),
    Math.max(pick((b) => b.kind === 'branch' && !b.root), pick((b) => b.kind === 'branch')),
    pick((b) => b.kind === 'catalog'),
    pick((b) => b.kind === 'freelist'),
  ];
  if (chosen.some((i) => i < 0)) throw new Error(`fixture lacks a block kind to test exhaustively: ${JSON.stringify(chosen)}`);
  const trials: PageTrial[] = [];
  for (const bi of chosen) {
    const b = map.blocks[bi]!;
    for (let p = 0; p < b.length; p++) {
      if (full || p < BLOCK_HEADER_SIZE || rng.int(0, 4) === 0) trials.push({ pos: b.offset + p, mask: rng.mask(), block: bi });
    }
  }
  map.blocks.forEach((b, bi) => {
    if (chosen.includes(bi)) return;
    const payloadEnd = BLOCK_HEADER_SIZE + b.storedLength;
    trials.push({ pos: b.offset + rng.int(0, BLOCK_HEADER_SIZE), mask: rng.mask(), block: bi });
    if (b.storedLength > 0) trials.push({ pos: b.offset + rng.int(BLOCK_HEADER_SIZE, payloadEnd), mask: rng.mask(), block: bi });
    if (b.length > payloadEnd) trials.push({ pos: b.offset + rng.int(payloadEnd, b.length), mask: rng.mask(), block: bi });
  });
  for (let i = 0; i < 12 && map.free.length > 0; i++) {
    const e = map.free[rng.int(0, map.free.length)]!;
    trials.push({ pos: e.offset + rng.int(0, e.length), mask: rng.mask(), block: -1 });
  }
  return { trials, exhaustive: chosen.map((i) => map.blocks[i]!) };
}

// ---------------------------------------------------------------------------------------------
// Header-slot trials
// ---------------------------------------------------------------------------------------------

export interface HeaderTrial {
  pos: number;
  mask: number;
  /** Also close (which rewrites both slots) and check the reopened store is whole again. */
  heal: boolean;
}

export interface HeaderJob {
  kind: 'header';
  name: string;
  files: StoreFiles;
  workDir: string;
  expected: Expected;
  trials: HeaderTrial[];
}

export function runHeaderJob(job: HeaderJob, progress: Progress): JobResult {
  const s = newSection();
  const dataPath = path.join(job.workDir, DATA_FILE);
  const data = Buffer.from(job.files.data);
  progress(`control: the undamaged ${job.name} fixture`);
  const control = new TrialCheck(`undamaged ${job.name} fixture`);
  installFiles(job.workDir, data, job.files.wal);
  try {
    withDatabase(control, job.workDir, TRIAL_OPTIONS, (db) => {
      control.expect(db.recovery.invalidSlots.length === 0, `a slot of the undamaged fixture is invalid: ${JSON.stringify(db.recovery.invalidSlots)}`);
      expectCleanVerify(control, db);
      expectIntact(control, db, job.expected);
    });
  } catch (err) {
    control.expect(false, `open threw ${describeError(err)}`);
  }
  s.failures.push(...control.failures);

  for (const t of job.trials) {
    const index = t.pos < SLOT_SIZE ? 0 : 1;
    const label = `${job.name}: slot ${index} byte ${t.pos % SLOT_SIZE} ^0x${t.mask.toString(16)}`;
    progress(label);
    const c = new TrialCheck(label);
    const started = performance.now();
    s.trials++;
    tally(s, `slot${index}:flips`);
    const damaged = Buffer.from(data);
    damaged[t.pos]! ^= t.mask;
    installFiles(job.workDir, damaged, job.files.wal);
    try {
      withDatabase(c, job.workDir, TRIAL_OPTIONS, (db) => {
        c.expect(db.recovery.slot === 1 - index, `open used slot ${db.recovery.slot}, the damaged one`);
        c.expect(
          db.recovery.invalidSlots.some((x) => x.index === index),
          `open did not list slot ${index} as invalid: ${JSON.stringify(db.recovery.invalidSlots)}`,
        );
        const report = db.verify();
        const named = report.issues.some((i) => i.area === 'header' && i.file === dataPath && i.offset === index * SLOT_SIZE);
        if (c.expect(!report.ok && named, `verify did not report slot ${index}: ${issuesText(report)}`)) tally(s, 'reportedByVerify');
        c.expect(
          report.issues.every((i) => i.area === 'header' && i.offset === index * SLOT_SIZE),
          `verify reported more than the damaged slot: ${issuesText(report)}`,
        );
        // The other slot's checkpoint plus the WAL it points at must give back every commit.
        expectIntact(c, db, job.expected);
      });
      tally(s, 'openedWithOtherSlot');
      if (t.heal && c.failures.length === 0) {
        // Close wrote a clean checkpoint over both slots: the store is whole again.
        withDatabase(c, job.workDir, TRIAL_OPTIONS, (db) => {
          c.expect(db.recovery.invalidSlots.length === 0, `after close and reopen a slot is still invalid: ${JSON.stringify(db.recovery.invalidSlots)}`);
          expectCleanVerify(c, db);
          c.expect(Object.entries(job.expected).every(([n, e]) => (n === DEFAULT_TABLE ? db.count() : db.table(n).count()) === e.length), 'entry counts changed after healing');
        });
        tally(s, 'healedByClose');
      }
    } catch (err) {
      c.expect(false, `open or close threw ${describeError(err)}; the other slot should have been used`);
    }
    s.failures.push(...c.failures);
    s.ms += performance.now() - started;
  }
  return { header: s };
}

/**
 * Flips for one fixture: in each slot every byte of the used fields (magic through flags, bytes
 * [0, 100)) and of the CRC, and a sample of the reserved area, which the CRC covers too.
 */
export function planHeaderTrials(rng: Rng, reservedSamples: number, healEvery: number): HeaderTrial[] {
  const out: HeaderTrial[] = [];
  for (const index of [0, 1]) {
    const positions = new Set<number>();
    for (let p = 0; p < 100; p++) positions.add(p);
    for (let p = SLOT_SIZE - 4; p < SLOT_SIZE; p++) positions.add(p);
    while (positions.size < 104 + reservedSamples) positions.add(rng.int(100, SLOT_SIZE - 4));
    [...positions].sort((a, b) => a - b).forEach((p, i) => out.push({ pos: index * SLOT_SIZE + p, mask: rng.mask(), heal: i % healEvery === 0 }));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// WAL trials
// ---------------------------------------------------------------------------------------------

export interface WalJob {
  kind: 'wal';
  seed: number;
  workDir: string;
}

/** Header fields of a WAL record, [start, end) within its 32-byte header, for sampling. */
const RECORD_FIELDS: Array<[string, number, number]> = [
  ['length', 0, 4],
  ['crc', 4, 8],
  ['txn', 8, 16],
  ['durableTxn', 16, 24],
  ['flags', 24, 25],
  ['kind', 25, 26],
  ['keyId', 26, 28],
  ['rawLength', 28, 32],
];

function fieldOf(offsetInRecord: number): string {
  if (offsetInRecord >= RECORD_HEADER_SIZE) return 'payload';
  return RECORD_FIELDS.find(([, a, b]) => offsetInRecord >= a && offsetInRecord < b)![0];
}

/**
 * Builds a live store whose WAL holds every commit (several segments), then:
 * - flips bytes of the live WAL files and checks that verify() on the live database reports each;
 * - flips bytes in copies of the files, as a crash would leave them, and reopens: damage to any
 *   record but the last must refuse to open; damage to the last is a torn tail that loses only it.
 */
export async function runWalJob(job: WalJob, progress: Progress): Promise<JobResult> {
  const rng = new Rng(job.seed);
  const liveDir = path.join(job.workDir, 'live');
  const copyDir = path.join(job.workDir, 'copy');
  fs.mkdirSync(copyDir, { recursive: true });
  const live = newSection();
  const earlier = newSection();
  const last = newSection();
  const segHeaders = newSection();
  const model = new Model();

  progress('building the live WAL fixture');
  let db = Database.open(liveDir, WAL_OPTIONS);
  try {
    const base: Op[] = [];
    for (let i = 0; i < 200; i++) base.push({ table: DEFAULT_TABLE, key: key('acct', i), value: rng.bytes(rng.int(8, 60)) });
    for (let i = 0; i < 100; i++) base.push({ table: 'events', key: key('evt', i), value: rng.bytes(rng.int(20, 100)) });
    commit(db, model, base);
  } finally {
    db.close();
  }
  // Reopened after a clean close, the store starts a fresh segment: every record in the WAL is live.
  db = Database.open(liveDir, WAL_OPTIONS);
  try {
    const opsFor = (c: number): Op[] => {
      const ops: Op[] = [];
      const n = rng.int(1, 6);
      for (let i = 0; i < n; i++) {
        const table = ['events', DEFAULT_TABLE, 'audit'][rng.int(0, 3)]!;
        ops.push({ table, key: key(table === DEFAULT_TABLE ? 'acct' : 'x', rng.int(0, 400)), value: rng.bytes(rng.int(4, 90)) });
      }
      // Large values every fourth commit spread the log over several segments.
      if (c % 4 === 3 && c < 24) ops.push({ table: 'blobs', key: key('blob', c), value: rng.bytes(rng.int(12000, 20000)) });
      if (c % 5 === 2) ops.push({ table: 'events', key: key('evt', rng.int(0, 100)), value: null });
      return ops;
    };
    let c = 0;
    for (; c < 30; ) {
      if (c % 12 === 6) {
        await commitGroup(db, model, [opsFor(c), opsFor(c + 1), opsFor(c + 2)]);
        c += 3;
      } else {
        commit(db, model, opsFor(c++));
      }
    }
    // The tail: a group commit, then one last single commit. The group must sit in the last segment,
    // where only a later record can tell acknowledged damage from a torn tail; if a segment rotation
    // separated them (rare: only small records are written here), write another tail.
    const walDir = path.join(liveDir, WAL_DIR);
    const walStart = newestSlot(fs.readFileSync(path.join(liveDir, DATA_FILE)));
    let beforeLast: Expected;
    for (let attempt = 0; ; attempt++) {
      await commitGroup(db, model, [opsFor(c), opsFor(c + 1), opsFor(c + 2)]);
      c += 3;
      beforeLast = model.snapshot();
      commit(db, model, opsFor(c++));
      const recs = mapWal(walDir, { segment: walStart.walSegment, offset: walStart.walOffset });
      if (recs[recs.length - 4]?.segment === recs[recs.length - 1]?.segment || attempt === 3) break;
    }
    const commits = c;
    const expectedAll = model.snapshot();
    const slot = newestSlot(fs.readFileSync(path.join(liveDir, DATA_FILE)));
    const records = mapWal(path.join(liveDir, WAL_DIR), { segment: slot.walSegment, offset: slot.walOffset });
    const segments = [...new Set(records.map((r) => r.segment))];
    const setup = new TrialCheck('live WAL fixture');
    setup.expect(records.length === commits, `the WAL holds ${records.length} records for ${commits} commits`);
    setup.expect(records.every((r, i) => r.txn === records[0]!.txn + i), 'WAL records are not consecutive transactions');
    setup.expect(segments.length >= 2, `the WAL spans ${segments.length} segment(s); the fixture wants several`);
    // Under group commit a record does not name its predecessor durable; in the last segment the
    // damaged record's successor then proves nothing and the records after it must.
    const lastSegment = records[records.length - 1]!.segment;
    const grouped = records.filter((r, i) => i > 0 && r.durableTxn < r.txn - 1);
    setup.expect(
      grouped.some((r) => r.segment === lastSegment),
      `no group-committed record in the last segment: ${JSON.stringify(grouped.map((r) => [r.segment, r.txn]))}`,
    );
    tally(earlier, 'recordsNotNamingPredecessorDurable', grouped.length);
    expectCleanVerify(setup, db);
    live.failures.push(...setup.failures);
    tally(live, 'records', records.length);
    tally(live, 'segments', segments.length);

    // --- live verify: damage the files under the open database, verify, repair ---
    const flipLive = (file: string, pos: number, mask: number): number => {
      const fd = fs.openSync(file, 'r+');
      try {
        const b = Buffer.alloc(1);
        fs.readSync(fd, b, 0, 1, pos);
        const original = b[0]!;
        b[0] = original ^ mask;
        fs.writeSync(fd, b, 0, 1, pos);
        return original;
      } finally {
        fs.closeSync(fd);
      }
    };
    const restoreLive = (file: string, pos: number, original: number): void => {
      const fd = fs.openSync(file, 'r+');
      try {
        fs.writeSync(fd, Buffer.from([original]), 0, 1, pos);
      } finally {
        fs.closeSync(fd);
      }
    };
    const liveTrial = (file: string, pos: number, expectOffset: number, what: string): void => {
      const mask = rng.mask();
      const label = `live ${path.basename(file)} byte ${pos} ^0x${mask.toString(16)} (${what})`;
      progress(label);
      const c = new TrialCheck(label);
      const started = performance.now();
      const original = flipLive(file, pos, mask);
      try {
        const report = db.verify();
        const named = report.issues.some((i) => i.area === 'wal' && i.file === file && i.offset === expectOffset);
        if (c.expect(!report.ok && named, `verify did not report a WAL issue at ${expectOffset}: ${issuesText(report)}`)) tally(live, 'reportedByVerify');
        c.expect(report.issues.every((i) => i.area === 'wal'), `verify blamed the page file for WAL damage: ${issuesText(report)}`);
      } finally {
        restoreLive(file, pos, original);
      }
      live.trials++;
      live.failures.push(...c.failures);
      live.ms += performance.now() - started;
    };
    for (const rec of records) {
      const positions = new Set<number>();
      for (let p = 0; p < RECORD_HEADER_SIZE; p++) positions.add(p);
      const payload = rec.length - RECORD_HEADER_SIZE;
      if (payload <= 96) for (let p = RECORD_HEADER_SIZE; p < rec.length; p++) positions.add(p);
      else {
        positions.add(RECORD_HEADER_SIZE);
        positions.add(rec.length - 1);
        while (positions.size < RECORD_HEADER_SIZE + 10) positions.add(rng.int(RECORD_HEADER_SIZE, rec.length));
      }
      for (const p of positions) {
        tally(live, `${fieldOf(p)}:flips`);
        liveTrial(rec.file, rec.start + p, rec.start, `record txn ${rec.txn} +${p}, ${fieldOf(p)}`);
      }
    }
    const segFiles = segments.map((seg) => records.find((r) => r.segment === seg)!.file);
    for (const file of segFiles) {
      for (let p = 0; p < 64; p++) {
        tally(live, 'segmentHeader:flips');
        liveTrial(file, p, 0, `segment header +${p}`);
      }
    }
    const after = new TrialCheck('live WAL after every byte was put back');
    expectCleanVerify(after, db);
    live.failures.push(...after.failures);

    // --- reopen copies, as a crash at this moment would leave the files ---
    const files = captureFiles(liveDir);
    const copyPath = (file: string): string => path.join(copyDir, WAL_DIR, path.basename(file));
    const install = (file: string | null, pos: number, mask: number): void => {
      installFiles(
        copyDir,
        files.data,
        files.wal.map(([name, bytes]): [string, Uint8Array] => {
          if (file === null || name !== path.basename(file)) return [name, bytes];
          const b = Buffer.from(bytes);
          b[pos]! ^= mask;
          return [name, b];
        }),
      );
    };

    progress('control: reopening an undamaged copy of the live WAL fixture');
    const control = new TrialCheck('undamaged copy of the live WAL fixture');
    install(null, 0, 0);
    try {
      withDatabase(control, copyDir, TRIAL_OPTIONS, (copy) => {
        control.expect(copy.recovery.tornTail === null, `an undamaged WAL has a torn tail: ${JSON.stringify(copy.recovery.tornTail)}`);
        control.expect(copy.recovery.replayedCommits === commits, `replayed ${copy.recovery.replayedCommits} of ${commits} commits`);
        expectCleanVerify(control, copy);
        expectIntact(control, copy, expectedAll);
      });
    } catch (err) {
      control.expect(false, `open threw ${describeError(err)}`);
    }
    earlier.failures.push(...control.failures);

    // Every record but the last was acknowledged and is followed by a later one that says so.
    const refuseTrial = (s: Section, file: string, pos: number, expectOffset: number, what: string): void => {
      const mask = rng.mask();
      const label = `copy ${path.basename(file)} byte ${pos} ^0x${mask.toString(16)} (${what})`;
      progress(label);
      const c = new TrialCheck(label);
      const started = performance.now();
      s.trials++;
      install(file, pos, mask);
      try {
        const opened = Database.open(copyDir, TRIAL_OPTIONS);
        const rec = opened.recovery;
        try {
          opened.close();
        } catch {
          // The failure below is what matters; a close error adds nothing to it.
        }
        c.expect(false, `open succeeded and silently dropped commits: replayed ${rec.replayedCommits} of ${commits}, torn tail ${JSON.stringify(rec.tornTail)}`);
      } catch (err) {
        if (c.expect(err instanceof CorruptionError, `open threw ${describeError(err)}, not CorruptionError`)) {
          const ce = err as CorruptionError;
          c.expect(ce.file === copyPath(file) && ce.offset === expectOffset, `open's CorruptionError names ${ce.file} at ${ce.offset}, not ${expectOffset}`);
          tally(s, 'refusedAtOpen');
        }
      }
      s.failures.push(...c.failures);
      s.ms += performance.now() - started;
    };
    for (const rec of records.slice(0, -1)) {
      const positions = new Set<number>([0, 1, 2, 3]);
      for (const [, a, b] of RECORD_FIELDS.slice(1)) positions.add(rng.int(a, b));
      for (let i = 0; i < 3; i++) positions.add(rng.int(RECORD_HEADER_SIZE, rec.length));
      for (const p of positions) {
        tally(earlier, `${fieldOf(p)}:flips`);
        refuseTrial(earlier, rec.file, rec.start + p, rec.start, `record txn ${rec.txn} of ${records.length} +${p}, ${fieldOf(p)}`);
      }
    }
    // A segment header is written and synced before any record of its segment, so damage to one
    // that holds records is never a crash artefact.
    for (const file of segFiles) {
      for (let p = 0; p < 64; p++) {
        tally(segHeaders, 'flips');
        refuseTrial(segHeaders, file, p, 0, `segment header +${p}`);
      }
    }

    // The last record: nothing after it can prove it was acknowledged, so damage to it looks
    // exactly like a write torn by a crash. Open drops it as a torn tail: that one commit is lost
    // (the limit of any log without a trailer), everything before it must survive.
    const lastRec = records[records.length - 1]!;
    const lastPositions = new Set<number>();
    for (let p = 0; p < RECORD_HEADER_SIZE; p++) lastPositions.add(p);
    while (lastPositions.size < Math.min(lastRec.length, RECORD_HEADER_SIZE + 24)) lastPositions.add(rng.int(RECORD_HEADER_SIZE, lastRec.length));
    for (const p of lastPositions) {
      const mask = rng.mask();
      const label = `copy ${path.basename(lastRec.file)} byte ${lastRec.start + p} ^0x${mask.toString(16)} (last record, txn ${lastRec.txn} +${p}, ${fieldOf(p)})`;
      progress(label);
      const c = new TrialCheck(label);
      const started = performance.now();
      last.trials++;
      tally(last, `${fieldOf(p)}:flips`);
      install(lastRec.file, lastRec.start + p, mask);
      try {
        withDatabase(c, copyDir, TRIAL_OPTIONS, (copy) => {
          const torn = copy.recovery.tornTail;
          c.expect(torn?.segment === lastRec.segment && torn.offset === lastRec.start, `torn tail ${JSON.stringify(torn)}, expected the last record at ${lastRec.start}`);
          c.expect(copy.recovery.lastTxn === lastRec.txn - 1, `recovered up to txn ${copy.recovery.lastTxn}, expected ${lastRec.txn - 1}`);
          expectIntact(c, copy, beforeLast);
          expectCleanVerify(c, copy);
        });
        if (c.failures.length === 0) tally(last, 'tornTailDroppedOnlyLast');
      } catch (err) {
        // Refusing to open is also a safe answer: it loses nothing silently.
        if (c.expect(err instanceof CorruptionError, `open threw ${describeError(err)}, not CorruptionError`)) tally(last, 'refusedAtOpen');
      }
      last.failures.push(...c.failures);
      last.ms += performance.now() - started;
    }
  } finally {
    db.close();
  }
  return { walLive: live, walReopenEarlier: earlier, walReopenLast: last, walSegmentHeader: segHeaders };
}

export type Job = PageJob | HeaderJob | WalJob;

export function runJob(job: Job, progress: Progress): JobResult | Promise<JobResult> {
  switch (job.kind) {
    case 'page':
      return runPageJob(job, progress);
    case 'header':
      return runHeaderJob(job, progress);
    case 'wal':
      return runWalJob(job, progress);
  }
}
