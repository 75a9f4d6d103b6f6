import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  closeRedbManager,
  EncryptionKeyError,
  getRedbManager,
  initRedbManager,
  PartialCommitError,
  RedbManager,
  ValidationError,
} from '../../src/index.js';
import { fnv1a64, routeTenant } from '../../src/manager/routing.js';
import { FaultyFileIO } from '../support/fault-file-io.js';
import { enc, tmpDir } from '../support/tmp.js';

test('invalid options are refused with ValidationError naming the option and its range', (t) => {
  const baseDir = tmpDir(t);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ shardingEnabled: true, shardCount: 0 }, /shardCount must be an integer from 1 to 256/],
    [{ shardingEnabled: true, shardCount: 300 }, /shardCount must be an integer from 1 to 256/],
    [{ shardCount: 4 }, /shardCount is 4 but shardingEnabled is false/],
    [{ encryptionEnabled: true }, /encryptionEnabled is true but no encryptionKey/],
    [{ encryptionKey: crypto.randomBytes(32) }, /encryptionKey is given but encryptionEnabled is false/],
    [{ compressionLevel: 25 }, /compressionLevel must be an integer from 1 to 19/],
    [{ durability: 'eventually' }, /durability must be/],
    [{ autoRecovery: 'yes' }, /autoRecovery must be true or false/],
    [{ memtableBytes: 1024 }, /memtableBytes must be an integer from 65536/],
    [{ pageSize: 100 }, /pageSize must be an integer from 512 to 65536/],
    [{ shardCnt: 2 }, /unknown option shardCnt/],
  ];
  for (const [o, msg] of cases) assert.throws(() => RedbManager.open({ baseDir, ...o } as never), (e: unknown) => e instanceof ValidationError && msg.test(e.message), JSON.stringify(o));
  assert.deepEqual(fs.readdirSync(baseDir), [], 'nothing was written');
});

test('memtableBytes is shared among the shards: a small total makes every shard checkpoint on its own', (t) => {
  const manager = RedbManager.open({ baseDir: tmpDir(t), shardingEnabled: true, shardCount: 2, memtableBytes: 256 * 1024, checkpointIntervalMs: 0 });
  t.after(() => manager.close());
  const value = Buffer.alloc(100, 7);
  for (const tenant of ['a', 'b']) {
    const shard = manager.shard(tenant);
    const before = shard.stats().checkpoints;
    // 128 KiB per shard: 30 commits of 100 puts of 100-byte values are several times that.
    for (let c = 0; c < 30; c++) shard.write((tx) => {
      for (let i = 0; i < 100; i++) tx.put(enc(`${tenant}-${c}-${i}`), value);
    });
    assert.ok(shard.stats().checkpoints > before, `shard of tenant ${tenant} checkpointed on its own`);
    assert.equal(shard.count(), 3000);
  }
});

/** Modification times and sizes of every file below `dir`. */
function fileStates(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map((f) => path.join(dir, f))
    .filter((p) => fs.statSync(p).isFile())
    .map((p) => `${p}:${fs.statSync(p).size}:${fs.statSync(p).mtimeMs}`)
    .sort();
}

test('reopening with another shard count or a wrong key fails before anything is written', (t) => {
  const baseDir = tmpDir(t);
  const key = crypto.randomBytes(32);
  const m = RedbManager.open({ baseDir, shardingEnabled: true, shardCount: 4, encryptionEnabled: true, encryptionKey: key });
  m.writeBatch([{ tenantId: 't1', key: enc('k'), value: enc('v') }]);
  m.close();
  const before = fileStates(baseDir);
  assert.throws(() => RedbManager.open({ baseDir, shardingEnabled: true, shardCount: 8, encryptionEnabled: true, encryptionKey: key }), /has 4 shard\(s\) but the options ask for 8/);
  assert.throws(() => RedbManager.open({ baseDir, shardingEnabled: true, shardCount: 4, encryptionEnabled: true, encryptionKey: crypto.randomBytes(32) }), EncryptionKeyError);
  assert.throws(() => RedbManager.open({ baseDir, shardingEnabled: true, shardCount: 4 }), /is encrypted/);
  assert.deepEqual(fileStates(baseDir), before);
  const again = RedbManager.open({ baseDir, shardingEnabled: true, shardCount: 4, encryptionEnabled: true, encryptionKey: key });
  assert.equal(again.shard('t1').get(enc('k'))?.toString(), 'v');
  again.close();
});

test('the singleton is shared, refuses different options, and can be reopened after close', (t) => {
  const baseDir = tmpDir(t);
  assert.throws(() => getRedbManager(), /not initialised/);
  const a = initRedbManager({ baseDir });
  assert.equal(initRedbManager({ baseDir }), a);
  assert.equal(getRedbManager(), a);
  assert.throws(() => initRedbManager({ baseDir, compressionLevel: 9 }), /already initialised/);
  closeRedbManager();
  assert.ok(a.isClosed);
  assert.throws(() => getRedbManager(), /not initialised/);
  const b = initRedbManager({ baseDir, compressionLevel: 9 });
  assert.notEqual(b, a);
  closeRedbManager();
});

test('tenant routing follows the documented vectors, spreads evenly and is stable across instances', (t) => {
  // Vectors quoted in docs/format.md.
  assert.equal(fnv1a64(Buffer.from('')).toString(16), 'cbf29ce484222325');
  assert.equal(fnv1a64(Buffer.from('tenant-a')).toString(16), 'c2ef8128e3eb9efb');
  assert.deepEqual([1, 2, 4, 8, 16, 256].map((n) => routeTenant('acme-health', n)), [0, 0, 2, 2, 13, 13]);
  assert.deepEqual([1, 2, 4, 8, 16, 256].map((n) => routeTenant('globex-pay', n)), [0, 0, 3, 6, 8, 89]);
  assert.deepEqual([1, 2, 4, 8, 16, 256].map((n) => routeTenant('ünïcødé', n)), [0, 1, 3, 5, 5, 86]);
  const counts = new Array(8).fill(0);
  for (let i = 0; i < 40_000; i++) counts[routeTenant(`tenant-${i}`, 8)]++;
  for (const c of counts) assert.ok(c > 4500 && c < 5500, `uneven spread ${counts.join(' ')}`);
  const baseDir = tmpDir(t);
  const m = RedbManager.open({ baseDir, shardingEnabled: true, shardCount: 8 });
  assert.equal(m.shardFor('acme-health'), 2);
  assert.equal(m.shard('acme-health'), m.shardAt(2));
  m.close();
});

test('a cross-tenant batch is validated whole: one bad operation writes nothing anywhere', (t) => {
  const m = RedbManager.open({ baseDir: tmpDir(t), shardingEnabled: true, shardCount: 4 });
  const ops = Array.from({ length: 20 }, (_, i) => ({ tenantId: `t${i}`, key: enc(`k${i}`), value: enc(`v${i}`) }));
  assert.throws(() => m.writeBatch([...ops, { tenantId: 't99', key: new Uint8Array(0), value: enc('x') }]), /batch operation 20: key must be 1 to 2048 bytes/);
  assert.throws(() => m.writeBatch([...ops, { tenantId: '', key: enc('k'), value: enc('x') }]), /tenantId must be a non-empty string/);
  assert.throws(() => m.writeBatch([{ tenantId: 't', key: enc('k') } as never]), /exactly one of value and delete/);
  for (let s = 0; s < 4; s++) assert.equal(m.shardAt(s).stats().txn, 0);
  const result = m.writeBatch(ops);
  assert.equal(result.shards.reduce((n, s) => n + s.ops, 0), 20);
  for (const op of ops) assert.equal(m.shard(op.tenantId).get(op.key)?.toString(), op.value.toString());
  m.writeBatch([{ tenantId: 't3', key: enc('k3'), delete: true }]);
  assert.equal(m.shard('t3').get(enc('k3')), undefined);
  m.close();
});

test('when one shard of a batch fails, PartialCommitError says which parts committed', async (t) => {
  const io = new FaultyFileIO();
  const m = RedbManager.open({ baseDir: tmpDir(t), shardingEnabled: true, shardCount: 4, io, checksumVerification: false });
  const ops = Array.from({ length: 40 }, (_, i) => ({ tenantId: `t${i}`, key: enc(`k${i}`), value: enc(`v${i}`) }));
  const shards = [...new Set(ops.map((o) => m.shardFor(o.tenantId)))].sort();
  // The first shard's commit makes one fsync; fail the second shard's.
  io.arm({ op: 'sync', nth: 2, kind: 'EIO' });
  try {
    m.writeBatch(ops);
    assert.fail('expected a PartialCommitError');
  } catch (err) {
    assert.ok(err instanceof PartialCommitError, String(err));
    assert.deepEqual(err.committedShards, [shards[0]]);
    assert.deepEqual(err.failedShards, [shards[1]]);
    assert.deepEqual(err.notAttemptedShards, shards.slice(2));
    assert.equal(err.code, 'REDB_PARTIAL_COMMIT');
  }
  io.arm(null);
  for (const op of ops) {
    const s = m.shardFor(op.tenantId);
    assert.equal(m.shardAt(s).get(op.key)?.toString(), s === shards[0] ? op.value.toString() : undefined);
  }
  // Retrying the rest (asynchronously this time) completes the batch.
  await m.writeBatchAsync(ops.filter((o) => m.shardFor(o.tenantId) !== shards[0]));
  for (const op of ops) assert.equal(m.shard(op.tenantId).get(op.key)?.toString(), op.value.toString());
  m.close();
});

/** A strict reader of the Prometheus text format: every sample belongs to a declared family. */
function parseExposition(text: string): Map<string, { type: string; samples: { labels: Record<string, string>; value: number }[] }> {
  const families = new Map<string, { type: string; help: boolean; samples: { labels: Record<string, string>; value: number }[] }>();
  assert.ok(text.endsWith('\n'));
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line))) {
      families.set(m[1]!, { type: '', help: true, samples: [] });
    } else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      const f = families.get(m[1]!);
      assert.ok(f && f.samples.length === 0, `TYPE for ${m[1]} must follow its HELP and precede its samples`);
      f.type = m[2]!;
    } else if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\} (-?[0-9.e+]+|NaN|[+-]Inf)$/.exec(line))) {
      const f = families.get(m[1]!);
      assert.ok(f?.type, `sample of undeclared family: ${line}`);
      const labels = Object.fromEntries([...m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
      const value = Number(m[3]!.replace('Inf', 'Infinity'));
      if (f.type === 'counter') assert.ok(m[1]!.endsWith('_total') && value >= 0, line);
      f.samples.push({ labels, value });
    } else {
      assert.fail(`not exposition format: ${JSON.stringify(line)}`);
    }
  }
  return families;
}

test('metrics are valid Prometheus text exposition with per-shard series', (t) => {
  const m = RedbManager.open({ baseDir: tmpDir(t), shardingEnabled: true, shardCount: 3 });
  m.writeBatch(Array.from({ length: 30 }, (_, i) => ({ tenantId: `t${i}`, table: 'events', key: enc(`k${i}`), value: enc('v') })));
  m.checkpoint();
  const families = parseExposition(m.metrics());
  for (const name of ['redb_commits_total', 'redb_wal_bytes_written_total', 'redb_page_bytes_read_total', 'redb_cache_hits_total', 'redb_checkpoints_total', 'redb_checkpoint_seconds_total', 'redb_wal_bytes', 'redb_compression_ratio', 'redb_health']) {
    const f = families.get(name);
    assert.ok(f, `${name} is missing`);
    assert.deepEqual(f.samples.map((s) => s.labels.shard).sort(), ['0', '1', '2']);
  }
  // The batch committed once in every shard it touched.
  const touched = new Set(Array.from({ length: 30 }, (_, i) => m.shardFor(`t${i}`))).size;
  assert.equal(families.get('redb_commits_total')!.samples.reduce((n, s) => n + s.value, 0), touched);
  assert.ok(families.get('redb_checkpoints_total')!.samples.every((s) => s.value >= 1));
  const tableSum = (family: string): number => families.get(family)!.samples.filter((s) => s.labels.table === 'events').reduce((n, s) => n + s.value, 0);
  assert.equal(tableSum('redb_folded_entries'), 30);
  assert.equal(tableSum('redb_pending_writes'), 0);
  m.close();
});

test('health is healthy, then unhealthy with a named problem once verify finds damage', (t) => {
  const baseDir = tmpDir(t);
  const m = RedbManager.open({ baseDir, shardingEnabled: true, shardCount: 2, compression: 'none' });
  m.shardAt(1).write((tx) => {
    for (let i = 0; i < 200; i++) tx.put(enc(`k${i}`), enc(`value ${i}`));
  });
  m.checkpoint();
  const h = m.health();
  assert.equal(h.status, 'healthy');
  assert.equal(h.shards.length, 2);
  assert.ok(h.shards.every((s) => s.open && s.diskFreeBytes > 0 && s.lastVerify?.ok));
  // Damage a block of shard 1 under the running store, then verify.
  const data = path.join(baseDir, 'shards', '001', 'data.redb');
  const bytes = fs.readFileSync(data);
  bytes[8192 + 100]! ^= 0xff;
  fs.writeFileSync(data, bytes);
  assert.equal(m.verify().ok, false);
  const after = m.health();
  assert.equal(after.status, 'unhealthy');
  assert.equal(after.shards[0]!.status, 'healthy');
  assert.match(after.shards[1]!.problems.join(' '), /verify found \d+ problem/);
  m.close();
});

test('health() leaves the entry counts of commits not yet checkpointed uncounted; stats() counts them, unless asked not to', (t) => {
  const m = RedbManager.open({ baseDir: tmpDir(t), checkpointIntervalMs: 0 });
  t.after(() => m.close());
  const db = m.shardAt(0);
  for (let c = 0; c < 20; c++) {
    db.write((tx) => {
      for (let i = 0; i < 50; i++) tx.put(enc(`k${c}-${i}`), enc(`v${i}`));
    });
  }
  // How far the memtable has counted its commits (private: counting has no other sign but time).
  const counted = (): number => (db as unknown as { core: { latest: { tables: Map<string, { mem: { sums: number[] } | null }> } } }).core.latest.tables.get('default')!.mem!.sums.length;
  assert.equal(counted(), 0);
  assert.equal(m.health().status, 'healthy');
  assert.equal(counted(), 0, 'health() counted the memtable');
  const cheap = db.stats({ tables: false });
  assert.deepEqual(cheap.tables, []);
  assert.equal(cheap.txn, db.stats().txn);
  assert.equal(counted(), 20, 'stats() counts every commit');
  assert.deepEqual(db.stats().tables, [{ name: 'default', entries: 1000 }]);
  // The cheap per-table figures: nothing folded yet, every write pending.
  assert.deepEqual(cheap.trees, [{ name: 'default', foldedEntries: 0, pendingWrites: 1000 }]);
  for (const bad of [{ tables: 'no' }, { table: false }, 'tables', null]) {
    assert.throws(() => db.stats(bad as never), (e: unknown) => e instanceof ValidationError && /stats option|stats options/.test(e.message), JSON.stringify(bad));
  }
});

test('a metrics scrape counts no entries: it reports the writes pending since the last checkpoint, then the entries a checkpoint folded', (t) => {
  const m = RedbManager.open({ baseDir: tmpDir(t), checkpointIntervalMs: 0 });
  t.after(() => m.close());
  const db = m.shardAt(0);
  for (let c = 0; c < 10; c++) {
    db.write((tx) => {
      // Half the keys of each commit are rewritten by the next: pending writes count versions.
      for (let i = 0; i < 40; i++) tx.put(enc(`k${c * 20 + i}`), enc(`v${c}`));
    });
  }
  const counted = (): number => (db as unknown as { core: { latest: { tables: Map<string, { mem: { sums: number[] } | null }> } } }).core.latest.tables.get('default')!.mem!.sums.length;
  const sample = (text: string, family: string): number => {
    const f = parseExposition(text).get(family);
    assert.ok(f, `${family} is missing`);
    return f.samples.filter((s) => s.labels.table === 'default').reduce((n, s) => n + s.value, 0);
  };
  const before = m.metrics();
  assert.equal(counted(), 0, 'metrics() counted the memtable');
  assert.equal(sample(before, 'redb_pending_writes'), 400);
  assert.equal(sample(before, 'redb_folded_entries'), 0);
  m.checkpoint();
  const after = m.metrics();
  assert.equal(sample(after, 'redb_pending_writes'), 0);
  assert.equal(sample(after, 'redb_folded_entries'), 220);
  assert.equal(db.count(), 220);
});
