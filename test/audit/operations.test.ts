// The store's operations: retention purges with legal holds, system-tenant evidence of purge,
// backup, restore and key rotation, the change feed, cross-shard roll-back at open, the singleton
// form of the seed guides, streaming export, and the insert hook.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import {
  FeedPositionError,
  RedbAuditStore,
  RedbManager,
  SYSTEM_TENANT,
  ValidationError,
  ClosedError,
  closeRedbManager,
  initAuditRedb,
  type AuditEventInput,
} from '../../src/index.js';
import { encodeShards, recordPart } from '../../src/audit/cross-shard.js';
import { prepareEvent, DEFAULT_LIMITS } from '../../src/audit/event-model.js';
import { insertPart } from '../../src/audit/insert.js';
import { T_INTENTS } from '../../src/audit/tables.js';
import { SHARD_DEFAULTS } from '../../src/shard/options.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);

function tmp(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `audit-${name}-`));
}

function ev(tenantId: string, ageDays: number, i: number, over: Partial<AuditEventInput> = {}): AuditEventInput {
  return { tenantId, timestamp: NOW - ageDays * DAY + i, actor: { id: `a${i % 3}` }, action: i % 2 ? 'record.read' : 'user.login', resource: { type: 'record', id: `r${i}` }, ...over };
}

async function withStore<T>(name: string, options: Record<string, unknown>, fn: (store: RedbAuditStore, dir: string) => Promise<T> | T): Promise<T> {
  const dir = tmp(name);
  const store = await RedbAuditStore.open({ baseDir: dir, checksumVerification: false, ...options });
  try {
    return await fn(store, dir);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the audit store opens its shards with the engine default node size unless a pageSize is given, and its events read back either way', async () => {
  await withStore('page-default', {}, (store) => {
    assert.equal(store.manager.options.pageSize, SHARD_DEFAULTS.pageSize);
  });
  await withStore('page-given', { pageSize: 4096 }, async (store, dir) => {
    assert.equal(store.manager.options.pageSize, 4096);
    store.insertEvents(Array.from({ length: 300 }, (_, i) => ev('t1', 1, i)));
    store.close();
    // The node size shapes only what is written next: the same store reopens at the default size.
    const again = await RedbAuditStore.open({ baseDir: dir, checksumVerification: false });
    try {
      assert.equal(again.manager.options.pageSize, SHARD_DEFAULTS.pageSize);
      assert.equal(again.countEvents({ tenantId: 't1' }), 300);
      again.insertEvents(Array.from({ length: 300 }, (_, i) => ev('t1', 1, 300 + i)));
      assert.equal(again.queryEvents({ tenantId: 't1', limit: 1000 }).events.length, 600);
    } finally {
      again.close();
    }
  });
});

test('purgeExpired deletes expired events with their index entries, honours category policies and legal holds, and records itself', () =>
  withStore('retention', {
    shardingEnabled: true,
    shardCount: 2,
    retention: [
      { tenantId: 'old', maxAgeDays: 30 },
      { tenantId: 'old', category: 'user', maxAgeDays: 365 },
      { tenantId: 'held', maxAgeDays: 1 },
      { tenantId: 'big', maxAgeDays: 7 },
    ],
  }, (store) => {
    // More than one purge transaction's worth (1,000) for a tenant-wide policy.
    store.insertEvents(Array.from({ length: 2500 }, (_, i) => ev('big', i < 2345 ? 8 : 6, i)));
    const batch: AuditEventInput[] = [];
    for (let i = 0; i < 1500; i++) batch.push(ev('old', i < 1200 ? 100 : 1, i));
    for (let i = 0; i < 10; i++) batch.push(ev('held', 50, i));
    for (let i = 0; i < 10; i++) batch.push(ev('keep', 5000, i));
    store.insertEvents(batch);
    store.setLegalHold('held', true);
    assert.equal(store.isLegalHold('held'), true);
    // Expired: the 600 'record' events among the 1,200 old ones; 'user' events have a 365-day policy.
    const r = store.purgeExpired({ now: NOW });
    assert.equal(r.purged, 600 + 2345);
    assert.deepEqual(r.heldTenants, ['held']);
    assert.deepEqual(r.perTenant, [{ tenantId: 'old', purged: 600 }, { tenantId: 'big', purged: 2345 }]);
    assert.equal(store.countEvents({ tenantId: 'big' }), 155);
    assert.equal(store.countEvents({ tenantId: 'old' }), 900);
    assert.equal(store.countEvents({ tenantId: 'old', action: 'record.read' }), 150);
    assert.equal(store.countEvents({ tenantId: 'old', to: NOW - 30 * DAY, category: 'record' }), 0);
    assert.equal(store.countEvents({ tenantId: 'held' }), 10);
    assert.equal(store.countEvents({ tenantId: 'keep' }), 10);
    assert.deepEqual(store.checkConsistency().shards.flatMap((s) => s.problems), []);
    // The purge is evidence in the system tenant, and users cannot write there.
    const sys = store.queryEvents({ tenantId: SYSTEM_TENANT, action: 'store.purge' }).events;
    assert.equal(sys.length, 1);
    assert.equal(sys[0]!.details!.purged, 2945);
    assert.equal(sys[0]!.outcome, 'success');
    assert.equal(store.queryEvents({ tenantId: SYSTEM_TENANT, action: 'store.legal_hold.*' }).events.length, 1);
    // Lifting the hold lets the next purge in.
    store.setLegalHold('held', false);
    assert.equal(store.purgeExpired({ now: NOW }).perTenant.find((t) => t.tenantId === 'held')!.purged, 10);
    assert.throws(() => store.setLegalHold('', true), ValidationError);
  }));

test('backup, restore and key rotation are recorded in the system tenant; restore brings back the backed-up events', async () => {
  const backupDir = path.join(tmp('backup'), 'b1');
  try {
    await withStore('ops', { encryptionEnabled: true, encryptionKey: Buffer.alloc(32, 7) }, async (store) => {
      store.insertEvents([ev('t', 1, 1), ev('t', 1, 2)]);
      await store.backup(backupDir);
      store.insertEvents([ev('t', 1, 3)]);
      assert.equal(store.countEvents({ tenantId: 't' }), 3);
      store.rotateKey(Buffer.alloc(32, 9));
      await store.restore(backupDir);
      assert.equal(store.countEvents({ tenantId: 't' }), 2);
      // The restored store goes on working, and holds the evidence of what happened to it.
      store.insertEvents([ev('t', 1, 4)]);
      assert.equal(store.countEvents({ tenantId: 't' }), 3);
      const actions = [...store.iterateEvents({ tenantId: SYSTEM_TENANT, order: 'asc' })].map((e) => e.action);
      assert.deepEqual(actions, ['store.restore']);
      assert.deepEqual(store.checkConsistency().shards.flatMap((s) => s.problems), []);
      await assert.rejects(store.restore(path.join(backupDir, 'missing')), /failed verification|backup/);
      assert.equal(store.countEvents({ tenantId: 't' }), 3);
    });
    // The backup itself holds nothing of the later rotation; its own system events record the backup.
  } finally {
    fs.rmSync(path.dirname(backupDir), { recursive: true, force: true });
  }
});

test('backup and key rotation leave store.backup and store.rotate_key events', () =>
  withStore('ops2', { encryptionEnabled: true, encryptionKey: Buffer.alloc(32, 1) }, async (store, dir) => {
    store.insertEvents([ev('t', 1, 1)]);
    await store.backup(path.join(dir, '..', path.basename(dir) + '-bk'));
    store.rotateKey(Buffer.alloc(32, 2));
    const sys = [...store.iterateEvents({ tenantId: SYSTEM_TENANT, order: 'asc' })];
    assert.deepEqual(sys.map((e) => e.action), ['store.backup', 'store.rotate_key']);
    assert.equal(sys[0]!.actor.type, 'process');
    fs.rmSync(path.join(dir, '..', path.basename(dir) + '-bk'), { recursive: true, force: true });
  }));

test('the change feed returns each event once in commit order, resumes after a position, and refuses a purged position', () =>
  withStore('feed', { retention: [{ tenantId: 'f', maxAgeDays: 10 }] }, (store) => {
    const ids1 = store.insertEvents([ev('f', 100, 1), ev('f', 100, 2), ev('f', 1, 3)]).ids;
    const ids2 = store.insertEvents([ev('f', 1, 4, { id: 'same' }), ev('f', 1, 4, { id: 'same' })]).ids; // one duplicate: no position
    const all = [...store.changes({ shard: 0 })];
    assert.deepEqual(all.map((c) => c.seq), [1, 2, 3, 4]);
    assert.deepEqual(all.map((c) => c.event.id), [...ids1, ids2[0]]);
    assert.deepEqual([...store.changes({ shard: 0, after: 2 })].map((c) => c.seq), [3, 4]);
    assert.deepEqual([...store.changes({ shard: 0, after: 1, limit: 2 })].map((c) => c.seq), [2, 3]);
    assert.equal(all[0]!.bytes.toString(), JSON.stringify(all[0]!.event));
    store.purgeExpired({ now: NOW });
    // Positions 1 and 2 were purged; their group still holds a live event, so they read as gone. The
    // purge's own evidence event (system tenant) follows in the feed.
    const afterPurge = [...store.changes({ shard: 0 })];
    assert.deepEqual(afterPurge.map((c) => c.seq), [3, 4, 5]);
    assert.equal(afterPurge[2]!.event.tenantId, SYSTEM_TENANT);
    store.insertEvents([ev('g', 1, 5)]);
    assert.throws(() => store.changes({ shard: 0, after: -1 }), ValidationError);
    assert.throws(() => store.changes({ shard: 0, after: 0, colour: 1 } as never), /unknown changes\(\) option/);
  }));

test('purging whole commits trims the feed and an older position gets FeedPositionError naming the oldest one', () =>
  withStore('feed2', { retention: [{ tenantId: 'f', maxAgeDays: 10 }] }, (store) => {
    store.insertEvents([ev('f', 100, 1), ev('f', 100, 2)]);
    store.insertEvents([ev('f', 1, 3)]);
    store.purgeExpired({ now: NOW });
    assert.throws(() => [...store.changes({ shard: 0, after: 0 })], (err: unknown) => err instanceof FeedPositionError && err.oldestAvailable === 2);
    assert.deepEqual([...store.changes({ shard: 0, after: 2 })].map((c) => [c.seq, c.event.tenantId]), [[3, 'f'], [4, SYSTEM_TENANT]]);
  }));

test('an incomplete cross-shard batch left by a crash is rolled back at open; a complete one is kept', async () => {
  const dir = tmp('xshard');
  try {
    const tenants = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    // Find two tenants on different shards.
    const mgr = RedbManager.open({ baseDir: dir, shardingEnabled: true, shardCount: 2, checksumVerification: false });
    const t0 = tenants.find((t) => mgr.shardFor(t) === 0)!;
    const t1 = tenants.find((t) => mgr.shardFor(t) === 1)!;
    // Simulate a crash between the parts: the intent and shard 0's part are durable, shard 1's is not.
    const batchId = Buffer.alloc(16, 3);
    mgr.shardAt(0).write((tx) => tx.table(T_INTENTS).put(batchId, encodeShards([0, 1])));
    mgr.shardAt(0).write((tx) => {
      const r = insertPart(tx, [prepareEvent(ev(t0, 1, 1, { id: 'half-1' }), DEFAULT_LIMITS, 'e')], new Map(), []);
      recordPart(tx, batchId, 0, r.tenants);
    });
    mgr.close();
    const store = await RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 2, checksumVerification: false });
    try {
      assert.deepEqual(store.batchRecovery, { completed: 0, rolledBack: 1, eventsRemoved: 1 });
      assert.equal(store.countEvents({ tenantId: t0 }), 0);
      assert.deepEqual(store.checkConsistency().shards.flatMap((s) => s.problems), []);
      // A real cross-shard batch commits in both shards.
      const rep = store.insertEvents([ev(t0, 1, 2), ev(t1, 1, 3)]);
      assert.equal(rep.inserted, 2);
      const rep2 = await store.insertEventsAsync([ev(t0, 1, 4), ev(t1, 1, 5)]);
      assert.equal(rep2.inserted, 2);
      store.insertEvents([ev(t0, 1, 6)]);
      store.insertEvents([ev(t1, 1, 7)]);
    } finally {
      store.close();
    }
    const again = await RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 2, checksumVerification: false });
    try {
      assert.equal(again.batchRecovery.rolledBack, 0);
      assert.equal(again.countEvents({ tenantId: t0 }) + again.countEvents({ tenantId: t1 }), 6);
      assert.deepEqual(again.checkConsistency().shards.flatMap((s) => s.problems), []);
    } finally {
      again.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the seed guide's form works: initAuditRedb initialises the singleton, newWithManager returns a store over it", async () => {
  const dir = tmp('singleton');
  try {
    const store = initAuditRedb({ baseDir: dir, maxBatch: 50, shardingEnabled: true, shardCount: 3, checksumVerification: false });
    store.insertEvent(ev('s', 1, 1));
    const other = RedbAuditStore.newWithManager();
    assert.equal(other.manager, store.manager);
    assert.equal(other.countEvents({ tenantId: 's' }), 1);
    assert.throws(() => other.insertEvents(Array.from({ length: 51 }, (_, i) => ev('s', 1, i))), /limit is 50/);
    assert.equal(store.health().status, 'healthy');
    // A second store over the same manager does not take a batch in flight for a crashed one.
    const cross = Array.from({ length: 40 }, (_, i) => ev(`tenant-${i}`, 1, i));
    const inFlight = store.insertEventsAsync(cross);
    await new Promise((r) => setTimeout(r, 5));
    const third = RedbAuditStore.newWithManager();
    assert.equal((await inFlight).inserted, 40);
    assert.equal(third.countEvents({ allTenants: true }), 41);
    assert.match(store.metrics(), /redb_/);
    assert.equal(store.verify().ok, true);
    store.close();
    assert.throws(() => store.queryEvents({ tenantId: 's' }), ClosedError);
  } finally {
    closeRedbManager();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('exportEvents and exportEventsTo honour filters and limit and write the stored bytes', () =>
  withStore('export', {}, async (store) => {
    const batch = Array.from({ length: 3000 }, (_, i) => ev('x', 1, i));
    store.insertEvents(batch);
    const nd = store.exportEvents({ tenantId: 'x', actorId: 'a1', order: 'asc' }, 'ndjson');
    const lines = nd.trimEnd().split('\n');
    assert.equal(lines.length, 1000);
    assert.deepEqual(JSON.parse(lines[0]!).actor, { id: 'a1' });
    const json = JSON.parse(store.exportEvents({ tenantId: 'x', limit: 7 }, 'json'));
    assert.equal(json.length, 7);
    assert.deepEqual(json, store.queryEvents({ tenantId: 'x', limit: 7 }).events);
    const chunks: Buffer[] = [];
    const sink = new Writable({
      highWaterMark: 1024,
      write(chunk, _enc, cb) {
        chunks.push(chunk);
        setImmediate(cb);
      },
    });
    const rep = await store.exportEventsTo({ tenantId: 'x' }, 'ndjson', sink);
    assert.equal(rep.events, 3000);
    assert.equal(rep.bytes, Buffer.concat(chunks).length);
    assert.equal(Buffer.concat(chunks).toString().trimEnd().split('\n').length, 3000);
    assert.throws(() => store.exportEvents({ tenantId: 'x' }, 'xml' as never), /export format "xml" is not supported/);
  }));

test('an insert hook sees each tenant\'s new events in commit order inside the transaction, and can abort it', () =>
  withStore('hook', {}, (store) => {
    const seen: string[] = [];
    store.addInsertHook((tx, ins) => {
      for (const e of ins.events) {
        if (e.actorId === 'evil') throw new ValidationError('hook refused');
        seen.push(`${ins.tenantId}:${e.id}:${e.json.length}`);
      }
      tx.table('hook.log').put(Buffer.from(ins.events[0]!.id), Buffer.from('x'));
    });
    const { ids } = store.insertEvents([ev('h', 1, 1, { id: 'h1' }), ev('h', 1, 2, { id: 'h2' })]);
    assert.deepEqual(ids, ['h1', 'h2']);
    assert.equal(seen.length, 2);
    assert.match(seen[0]!, /^h:h1:\d+$/);
    assert.throws(() => store.insertEvents([ev('h', 1, 3, { actor: { id: 'evil' } })]), /hook refused/);
    assert.equal(store.countEvents({ tenantId: 'h' }), 2);
  }));

test('a cursor walk stays exact while new events arrive between pages', () =>
  withStore('cursor', { shardingEnabled: true, shardCount: 2 }, (store) => {
    store.insertEvents(Array.from({ length: 500 }, (_, i) => ev('w', 10, i, { id: `w-${String(i).padStart(3, '0')}`, timestamp: NOW - 10 * DAY + Math.floor(i / 5) })));
    const seen: string[] = [];
    let cursor: string | undefined;
    let page = 0;
    do {
      const r = store.queryEvents({ tenantId: 'w', limit: 37, cursor });
      seen.push(...r.events.map((e) => e.id));
      cursor = r.nextCursor;
      // Newer events (before the cursor in newest-first order) never show up in later pages.
      store.insertEvents([ev('w', 0, page, { id: `new-${page}` })]);
      page++;
    } while (cursor);
    assert.equal(seen.length, 500);
    assert.equal(new Set(seen).size, 500);
    assert.deepEqual(seen, [...seen].sort((a, b) => (a < b ? 1 : -1)));
    // Newest first by default, oldest first with order: 'asc'.
    assert.equal(store.queryEvents({ tenantId: 'w', limit: 1 }).events[0]!.id.startsWith('new-'), true);
    assert.equal(store.queryEvents({ tenantId: 'w', limit: 1, order: 'asc' }).events[0]!.id, 'w-000');
  }));

test('a store backup carries the checkpoint signing key, and a restore puts it back', () =>
  withStore('keys', {}, async (store, dir) => {
    const backupDir = path.join(tmp('keys-backup'), 'b');
    try {
      store.insertEvents([ev('acme', 0, 1), ev('acme', 0, 2)]);
      const keyFile = path.join(dir, 'integrity-signing-key.pem');
      const key = fs.readFileSync(keyFile);
      await store.backup(backupDir);
      assert.deepEqual(fs.readFileSync(path.join(backupDir, 'store-files', 'integrity-signing-key.pem')), key);
      const vkey = store.checkpointPublicKey().vkey;
      fs.rmSync(keyFile);
      await store.restore(backupDir);
      assert.deepEqual(fs.readFileSync(keyFile), key, 'the restore brought the signing key back');
      assert.equal(store.checkpointPublicKey().vkey, vkey);
      assert.equal(store.verifyTenant('acme').ok, true);
    } finally {
      fs.rmSync(path.dirname(backupDir), { recursive: true, force: true });
    }
  }));

test('a read-only open of an audit store writes no file, not even a signing key it lacks', async () => {
  const dir = tmp('ro-keys');
  try {
    const writer = await RedbAuditStore.open({ baseDir: dir, checksumVerification: false, integrity: { enabled: false } });
    writer.insertEvents([ev('acme', 0, 1), ev('acme', 0, 2)]);
    writer.close();
    const listing = () =>
      fs
        .readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => {
          const p = path.join(e.parentPath ?? dir, e.name);
          const st = fs.statSync(p);
          return `${path.relative(dir, p)} ${st.size} ${st.mtimeMs}`;
        })
        .sort();
    const before = listing();
    const reader = await RedbAuditStore.open({ baseDir: dir, readOnly: true, checksumVerification: false, personalData: { enabled: true } });
    assert.equal(reader.countEvents({ tenantId: 'acme' }), 2);
    reader.close();
    assert.deepEqual(listing(), before);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
