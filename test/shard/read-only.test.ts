/**
 * Issue 12: `readOnly: true` opens a consistent snapshot (latest checkpoint plus the WAL replayed in
 * memory) without the writer lock and without writing a byte, beside a process that keeps writing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Database, ErrorCode, ReadOnlyError, RedbManager, ValidationError } from '../../src/index.js';
import { enc, tmpDir } from '../support/tmp.js';
import { childArgs } from '../support/child-script.js';

const WRITER = path.join(import.meta.dirname, '..', 'support', 'busy-writer-child.ts');
const REPO = path.join(import.meta.dirname, '..', '..');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('a read-only open refuses every write and maintenance call with ReadOnlyError and writes nothing', async (t) => {
  const dir = tmpDir(t, 'ro');
  const db = Database.open(dir);
  db.write((tx) => tx.put(enc('a'), enc('1')));
  db.table('side').write((tx) => tx.put(enc('b'), enc('2')));
  // Left unclosed, like a crashed writer: the read-only open replays the WAL in memory only.
  db.write((tx) => tx.put(enc('c'), enc('3')));
  const walBefore = fs.readdirSync(path.join(dir, 'wal')).map((f) => [f, fs.statSync(path.join(dir, 'wal', f)).size]);
  const dataBefore = fs.statSync(path.join(dir, 'data.redb'));
  const ro = Database.open(dir, { readOnly: true });
  assert.equal(ro.readOnly, true);
  assert.equal(ro.get(enc('c'))?.toString(), '3');
  assert.equal(ro.table('side').get(enc('b'))?.toString(), '2');
  assert.deepEqual([...ro.range()].map((e) => e.key.toString()), ['a', 'c']);
  const calls: [string, () => unknown][] = [
    ['write', () => ro.write((tx) => tx.put(enc('x'), enc('y')))],
    ['table write', () => ro.table('side').write((tx) => tx.put(enc('x'), enc('y')))],
    ['checkpoint', () => ro.checkpoint()],
    ['compact', () => ro.compact()],
    ['verify', () => ro.verify()],
    ['rekey', () => ro.rekey()],
  ];
  for (const [name, call] of calls) {
    assert.throws(call, (err: unknown) => err instanceof ReadOnlyError && err.code === ErrorCode.ReadOnly && /opened read-only/.test(err.message), name);
  }
  await assert.rejects(ro.writeAsync((tx) => tx.put(enc('x'), enc('y'))), ReadOnlyError);
  ro.close();
  const walAfter = fs.readdirSync(path.join(dir, 'wal')).map((f) => [f, fs.statSync(path.join(dir, 'wal', f)).size]);
  assert.deepEqual(walAfter, walBefore);
  const dataAfter = fs.statSync(path.join(dir, 'data.redb'));
  assert.equal(dataAfter.mtimeMs, dataBefore.mtimeMs);
  assert.equal(dataAfter.size, dataBefore.size);
  db.close();
  assert.throws(() => Database.open(path.join(dir, 'missing'), { readOnly: true }), ValidationError);
  assert.ok(!fs.existsSync(path.join(dir, 'missing')));
});

test('read-only opens beside a live writer see a prefix of its commits and change no file', { timeout: 60_000 }, async (t) => {
  const dir = tmpDir(t, 'ro-live');
  const child = spawn(process.execPath, childArgs(WRITER, dir), { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let acked = 0;
  let pending = '';
  child.stdout.on('data', (d: Buffer) => {
    pending += d.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const l = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (l.startsWith('ack ')) acked = Math.max(acked, Number(l.slice(4)));
    }
  });
  while (acked < 200) {
    assert.equal(child.exitCode, null, `the writer died: ${stderr}`);
    await sleep(20);
  }
  const lockBefore = fs.readdirSync(dir).filter((n) => n.startsWith('lock'));
  let opens = 0;
  for (let round = 0; round < 12; round++) {
    const ackedBefore = acked;
    const ro = Database.open(dir, { readOnly: true });
    opens++;
    // Every commit acknowledged before the open is in the snapshot...
    const markers = [...ro.range({ gte: enc('c'), lt: enc('d') })].map((e) => Number(e.key.toString().slice(1)));
    assert.ok(markers.length >= ackedBefore, `the snapshot holds ${markers.length} commits, but ${ackedBefore} were acknowledged before the open`);
    // ...and it is a prefix: commits 1..n with none missing.
    markers.forEach((m, i) => assert.equal(m, i + 1, `commit ${i + 1} is missing while commit ${markers[markers.length - 1]} is present`));
    assert.equal(ro.count() >= markers.length, true);
    for (const m of [1, Math.ceil(markers.length / 2), markers.length]) {
      assert.ok(ro.get(enc(`c${String(m).padStart(8, '0')}`))?.toString().startsWith(`${m}:`));
    }
    // Reads keep working while the writer checkpoints, recycles blocks and rotates segments.
    await sleep(60);
    assert.ok(ro.get(enc('c00000001'))?.toString().startsWith('1:'));
    assert.equal(ro.stats().durableTxn, ro.recovery.lastTxn);
    ro.close();
    // The writer's lock files are the writer's: the reader made none.
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('lock')), lockBefore);
  }
  assert.equal(opens, 12);
  assert.equal(child.exitCode, null, `the writer died while being read: ${stderr}`);
});

test('a read-only store open beside a writing RedbManager reads its data and takes no lock', async (t) => {
  const baseDir = tmpDir(t, 'ro-manager');
  const m = RedbManager.open({ baseDir, shardingEnabled: true, shardCount: 2, checksumVerification: false });
  t.after(() => m.close());
  m.writeBatch([
    { tenantId: 'acme', key: enc('k'), value: enc('v1') },
    { tenantId: 'globex', key: enc('k'), value: enc('v2') },
  ]);
  const ro = RedbManager.open({ baseDir, shardingEnabled: true, shardCount: 2, readOnly: true });
  assert.equal(ro.shard('acme').get(enc('k'))?.toString(), 'v1');
  assert.equal(ro.shard('globex').get(enc('k'))?.toString(), 'v2');
  assert.throws(() => ro.writeBatch([{ tenantId: 'acme', key: enc('k'), value: enc('x') }]), ReadOnlyError);
  assert.throws(() => ro.checkpoint(), ReadOnlyError);
  await assert.rejects(ro.backup(path.join(baseDir, '..', 'nope')), ReadOnlyError);
  ro.close();
  // The writer still holds its lock and writes on.
  m.writeBatch([{ tenantId: 'acme', key: enc('k2'), value: enc('v3') }]);
  assert.equal(m.shard('acme').get(enc('k2'))?.toString(), 'v3');
});
