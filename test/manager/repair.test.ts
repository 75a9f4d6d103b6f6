import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { keyAt } from '../../src/btree/leaf.js';
import { CacheBudget, NodeCache } from '../../src/btree/node-cache.js';
import { NodeStore } from '../../src/btree/node-store.js';
import { StoreCodec } from '../../src/codec/store-codec.js';
import { CorruptionError, Database, RedbManager } from '../../src/index.js';
import { BlockKind } from '../../src/pagefile/layout.js';
import { PageFile } from '../../src/pagefile/page-file.js';
import { decodeCatalog } from '../../src/shard/data/catalog.js';
import { repairShard } from '../../src/shard/maintenance/repair.js';
import { nodeFileIO } from '../../src/io/node-file-io.js';
import { tmpDir } from '../support/tmp.js';

const OPTIONS = { pageSize: 1024, compression: 'none' as const, checkpointIntervalMs: 0 };
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Every node block of every table, with the keys of each leaf (read straight from the file). */
function mapBlocks(dir: string): { leaves: { offset: number; length: number; table: string; keys: string[] }[]; branches: { offset: number; length: number }[] } {
  const file = PageFile.open(nodeFileIO, path.join(dir, 'data.redb'), new StoreCodec('none', 1, null), 0, true);
  const store = new NodeStore(file, new NodeCache(new CacheBudget(1 << 26)));
  const s0 = file.readSlot(0);
  const s1 = file.readSlot(1);
  const slot = [s0, s1].filter((s) => s.state === 'valid').map((s) => (s as { slot: { seq: number; catalog: { offset: number; length: number; crc: number } | null } }).slot).sort((a, b) => b.seq - a.seq)[0]!;
  const tables = decodeCatalog(file.readBlock(slot.catalog!, BlockKind.Catalog).payload);
  assert.ok(Array.isArray(tables));
  const leaves: { offset: number; length: number; table: string; keys: string[] }[] = [];
  const branches: { offset: number; length: number }[] = [];
  const walk = (table: string, ref: { offset: number; length: number; crc: number }): void => {
    const node = store.readNode(ref);
    if (node.isLeaf) leaves.push({ offset: ref.offset, length: ref.length, table, keys: Array.from({ length: node.count }, (_, i) => hex(keyAt(node, i))) });
    else {
      branches.push({ offset: ref.offset, length: ref.length });
      for (const r of node.refs) walk(table, r!);
    }
  };
  for (const t of tables) if (t.root && !t.name.startsWith('__')) walk(t.name, t.root);
  file.close();
  return { leaves, branches };
}

function populate(dir: string): Map<string, Map<string, string>> {
  const model = new Map<string, Map<string, string>>();
  const db = Database.open(dir, OPTIONS);
  for (const table of ['events', 'index']) {
    const m = new Map<string, string>();
    model.set(table, m);
    db.write((tx) => {
      for (let i = 0; i < 6000; i++) {
        const key = Buffer.from(`${table}/${String(i).padStart(6, '0')}`);
        const value = Buffer.from(`value ${i} of ${table} `.repeat(2));
        tx.table(table).put(key, value);
        m.set(hex(key), value.toString());
      }
    });
  }
  db.close();
  return model;
}

function flip(dir: string, offset: number): void {
  const fd = fs.openSync(path.join(dir, 'data.redb'), 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, offset);
  b[0]! ^= 0x5a;
  fs.writeSync(fd, b, 0, 1, offset);
  fs.closeSync(fd);
}

test('repair recovers every record not on a corrupted page, reports the rest, and verifies clean', (t) => {
  const base = tmpDir(t, 'repair');
  const dir = path.join(base, 'shard');
  const model = populate(dir);
  const { leaves, branches } = mapBlocks(dir);
  // Damage five leaves and one branch (whose intact leaves must still be found, by scanning).
  const seed = Number(process.env.REPAIR_SEED ?? Date.now() % 100000);
  t.diagnostic(`repair test seed ${seed}`);
  let x = seed;
  const rnd = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  const damaged = new Set<number>();
  while (damaged.size < 5) damaged.add(rnd(leaves.length));
  for (const i of damaged) flip(dir, leaves[i]!.offset + 24 + rnd(leaves[i]!.length - 24));
  const branch = branches[rnd(branches.length)]!;
  flip(dir, branch.offset + 30);
  const lostKeys = new Set([...damaged].flatMap((i) => leaves[i]!.keys.map((k) => `${leaves[i]!.table}:${k}`)));

  const r = repairShard(dir, OPTIONS);
  assert.equal(r.status, 'repaired');
  assert.ok(r.verifiedClean);
  assert.ok(r.damagedDir && fs.existsSync(r.damagedDir), 'the damaged files are kept aside');
  assert.ok(r.recoveredByScan > 0, 'entries below the damaged branch were found by scanning');
  const db = Database.open(dir, OPTIONS);
  let recovered = 0;
  for (const [table, m] of model) {
    for (const [k, v] of m) {
      const got = db.table(table).get(Buffer.from(k, 'hex'));
      if (lostKeys.has(`${table}:${k}`)) {
        assert.equal(got, undefined, `a key on a damaged leaf came back: ${table} ${k}`);
        const reported = r.lostRanges.some((lr) => lr.table === table && (lr.from === null || k >= lr.from) && (lr.to === null || k < lr.to));
        assert.ok(reported, `lost key ${table} ${k} is not inside any reported range`);
      } else {
        assert.equal(got?.toString(), v, `intact key ${table} ${k} was not recovered`);
        recovered++;
      }
    }
  }
  assert.equal(r.recoveredEntries, recovered);
  assert.ok(db.verify().ok);
  db.close();
});

test('with autoRecovery a shard whose WAL lost an acknowledged record is repaired at open; without it the open fails', (t) => {
  const base = tmpDir(t, 'auto');
  const crashed = tmpDir(t, 'crashed');
  const m = RedbManager.open({ baseDir: base, checkpointIntervalMs: 0 });
  for (let c = 0; c < 3; c++) {
    m.shardAt(0).write((tx) => {
      for (let i = 0; i < 100; i++) tx.put(Buffer.from(`c${c}/k${i}`), Buffer.from(`v${c}.${i}`));
    });
  }
  // What a crash now would leave: three commits in the WAL only.
  fs.cpSync(base, crashed, { recursive: true });
  m.close();
  for (const lock of ['lock', 'lock.owner', 'shards/000/lock', 'shards/000/lock.owner']) fs.rmSync(path.join(crashed, lock), { recursive: true, force: true });
  // Damage the second of the three records: the third proves it had been acknowledged.
  const walDir = path.join(crashed, 'shards', '000', 'wal');
  const seg = path.join(walDir, fs.readdirSync(walDir)[0]!);
  const bytes = fs.readFileSync(seg);
  const second = 4096 + 32 + bytes.readUInt32LE(4096);
  bytes[second + 40]! ^= 0xff;
  fs.writeFileSync(seg, bytes);
  assert.throws(() => RedbManager.open({ baseDir: crashed, autoRecovery: false }), CorruptionError);
  const again = RedbManager.open({ baseDir: crashed });
  const repaired = again.openReport.shards[0]!.repaired!;
  assert.equal(repaired.status, 'repaired');
  assert.equal(repaired.walCommitsReplayed, 1);
  assert.match(repaired.walDamage ?? '', /acknowledged/);
  assert.equal(again.shardAt(0).get(Buffer.from('c0/k5'))?.toString(), 'v0.5');
  assert.equal(again.shardAt(0).get(Buffer.from('c1/k5')), undefined);
  const health = again.health();
  assert.equal(health.status, 'degraded');
  assert.match(health.shards[0]!.problems.join(' '), /repaired at open/);
  again.close();
});
