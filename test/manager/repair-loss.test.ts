/**
 * Repairs that lose data say so, exactly, and keep saying so: a writer killed with SIGKILL leaves
 * its commits in the WAL; damage is then put under them, and what the store's automatic repair (or
 * RedbManager.repair) makes of it is checked against what the child acknowledged.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ClosedError, CorruptionError, Database, RedbManager } from '../../src/index.js';
import { repairShard } from '../../src/shard/maintenance/repair.js';
import { LOSS_HISTORY_NAME } from '../../src/manager/loss-history.js';
import { mapPageFile, mapWal } from '../support/corruption-harness.js';
import { tmpDir } from '../support/tmp.js';
import { childArgs } from '../support/child-script.js';

const CHILD = path.join(import.meta.dirname, '..', 'support', 'commit-then-die-child.ts');
const OPTIONS = { shardCount: 1, checkpointIntervalMs: 0, checkpointWalBytes: 1 << 30, memtableBytes: 1 << 30 };
const key = (i: number): Buffer => Buffer.from(`k/${String(i).padStart(6, '0')}`);

/** Runs the child until it has acknowledged `count` commits, then kills it with SIGKILL. */
async function commitThenKill(baseDir: string, count: number, checkpointAfter?: number): Promise<void> {
  const args = childArgs(CHILD, baseDir, 'manager', String(count), ...(checkpointAfter === undefined ? [] : [String(checkpointAfter)]));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, sig) => resolve(sig)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (out.includes(`done ${count}`)) resolve();
    });
    child.on('close', () => reject(new Error(`the child ended before acknowledging ${count} commits: ${out}`)));
  });
  child.kill('SIGKILL');
  assert.equal(await closed, 'SIGKILL');
}

function flipByte(file: string, at: number, mask = 0x10): void {
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0]! ^= mask;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
}

const shardDir = (base: string): string => path.join(base, 'shards', '000');

test('a flipped byte mid-WAL: auto-repair counts the lost commits exactly, and health reports them until acknowledged, across reopens and a later clean repair', async (t) => {
  const base = tmpDir(t, 'midwal');
  await commitThenKill(base, 600);
  const records = mapWal(path.join(shardDir(base), 'wal'), { segment: 1, offset: 4096 });
  assert.equal(records.length, 600);
  const bad = records[224]!;
  assert.equal(bad.txn, 225);
  flipByte(bad.file, bad.start + 40);
  assert.throws(() => Database.open(shardDir(base)), CorruptionError);

  let m = RedbManager.open({ baseDir: base, ...OPTIONS });
  const opened = m.openReport.shards[0]!;
  const r = opened.repaired!;
  assert.equal(r.status, 'repaired');
  assert.equal(r.walCommitsReplayed, 224);
  assert.deepEqual(r.replayedTxns, { first: 1, last: 224 });
  assert.equal(r.lostCommits, 376);
  assert.deepEqual(r.lostTxns, { first: 225, last: 600 });
  assert.equal(r.intactRecordsPastDamage, 375);
  assert.equal(opened.recovery!.lostCommits, 376);
  assert.deepEqual(opened.recovery!.lostTxns, { first: 225, last: 600 });
  assert.equal(m.shardAt(0).get(key(224))?.toString(), 'v224');
  assert.equal(m.shardAt(0).get(key(225)), undefined);

  const assertDegraded = (mgr: RedbManager): void => {
    const h = mgr.health().shards[0]!;
    assert.equal(h.status === 'healthy', false);
    assert.equal(h.lostCommits, 376);
    assert.match(h.problems.join('\n'), /lost 376 acknowledged commit\(s\) \(txns 225\.\.600\)/);
    assert.match(mgr.metrics(), /^redb_lost_commits\{shard="0"\} 376$/m);
  };
  assertDegraded(m);
  m.close();

  m = RedbManager.open({ baseDir: base, ...OPTIONS });
  assert.equal(m.openReport.shards[0]!.repaired, null);
  assertDegraded(m);
  // A later repair that finds nothing wrong does not wipe the history.
  const again = m.repair();
  assert.equal(again[0]!.status, 'clean');
  assert.equal(again[0]!.lostCommits, 0);
  assertDegraded(m);
  assert.equal(m.lossHistory().length, 1);

  assert.equal(m.acknowledgeLoss(0), 1);
  const h = m.health().shards[0]!;
  assert.equal(h.lostCommits, 0);
  assert.doesNotMatch(h.problems.join('\n'), /lost/);
  assert.match(m.metrics(), /^redb_lost_commits\{shard="0"\} 0$/m);
  m.close();

  m = RedbManager.open({ baseDir: base, ...OPTIONS });
  const history = m.lossHistory();
  assert.equal(history.length, 1);
  assert.equal(history[0]!.lostCommits, 376);
  assert.notEqual(history[0]!.acknowledgedAt, null);
  assert.equal(m.health().shards[0]!.lostCommits, 0);
  m.close();
  assert.ok(fs.existsSync(path.join(base, LOSS_HISTORY_NAME)));
});

test('a torn WAL tail (a crash mid-append, never acknowledged) is cut without counting a loss', async (t) => {
  const base = tmpDir(t, 'torn');
  await commitThenKill(base, 50);
  const records = mapWal(path.join(shardDir(base), 'wal'), { segment: 1, offset: 4096 });
  const last = records[records.length - 1]!;
  // What a crash while appending the last record leaves: its second half never reached the disk.
  const fd = fs.openSync(last.file, 'r+');
  const half = Math.floor(last.length / 2);
  fs.writeSync(fd, Buffer.alloc(last.length - half), 0, last.length - half, last.start + half);
  fs.closeSync(fd);
  const m = RedbManager.open({ baseDir: base, ...OPTIONS });
  const opened = m.openReport.shards[0]!;
  assert.equal(opened.repaired, null);
  assert.equal(opened.recovery!.lostCommits, 0);
  assert.equal(opened.recovery!.lostTxns, null);
  assert.notEqual(opened.recovery!.tornTail, null);
  assert.equal(m.shardAt(0).get(key(49))?.toString(), 'v49');
  assert.equal(m.shardAt(0).get(key(50)), undefined);
  assert.equal(m.health().shards[0]!.lostCommits, 0);
  assert.deepEqual(m.lossHistory(), []);
  m.close();
});

/** Damages both header slots of a shard's page file. */
function damageBothSlots(dir: string): void {
  const data = path.join(dir, 'data.redb');
  flipByte(data, 30);
  flipByte(data, 4096 + 30);
}

test('with both header slots damaged, a shard whose WAL reaches back to its creation is rebuilt from it', async (t) => {
  const base = tmpDir(t, 'slots-wal');
  await commitThenKill(base, 300);
  damageBothSlots(shardDir(base));
  assert.throws(() => Database.open(shardDir(base)), CorruptionError);
  const m = RedbManager.open({ baseDir: base, ...OPTIONS });
  const r = m.openReport.shards[0]!.repaired!;
  assert.equal(r.status, 'repaired');
  assert.equal(r.rebuiltFromWal, true);
  assert.equal(r.walCommitsReplayed, 300);
  assert.equal(r.lostCommits, 0);
  const db = m.shardAt(0);
  assert.equal(db.count(), 300);
  for (let i = 1; i <= 300; i++) assert.equal(db.get(key(i))?.toString(), `v${i}`);
  assert.ok(db.verify().ok);
  assert.deepEqual(m.lossHistory(), []);
  m.close();
});

test('with both header slots damaged and the WAL no longer reaching back, repair refuses and leaves the shard as it was', async (t) => {
  const base = tmpDir(t, 'slots-refuse');
  // A first session closed cleanly: its WAL is gone, its commits live only in the page file.
  const first = RedbManager.open({ baseDir: base, ...OPTIONS });
  first.shardAt(0).write((tx) => tx.put(Buffer.from('early'), Buffer.from('x')));
  first.close();
  await commitThenKill(base, 100);
  const dir = shardDir(base);
  damageBothSlots(dir);
  const before = fs.readFileSync(path.join(dir, 'data.redb'));
  assert.throws(() => RedbManager.open({ baseDir: base, ...OPTIONS }), (err: unknown) => err instanceof CorruptionError && /refused/.test(err.message));
  // Nothing was rebuilt empty in its place, nothing was moved aside.
  assert.deepEqual(fs.readFileSync(path.join(dir, 'data.redb')), before);
  assert.deepEqual(
    fs.readdirSync(path.join(base, 'shards')).filter((n) => n !== '000'),
    [],
  );
  const report = repairShard(dir, { checkpointIntervalMs: 0 });
  assert.equal(report.status, 'unrecoverable');
  assert.match(report.problems.join('\n'), /WAL no longer reaches back/);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'data.redb')), before);
});

/**
 * A store whose trees are larger than its cache, checkpointed, with commits to every third key waiting
 * in the memtable, and damage put under them: folding (which close does) must read damaged leaves.
 */
function storeWithDamageUnderMemtable(base: string): { m: RedbManager; updated: number[] } {
  const options = { baseDir: base, ...OPTIONS, cacheSizeBytes: 1 << 20, compression: 'none' as const };
  let m = RedbManager.open(options);
  m.shardAt(0).write((tx) => {
    for (let i = 0; i < 30_000; i++) tx.put(key(i), Buffer.alloc(100, i % 251));
  });
  // A clean close and reopen: the trees are on disk, the cache starts cold, and WAL segment 1 is gone.
  m.close();
  m = RedbManager.open(options);
  const updated: number[] = [];
  m.shardAt(0).write((tx) => {
    for (let i = 0; i < 30_000; i += 3) {
      tx.put(key(i), Buffer.from(`new ${i}`));
      updated.push(i);
    }
  });
  const data = path.join(shardDir(base), 'data.redb');
  const leaves = mapPageFile(data).blocks.filter((b) => b.kind === 'leaf');
  assert.ok(leaves.length > 40);
  for (let i = 5; i < leaves.length; i += 17) flipByte(data, leaves[i]!.offset + 30);
  return { m, updated };
}

test('repair() reports damage under commits not yet checkpointed instead of throwing, and leaves the store open', (t) => {
  const base = tmpDir(t, 'uncheckpointed');
  const { m, updated } = storeWithDamageUnderMemtable(base);
  let reports;
  try {
    reports = m.repair();
  } catch (err) {
    assert.fail(`repair threw: ${(err as Error).message}`);
  }
  assert.equal(m.isClosed, false);
  const r = reports[0]!;
  assert.equal(r.status, 'repaired');
  assert.match(r.problems.join('\n'), /closing the shard for repair failed/);
  assert.equal(r.lostCommits, 0, 'the WAL was intact: the commit after the checkpoint was replayed');
  assert.equal(r.walCommitsReplayed, 1);
  const after = m.shardAt(0);
  for (const i of updated) assert.equal(after.get(key(i))?.toString(), `new ${i}`);
  assert.ok(after.verify().ok);
  // The damaged leaves' other keys are lost, and said to be.
  assert.ok(r.lostRanges.length > 0);
  assert.equal(m.health().shards[0]!.problems.some((p) => /key range/.test(p)), true);
  assert.doesNotThrow(() => m.close());
  // The lock was released: the store opens again.
  RedbManager.open({ baseDir: base, ...OPTIONS }).close();
});

test('a repair that cannot reopen a shard leaves the store fully closed, never half open', (t) => {
  const base = tmpDir(t, 'half-open');
  const { m } = storeWithDamageUnderMemtable(base);
  // Both header slots too: no checkpoint can be read, and the WAL no longer reaches back to creation.
  damageBothSlots(shardDir(base));
  const reports = m.repair();
  assert.equal(reports[0]!.status, 'unrecoverable');
  assert.match(reports[0]!.problems.join('\n'), /repair refused/);
  assert.equal(m.isClosed, true);
  assert.throws(() => m.shardAt(0), ClosedError);
  assert.doesNotThrow(() => m.close());
  // The store's lock was released with it: the next open gets past the lock to the damage.
  assert.throws(() => RedbManager.open({ baseDir: base, ...OPTIONS }), (err: unknown) => err instanceof CorruptionError && /refused/.test(err.message));
});
