import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  BackupCorruptionError,
  EncryptionKeyError,
  LockedError,
  RedbManager,
  ValidationError,
  type Database,
  type RedbOptions,
} from '../../src/index.js';
import { IndexBuilder, IndexView, RANGE_KIND } from '../../src/backup/backup-index.js';
import { dirBytes, enc, tmpDir } from '../support/tmp.js';

/** One operation as a commit applied it: a put (value) or a delete (value null). */
type Op = { table: string; key: string; value: string | null };
/** Per table, key → value: what a shard holds. */
type Contents = Map<string, Map<string, string>>;

const eventKey = (i: number): string => `event/${String(i).padStart(8, '0')}`;
/** Mostly small values; every 97th is large enough to be stored out of line (and deduplicated). */
const eventValue = (i: number, tag = ''): string => (i % 97 === 0 ? `${tag}big-${i}-`.repeat(250) : `${tag}value-${i}`);

function apply(contents: Contents, ops: readonly Op[]): void {
  for (const op of ops) {
    let t = contents.get(op.table);
    if (!t) contents.set(op.table, (t = new Map()));
    if (op.value === null) t.delete(op.key);
    else t.set(op.key, op.value);
  }
  for (const [name, t] of contents) if (t.size === 0) contents.delete(name);
}

function commit(db: Database, ops: readonly Op[]): void {
  db.write((tx) => {
    for (const op of ops) {
      const t = op.table === 'default' ? tx : tx.table(op.table);
      if (op.value === null) t.delete(enc(op.key));
      else t.put(enc(op.key), enc(op.value));
    }
  });
}

/** Everything a shard holds, read back through its public API. */
function dump(db: Database): Contents {
  const out: Contents = new Map();
  for (const name of db.tableNames()) {
    const t = new Map<string, string>();
    for (const { key, value } of db.table(name).range()) t.set(key.toString('utf8'), value.toString('utf8'));
    if (t.size > 0) out.set(name, t);
  }
  return out;
}

/** Small nodes, so that a few thousand entries make trees of many blocks for a backup to skip or copy. */
function storeOptions(baseDir: string, extra: RedbOptions = {}): RedbOptions {
  return { baseDir, shardingEnabled: true, shardCount: 3, checkpointIntervalMs: 0, pageSize: 4096, ...extra };
}

/** Puts `count` events from `from` into the default and `audit` tables of every shard. */
function preload(m: RedbManager, models: Contents[], from: number, count: number, tag = ''): void {
  for (let s = 0; s < m.shardCount; s++) {
    const ops: Op[] = [];
    for (let i = from; i < from + count; i++) {
      ops.push({ table: 'default', key: eventKey(i), value: eventValue(i, tag) });
      if (i % 4 === 0) ops.push({ table: 'audit', key: eventKey(i), value: `actor-${i % 13}` });
    }
    commit(m.shardAt(s), ops);
    apply(models[s]!, ops);
  }
}

function assertRestored(dir: string, expected: readonly Contents[], txns: readonly number[], extra: RedbOptions = {}): void {
  const m = RedbManager.open(storeOptions(dir, extra));
  try {
    assert.ok(m.verify().ok, 'the restored store does not verify clean');
    for (let s = 0; s < m.shardCount; s++) {
      assert.equal(m.shardAt(s).recovery.lastTxn, txns[s], `shard ${s} came back at another transaction`);
      assert.deepEqual(dump(m.shardAt(s)), expected[s], `shard ${s} holds other contents than were committed up to txn ${txns[s]}`);
    }
  } finally {
    m.close();
  }
}

function allFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

test('a backup taken during a stream of writes on every shard restores exactly the commits up to each shard`s backup txn', async (t) => {
  const storeDir = tmpDir(t, 'store');
  const out = tmpDir(t, 'backups');
  const m = RedbManager.open(storeOptions(storeDir));
  // Every commit of every shard, with its txn: the backup's per-shard txn says where the cut is.
  const history: { txn: number; ops: Op[] }[][] = [[], [], []];
  const base: Contents[] = [new Map(), new Map(), new Map()];
  preload(m, base, 0, 12_000);
  const baseTxns = Array.from({ length: 3 }, (_, s) => m.shardAt(s).stats().txn);
  let stop = false;
  const writers = Array.from({ length: 3 }, async (_, s) => {
    const db = m.shardAt(s);
    for (let n = 0; !stop; n++) {
      const ops: Op[] = [
        { table: 'default', key: eventKey(100_000 + n), value: eventValue(n, 'stream-') },
        { table: 'default', key: eventKey((n * 7919) % 12_000), value: `updated-${n}` },
        { table: 'audit', key: eventKey((n * 104_729) % 12_000), value: null },
        { table: 'events', key: `s${s}-${n}`, value: eventValue(n + 1, 'e-') },
      ];
      const done = db.writeAsync((tx) => {
        for (const op of ops) {
          const table = op.table === 'default' ? tx : tx.table(op.table);
          if (op.value === null) table.delete(enc(op.key));
          else table.put(enc(op.key), enc(op.value));
        }
      });
      // writeAsync runs the callback at once: the shard's latest txn is this commit's.
      history[s]!.push({ txn: db.stats().txn, ops });
      await done;
    }
  });
  while (history.some((h) => h.length < 5)) await new Promise((resolve) => setImmediate(resolve));
  const backup = m.backup(path.join(out, 'full'));
  // A compaction while the copy runs swaps shard 0's file; the pinned checkpoint stays readable.
  setImmediate(() => m.shardAt(0).compact());
  const report = await backup;
  const committedDuring = report.shards.map((r, s) => m.shardAt(s).stats().durableTxn - r.txn);
  stop = true;
  await Promise.all(writers);
  m.close();
  assert.ok(committedDuring.every((n) => n > 0), `every shard kept committing during the backup (${committedDuring.join(', ')} commits)`);
  t.diagnostic(`backup of ${report.shards.map((r) => r.blocks).join('+')} blocks took ${report.durationMs.toFixed(0)} ms; commits meanwhile: ${committedDuring.join(', ')}`);

  const expected = base.map((contents, s) => {
    const c: Contents = new Map([...contents].map(([k, v]) => [k, new Map(v)]));
    const cut = report.shards[s]!.txn;
    assert.ok(cut >= baseTxns[s]!, 'the backup is older than the preload');
    for (const h of history[s]!) if (h.txn <= cut) apply(c, h.ops);
    return c;
  });
  const verify = RedbManager.verifyBackup(path.join(out, 'full'));
  assert.deepEqual(verify.issues, []);
  assert.equal(verify.ok, true);
  const restored = RedbManager.restore(path.join(out, 'full'), path.join(out, 'restored'));
  assert.deepEqual(restored.shards.map((s) => s.txn), report.shards.map((s) => s.txn));
  assertRestored(path.join(out, 'restored'), expected, report.shards.map((s) => s.txn));
});

test('incremental backups store only what changed, chain full + 2 incrementals, and each restores exactly', async (t) => {
  const storeDir = tmpDir(t, 'store');
  const out = tmpDir(t, 'backups');
  const m = RedbManager.open(storeOptions(storeDir));
  const models: Contents[] = [new Map(), new Map(), new Map()];
  const snapshot = (): Contents[] => models.map((c) => new Map([...c].map(([k, v]) => [k, new Map(v)])));
  preload(m, models, 0, 20_000);
  const full = await m.backup(path.join(out, 'full'));
  const atFull = snapshot();

  // An audit trail mostly appends: new events, and a few changes in one recent region.
  preload(m, models, 20_000, 300, 'second-');
  const ops: Op[] = [];
  for (let i = 19_900; i < 19_920; i++) ops.push({ table: 'default', key: eventKey(i), value: `corrected-${i}` });
  commit(m.shardAt(1), ops);
  apply(models[1]!, ops);
  const inc1 = await m.backup(path.join(out, 'inc1'), { since: path.join(out, 'full') });
  const atInc1 = snapshot();

  const dels: Op[] = [];
  for (let i = 20_000; i < 20_010; i++) dels.push({ table: 'default', key: eventKey(i), value: null });
  commit(m.shardAt(2), dels);
  apply(models[2]!, dels);
  preload(m, models, 20_300, 200, 'third-');
  const inc2 = await m.backup(path.join(out, 'inc2'), { since: path.join(out, 'inc1') });
  m.close();

  const sizes = ['full', 'inc1', 'inc2'].map((d) => dirBytes(path.join(out, d)));
  t.diagnostic(`backup sizes: full ${sizes[0]} bytes, incremental 1 ${sizes[1]} bytes, incremental 2 ${sizes[2]} bytes`);
  t.diagnostic(`blocks stored: full ${full.shards.map((s) => s.storedBlocks).join('+')}, inc1 ${inc1.shards.map((s) => s.storedBlocks).join('+')} of ${inc1.shards.map((s) => s.blocks).join('+')}, inc2 ${inc2.shards.map((s) => s.storedBlocks).join('+')}`);
  assert.equal(inc1.kind, 'incremental');
  assert.equal(inc2.base, path.join(out, 'inc1'));
  assert.ok(sizes[1]! * 5 < sizes[0]!, `incremental 1 (${sizes[1]} bytes) is not much smaller than the full backup (${sizes[0]} bytes)`);
  assert.ok(sizes[2]! * 5 < sizes[0]!, `incremental 2 (${sizes[2]} bytes) is not much smaller than the full backup (${sizes[0]} bytes)`);
  for (const s of inc2.shards) assert.ok(s.storedBytes * 5 < s.bytes, `shard ${s.shard} stored ${s.storedBytes} of ${s.bytes} bytes again`);

  const verify = RedbManager.verifyBackup(path.join(out, 'inc2'));
  assert.deepEqual(verify.issues, []);
  assert.deepEqual(verify.chain, ['inc2', 'inc1', 'full'].map((d) => path.join(out, d)));
  RedbManager.restore(path.join(out, 'inc2'), path.join(out, 'r2'));
  assertRestored(path.join(out, 'r2'), models, inc2.shards.map((s) => s.txn));
  RedbManager.restore(path.join(out, 'inc1'), path.join(out, 'r1'));
  assertRestored(path.join(out, 'r1'), atInc1, inc1.shards.map((s) => s.txn));
  RedbManager.restore(path.join(out, 'full'), path.join(out, 'r0'));
  assertRestored(path.join(out, 'r0'), atFull, full.shards.map((s) => s.txn));

  // A chain moved as a whole still resolves: bases are named relative to each other first.
  const moved = path.join(tmpDir(t, 'moved'), 'chain');
  fs.renameSync(out, moved);
  try {
    assert.deepEqual(RedbManager.verifyBackup(path.join(moved, 'inc2')).issues, []);
  } finally {
    fs.renameSync(moved, out);
  }
});

test('an incremental backup after a compaction copies the rewritten file in full and still restores exactly', async (t) => {
  const storeDir = tmpDir(t, 'store');
  const out = tmpDir(t, 'backups');
  const m = RedbManager.open(storeOptions(storeDir));
  const models: Contents[] = [new Map(), new Map(), new Map()];
  preload(m, models, 0, 5_000);
  await m.backup(path.join(out, 'full'));
  // Compaction rewrites every block at new offsets: none may be taken from the base by position.
  m.shardAt(0).compact();
  preload(m, models, 5_000, 100);
  const inc = await m.backup(path.join(out, 'inc'), { since: path.join(out, 'full') });
  m.close();
  assert.equal(inc.shards[0]!.storedBlocks, inc.shards[0]!.blocks);
  assert.ok(inc.shards[1]!.storedBlocks < inc.shards[1]!.blocks / 5);
  RedbManager.restore(path.join(out, 'inc'), path.join(out, 'r'));
  assertRestored(path.join(out, 'r'), models, inc.shards.map((s) => s.txn));
});

test('verifyBackup catches a flipped byte in any backup file of the chain and a missing base; restore refuses such a backup', async (t) => {
  const storeDir = tmpDir(t, 'store');
  const out = tmpDir(t, 'backups');
  const m = RedbManager.open(storeOptions(storeDir));
  const models: Contents[] = [new Map(), new Map(), new Map()];
  preload(m, models, 0, 2_000);
  await m.backup(path.join(out, 'full'));
  preload(m, models, 2_000, 50);
  await m.backup(path.join(out, 'inc'), { since: path.join(out, 'full') });
  m.close();
  const inc = path.join(out, 'inc');
  assert.equal(RedbManager.verifyBackup(inc).ok, true);

  const files = [...allFiles(inc), ...allFiles(path.join(out, 'full'))];
  assert.ok(files.length >= 16, `expected manifests, indexes and blocks files, found ${files.length} files`);
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    if (bytes.length === 0) continue;
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x20;
    fs.writeFileSync(file, bytes);
    try {
      const report = RedbManager.verifyBackup(inc);
      assert.equal(report.ok, false, `a flipped byte in ${path.relative(out, file)} went unnoticed`);
      assert.ok(report.issues.length > 0);
    } finally {
      bytes[at] = bytes[at]! ^ 0x20;
      fs.writeFileSync(file, bytes);
    }
  }
  assert.equal(RedbManager.verifyBackup(inc).ok, true);

  // Damage one block's bytes: restore refuses with a typed error and writes nothing.
  const blocks = path.join(inc, 'shards', '001.blocks');
  const original = fs.readFileSync(blocks);
  const damaged = Buffer.from(original);
  damaged[damaged.length - 1] = damaged[damaged.length - 1]! ^ 1;
  fs.writeFileSync(blocks, damaged);
  const target = path.join(out, 'target');
  assert.throws(() => RedbManager.restore(inc, target), (err: unknown) => err instanceof BackupCorruptionError && err.code === 'REDB_CORRUPTION' && /001\.blocks/.test(err.message));
  assert.equal(fs.existsSync(path.join(target, 'redb.manifest.json')), false);
  fs.writeFileSync(blocks, original);

  // Without its base an incremental backup is incomplete.
  fs.renameSync(path.join(out, 'full'), path.join(out, 'elsewhere'));
  const missing = RedbManager.verifyBackup(inc);
  assert.equal(missing.ok, false);
  assert.match(missing.issues.join('\n'), /base backup of .* is missing or changed/);
  assert.throws(() => RedbManager.restore(inc, path.join(out, 'target2')), BackupCorruptionError);
  fs.renameSync(path.join(out, 'elsewhere'), path.join(out, 'full'));
  assert.equal(RedbManager.verifyBackup(inc).ok, true);

  // A backup directory without its manifest is not a backup.
  fs.renameSync(path.join(inc, 'backup.manifest.json'), path.join(out, 'manifest.aside'));
  assert.match(RedbManager.verifyBackup(inc).issues[0]!, /backup\.manifest\.json is missing/);
});

test('restore refuses a non-empty directory without force and a live (locked) store even with force', async (t) => {
  const storeDir = tmpDir(t, 'store');
  const out = tmpDir(t, 'backups');
  const m = RedbManager.open(storeOptions(storeDir));
  const models: Contents[] = [new Map(), new Map(), new Map()];
  preload(m, models, 0, 1_000);
  const report = await m.backup(path.join(out, 'b'));

  // The live store itself, and any other open one, is locked.
  assert.throws(() => RedbManager.restore(path.join(out, 'b'), storeDir, { force: true }), LockedError);
  assert.equal(m.shardAt(0).count(), models[0]!.get('default')!.size, 'the live store was touched');
  m.close();

  const target = path.join(out, 'target');
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, 'notes.txt'), 'keep me');
  assert.throws(() => RedbManager.restore(path.join(out, 'b'), target), (err: unknown) => err instanceof ValidationError && /not empty.*force: true/.test(err.message));
  assert.equal(fs.readFileSync(path.join(target, 'notes.txt'), 'utf8'), 'keep me');
  const forced = RedbManager.restore(path.join(out, 'b'), target, { force: true });
  assert.equal(forced.replaced, true);
  assert.equal(fs.existsSync(path.join(target, 'notes.txt')), false);
  assertRestored(target, models, report.shards.map((s) => s.txn));
  assert.throws(() => RedbManager.restore(path.join(out, 'b'), path.join(out, 'b', 'inside')), ValidationError);
});

test('with encryption on, no backup file holds plaintext, and the restored store needs the key', async (t) => {
  const marker = 'PLAINTEXT-MARKER-7f3a';
  const key = crypto.randomBytes(32);
  const fill = async (dir: string, out: string, extra: RedbOptions): Promise<Contents[]> => {
    const m = RedbManager.open(storeOptions(dir, { compression: 'none', ...extra }));
    const models: Contents[] = [new Map(), new Map(), new Map()];
    preload(m, models, 0, 500, marker);
    await m.backup(path.join(out, 'full'));
    preload(m, models, 500, 20, marker);
    await m.backup(path.join(out, 'inc'), { since: path.join(out, 'full') });
    m.close();
    return models;
  };
  const hasMarker = (dir: string): boolean => allFiles(dir).some((f) => fs.readFileSync(f).includes(marker));

  // Control: uncompressed and unencrypted, the marker is plainly in the backup.
  const plainOut = tmpDir(t, 'plain-backups');
  await fill(tmpDir(t, 'plain'), plainOut, {});
  assert.equal(hasMarker(plainOut), true);

  const out = tmpDir(t, 'backups');
  const models = await fill(tmpDir(t, 'store'), out, { encryptionEnabled: true, encryptionKey: key });
  assert.equal(hasMarker(out), false, 'plaintext found in an encrypted backup');

  // Restoring copies sealed blocks and needs no key; opening the result does.
  const target = path.join(out, 'restored');
  const report = RedbManager.restore(path.join(out, 'inc'), target);
  assert.equal(hasMarker(target), false);
  assert.throws(() => RedbManager.open(storeOptions(target)), EncryptionKeyError);
  assert.throws(() => RedbManager.open(storeOptions(target, { encryptionEnabled: true, encryptionKey: crypto.randomBytes(32) })), EncryptionKeyError);
  assertRestored(target, models, report.shards.map((s) => s.txn), { encryptionEnabled: true, encryptionKey: key });
});

test('checkpoints with no commit in between, taken while a backup copies, do not disturb it', async (t) => {
  const storeDir = tmpDir(t, 'store');
  const out = tmpDir(t, 'backups');
  // Encrypted, so that a block rewritten with the same contents still differs (a fresh nonce).
  const keyed: RedbOptions = { encryptionEnabled: true, encryptionKey: crypto.randomBytes(32) };
  const m = RedbManager.open(storeOptions(storeDir, keyed));
  const models: Contents[] = [new Map(), new Map(), new Map()];
  const put = (from: number, count: number, tag: string): void => {
    for (let s = 0; s < m.shardCount; s++) {
      const ops: Op[] = [];
      for (let i = from; i < from + count; i++) ops.push({ table: 'default', key: eventKey(i), value: `${tag}-${i}` });
      commit(m.shardAt(s), ops);
      apply(models[s]!, ops);
    }
  };
  put(0, 10_000, 'v');
  m.checkpoint();
  // Rewriting a few stored events leaves freed blocks pending past the backup's checkpoint, so each
  // checkpoint below writes a new catalog and freelist and retires the previous ones at the same
  // transaction: the pinned catalog's and freelist's extents are soon reused.
  put(0, 50, 'w');
  let checkpoints = 0;
  let copying = true;
  // Several per turn of the event loop: the copy may yield only a few times.
  const churn = (): void => {
    if (!copying) return;
    for (let i = 0; i < 4; i++) m.checkpoint();
    checkpoints += 4;
    setImmediate(churn);
  };
  setImmediate(churn);
  const report = await m.backup(path.join(out, 'b'));
  copying = false;
  m.close();
  assert.ok(checkpoints >= 4, `only ${checkpoints} checkpoints ran during the backup`);
  RedbManager.restore(path.join(out, 'b'), path.join(out, 'r'));
  assertRestored(path.join(out, 'r'), models, report.shards.map((s) => s.txn), keyed);
});

test('closing the store while a backup copies fails the backup clearly and leaves its directory empty', async (t) => {
  const storeDir = tmpDir(t, 'store');
  const out = tmpDir(t, 'backups');
  const m = RedbManager.open(storeOptions(storeDir));
  preload(m, [new Map(), new Map(), new Map()], 0, 12_000);
  const backup = m.backup(path.join(out, 'b'));
  setImmediate(() => m.close());
  await assert.rejects(backup, (err: unknown) => err instanceof Error && (err as { code?: string }).code === 'REDB_CLOSED' && /take the backup again/.test(err.message));
  assert.deepEqual(fs.readdirSync(path.join(out, 'b')), []);
});

test('a backup index encodes to the bytes quoted in docs/format.md and decodes back', () => {
  const b = new IndexBuilder();
  const catalog = b.pushBlock({ offset: 8704, length: 128, crc: 0xdeadbeef, txn: 42, kind: 4, flags: 1, keyId: 0, source: 0, position: 0, subtree: 1 });
  b.pushRange(7, 1);
  b.pushRange(8, 1); // continues the previous range: one entry
  b.setSubtree(catalog, 3);
  const bytes = b.encode(0x0102030405);
  const documented =
    '524442424b495831010000003000000002000000030000000504030201000000f9891cc4' +
    '002200000000000080000000efbeadde2a00000000000000040100000000000000000000000000000300000022da1609' +
    '000000000000000000000000000000000000000000000000000000000100000007000000000000000200000089d6ddf3';
  assert.equal(Buffer.from(bytes).toString('hex'), documented);
  assert.ok(fs.readFileSync(new URL('../../docs/format.md', import.meta.url), 'utf8').replace(/\s+/g, '').includes(documented));
  const view = IndexView.parse(bytes);
  assert.ok(view instanceof IndexView);
  assert.deepEqual([view.count, view.listed, view.databaseId], [2, 3, 0x0102030405]);
  assert.deepEqual(view.entry(1), { offset: 0, length: 0, crc: 0, txn: 0, kind: RANGE_KIND, flags: 0, keyId: 0, source: 1, position: 7, subtree: 2 });
  const flipped = Buffer.from(bytes);
  flipped[40] = flipped[40]! ^ 1;
  assert.match(IndexView.parse(flipped) as string, /entry 0 checksum mismatch/);
});
