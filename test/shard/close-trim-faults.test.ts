/**
 * A crash at any IO call of a close that trims (its clean checkpoint, the moved blocks, the freelist,
 * both slot writes, the truncate) leaves a store that reopens with every committed write, verify()
 * clean, and every header slot open could pick whole: its file end within the file and every block
 * it reaches readable. The crash is played by the fault-injecting FileIO: the Nth write is torn (or
 * the Nth fdatasync fails) and every call after it fails, so the files are what the process left.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Database, RedbError, type DatabaseOptions } from '../../src/index.js';
import { StoreCodec } from '../../src/codec/store-codec.js';
import { nodeFileIO } from '../../src/io/node-file-io.js';
import { PageFile } from '../../src/pagefile/page-file.js';
import { walkReachable } from '../../src/shard/maintenance/reachable-blocks.js';
import { FaultyFileIO, type FaultPlan } from '../support/fault-file-io.js';
import { noiseBytes } from '../support/noise.js';
import { copyDir, tmpDir } from '../support/tmp.js';

/**
 * The overwritten third of KEYS (every 20th value out of line) leaves about 1.3 MiB of holes: over the
 * trim's 1 MiB minimum with room to spare, so the fault-free close trims a fifth of the file. More keys
 * would only add moved-block writes, which are all alike (only every 25th of them is failed below),
 * and make every reopen and check slower.
 */
const KEYS = 15_000;
const BASE = { checkpointIntervalMs: 0, compactOnClose: true } satisfies DatabaseOptions;
const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(6, '0')}`);

/** A value that does not compress, distinct per key and round (round < 4); every 20th is out of line. */
function value(i: number, round: number): Buffer {
  return noiseBytes(i * 4 + round, i % 20 === 0 ? 3000 : 150);
}

/**
 * A store as a kill -9 would leave it just before close: a checkpoint of KEYS entries, and in the WAL a
 * commit overwriting the middle third. Opening it replays that commit; closing then checkpoints the
 * new leaves and values at the end of the file and trims the holes they replaced.
 */
function preCloseImage(dir: string): Map<string, Buffer> {
  const expected = new Map<string, Buffer>();
  const db = Database.open(dir, { ...BASE, compactOnClose: false });
  db.write((tx) => {
    for (let i = 0; i < KEYS; i++) tx.put(key(i), value(i, 0));
  });
  db.checkpoint();
  db.write((tx) => {
    for (let i = KEYS / 3; i < (2 * KEYS) / 3; i++) tx.put(key(i), value(i, 1));
  });
  for (let i = 0; i < KEYS; i++) expected.set(key(i).toString(), value(i, i >= KEYS / 3 && i < (2 * KEYS) / 3 ? 1 : 0));
  // The image is what is on disk now: the lock files name this live process, so they stay behind.
  fs.mkdirSync(`${dir}.image`);
  for (const name of fs.readdirSync(dir)) if (name !== 'lock' && name !== 'lock.owner') copyDir(path.join(dir, name), path.join(`${dir}.image`, name));
  db.close();
  return expected;
}

/** Every valid header slot loads whole: its file end is within the file and each block it reaches reads. */
function assertSlotsWhole(dir: string, where: string): void {
  const file = PageFile.open(nodeFileIO, path.join(dir, 'data.redb'), new StoreCodec('zstd', 3, null), 1, true);
  try {
    for (const index of [0, 1] as const) {
      const r = file.readSlot(index);
      if (r.state !== 'valid') continue;
      assert.ok(file.size() >= r.slot.fileEnd, `${where}: slot ${index} covers ${r.slot.fileEnd} bytes of a ${file.size()}-byte file`);
      for (const ev of walkReachable(file, r.slot)) if (ev.type === 'enter') assert.ok(ev.block.ref.offset + ev.block.ref.length <= r.slot.fileEnd);
    }
  } finally {
    file.close();
  }
}

/** Opens a copy of the image on `io`, arms `plan` and closes; returns whether close threw. */
function closeWithFault(image: string, dir: string, plan: FaultPlan | null, compactOnClose = true): { io: FaultyFileIO; threw: unknown } {
  copyDir(image, dir);
  const io = new FaultyFileIO();
  io.crashAfterFault = true;
  const db = Database.open(dir, { ...BASE, compactOnClose, io });
  io.arm(plan);
  let threw: unknown = null;
  try {
    db.close();
  } catch (err) {
    threw = err;
  }
  return { io, threw };
}

function assertRecovered(dir: string, expected: Map<string, Buffer>, torn: boolean, where: string): void {
  assertSlotsWhole(dir, where);
  const db = Database.open(dir, { ...BASE, compactOnClose: false });
  try {
    assert.equal(db.count(), expected.size, `${where}: entry count`);
    for (const [k, v] of expected) {
      const got = db.get(Buffer.from(k));
      // Buffer.equals first: deepEqual on each of thousands of entries cost more than the reads.
      if (!(Buffer.isBuffer(got) && got.equals(v))) assert.deepEqual(got, v, `${where}: wrong value for ${k}`);
    }
    const report = db.verify();
    // A torn slot write leaves that slot failing its checksum, which verify must report; open used the other.
    const issues = report.issues.filter((i) => !(torn && i.area === 'header'));
    assert.deepEqual(issues, [], `${where}: verify found ${JSON.stringify(issues.slice(0, 3))}`);
  } finally {
    db.close();
  }
}

test('a crash at any write or fdatasync of a trimming close loses nothing, and every slot stays whole', (t) => {
  const root = tmpDir(t);
  const expected = preCloseImage(path.join(root, 'src'));
  const image = path.join(root, 'src.image');

  const clean = closeWithFault(image, path.join(root, 'clean'), null);
  assert.equal(clean.threw, null);
  const writes = clean.io.writes;
  const syncs = clean.io.syncs;
  closeWithFault(image, path.join(root, 'untrimmed'), null, false);
  const untrimmedBytes = fs.statSync(path.join(root, 'untrimmed', 'data.redb')).size;
  const trimmedBytes = fs.statSync(path.join(root, 'clean', 'data.redb')).size;
  t.diagnostic(`close makes ${writes} writes and ${syncs} fdatasyncs; page file ${untrimmedBytes} bytes untrimmed, ${trimmedBytes} trimmed`);
  assert.ok(trimmedBytes < untrimmedBytes * 0.85, 'the fault-free close did not trim: the faults below would prove nothing about the trim');
  assertRecovered(path.join(root, 'clean'), expected, false, 'no fault');

  // Every fdatasync, and the writes where the order matters: the first ones (the clean checkpoint's
  // blocks and slots) and the last ones (the trim's freelist, both slots, the truncate); of the
  // moved blocks' writes between them, which are all alike, every 25th.
  const plans: FaultPlan[] = [];
  for (let nth = 1; nth <= writes; nth++) if (nth <= 8 || nth > writes - 10 || nth % 25 === 0) plans.push({ op: 'write', nth, kind: 'torn' });
  for (let nth = 1; nth <= syncs; nth++) plans.push({ op: 'sync', nth, kind: 'EIO' });
  for (const plan of plans) {
    const where = `crash at ${plan.op} ${plan.nth}`;
    const dir = path.join(root, `${plan.op}-${plan.nth}`);
    const { io, threw } = closeWithFault(image, dir, plan);
    assert.equal(io.fired >= 1, true, `${where}: the fault did not fire`);
    if (threw !== null) assert.ok(threw instanceof RedbError, `${where}: close threw ${String(threw)}`);
    assertRecovered(dir, expected, plan.kind === 'torn', where);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
