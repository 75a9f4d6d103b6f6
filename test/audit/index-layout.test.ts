// The resource index under each event's week (src/audit/keys.ts) and the conversion of stores that
// earlier versions wrote without it (src/audit/index-layout.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { RedbAuditStore, RedbManager, ValidationError, type AuditEventInput } from '../../src/index.js';
import { KIND_RESOURCE, RESOURCE_WEEK_MS, tenantLenAt } from '../../src/audit/keys.js';
import { META_INDEX_LAYOUT } from '../../src/audit/index-layout.js';
import { T_INDEX, T_META } from '../../src/audit/tables.js';
import { tmpDir } from '../support/tmp.js';
import { childArgs } from '../support/child-script.js';

/** The start of a resource-index week (weeks are counted from the Unix epoch). */
const WEEK0 = Math.ceil(Date.UTC(2026, 5, 1) / RESOURCE_WEEK_MS) * RESOURCE_WEEK_MS;

/** Events of two tenants over weeks 0, 1, 3 and 4 (none in week 2), on three resources. */
function events(): AuditEventInput[] {
  const out: AuditEventInput[] = [];
  for (const week of [0, 1, 3, 4]) {
    for (let i = 0; i < 12; i++) {
      out.push({
        tenantId: i % 3 === 0 ? 'beta' : 'acme',
        // Some at the very first and last millisecond of the week: the bucket edges.
        timestamp: WEEK0 + week * RESOURCE_WEEK_MS + (i === 0 ? 0 : i === 11 ? RESOURCE_WEEK_MS - 1 : i * 3_600_000),
        actor: { id: `u${i % 2}` },
        action: 'record.read',
        resource: { type: 'doc', id: `d${i % 3}` },
      });
    }
  }
  return out;
}

/** Rewrites every resource entry of every shard into the first layout (no week) and drops the marker. */
function toFirstLayout(store: RedbAuditStore): number {
  let n = 0;
  for (let s = 0; s < store.manager.shardCount; s++) {
    n += store.manager.shardAt(s).write((tx) => {
      const ix = tx.table(T_INDEX);
      const keys: Buffer[] = [];
      for (const { key } of ix.range()) if (key[tenantLenAt(key)] === KIND_RESOURCE) keys.push(Buffer.from(key));
      for (const k of keys) {
        ix.remove(k);
        const tl = tenantLenAt(k);
        ix.put(Buffer.concat([k.subarray(0, tl + 1), k.subarray(tl + 5)]), new Uint8Array(0));
      }
      tx.table(T_META).remove(META_INDEX_LAYOUT);
      return keys.length;
    });
  }
  return n;
}

interface ResourceQuery {
  tenantId: string;
  resourceType: string;
  resourceId: string;
  order: 'asc' | 'desc';
  from?: number;
  to?: number;
}

/** Every resource query the tests ask: both tenants, three resources and one absent, both orders, all time and a window from the last ms of week 0 to the end of week 3. */
function resourceQueries(): ResourceQuery[] {
  const out: ResourceQuery[] = [];
  for (const tenantId of ['acme', 'beta']) {
    for (const resourceId of ['d0', 'd1', 'd2', 'none']) {
      for (const order of ['asc', 'desc'] as const) {
        out.push({ tenantId, resourceType: 'doc', resourceId, order });
        out.push({ tenantId, resourceType: 'doc', resourceId, order, from: WEEK0 + RESOURCE_WEEK_MS - 1, to: WEEK0 + 4 * RESOURCE_WEEK_MS });
      }
    }
  }
  return out;
}

/** Each query's count, its count with actorId u1 too, and its ids (pages of 5 through cursors). */
function resourceAnswers(store: RedbAuditStore): string[] {
  return resourceQueries().map((q) => {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = store.queryEvents({ ...q, limit: 5, cursor });
      ids.push(...page.events.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    return `${JSON.stringify(q)} ${store.countEvents(q)} ${store.countEvents({ ...q, actorId: 'u1' })} ${ids.join(',')}`;
  });
}

/** The same, worked out from the events themselves. */
function expectedAnswers(all: readonly Stored[]): string[] {
  return resourceQueries().map((q) => {
    const match = all
      .filter((e) => e.tenantId === q.tenantId && e.resource.id === q.resourceId && e.timestamp >= (q.from ?? -Infinity) && e.timestamp < (q.to ?? Infinity))
      .sort((a, b) => a.timestamp - b.timestamp || (a.id < b.id ? -1 : 1));
    if (q.order === 'desc') match.reverse();
    return `${JSON.stringify(q)} ${match.length} ${match.filter((e) => e.actor.id === 'u1').length} ${match.map((e) => e.id).join(',')}`;
  });
}

type Stored = { id: string; tenantId: string; timestamp: number; actor: { id: string }; resource: { id: string } };

/** A two-shard store in `dir` holding events(), and those events as stored (with their ids). */
async function seeded(dir: string): Promise<{ store: RedbAuditStore; all: Stored[] }> {
  const store = await RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 2, durability: 'none' });
  const input = events();
  const r = store.insertEvents(input);
  return { store, all: input.map((e, i) => ({ ...(e as Omit<Stored, 'id'>), id: r.ids[i]! })) };
}

test('a resource query walks the weeks of its window in either order, across cursors, and counts without decoding', async (t) => {
  const dir = tmpDir(t, 'audit-layout');
  const { store, all } = await seeded(dir);
  assert.deepEqual(resourceAnswers(store), expectedAnswers(all));
  const plan = store.explain({ tenantId: 'acme', resourceType: 'doc', resourceId: 'd1' });
  assert.equal(plan.index, 'resource');
  assert.ok(store.checkConsistency().ok);
  store.close();
});

test('a store whose resource index has the first layout is converted at a writable open, and its resource queries find every event', async (t) => {
  const dir = tmpDir(t, 'audit-layout');
  const seed = await seeded(dir);
  const all = seed.all;
  let store = seed.store;
  assert.equal(toFirstLayout(store), all.length);
  // In the first layout the new code finds nothing by resource, and the cross-check says so.
  assert.ok(!store.checkConsistency().ok);
  store.close();

  // Read-only, the store is refused (its resource queries would answer nothing), and left as it was.
  await assert.rejects(RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 2, readOnly: true }), (err: unknown) => err instanceof ValidationError && /earlier version/.test(err.message) && /open the store once for writing/.test(err.message));

  store = await RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 2, durability: 'none' });
  assert.deepEqual(resourceAnswers(store), expectedAnswers(all));
  assert.ok(store.checkConsistency().ok);
  store.close();

  const reader = await RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 2, readOnly: true });
  assert.deepEqual(resourceAnswers(reader), expectedAnswers(all));
  reader.close();
});

/** Resource entries of every shard in each layout: the byte after the kind is a week's first (0x00) or a type's. */
function resourceEntries(mgr: RedbManager): { weeks: number; first: number } {
  const n = { weeks: 0, first: 0 };
  for (let s = 0; s < mgr.shardCount; s++) {
    for (const { key } of mgr.shardAt(s).table(T_INDEX).range()) {
      const at = tenantLenAt(key);
      if (key[at] === KIND_RESOURCE) key[at + 1] === 0 ? n.weeks++ : n.first++;
    }
  }
  return n;
}

test('a conversion killed between two of its transactions is taken up again by the next writable open', async (t) => {
  const dir = tmpDir(t, 'audit-layout');
  const seed = await seeded(dir);
  toFirstLayout(seed.store);
  seed.store.close();

  /** Runs the child (transactions of `batch` entries, killed after `killAfter` of them); the entries on disk after. */
  const convertAndKill = (batch: number, killAfter: number): { weeks: number; first: number } => {
    const child = spawnSync(process.execPath, childArgs(path.join(import.meta.dirname, 'convert-layout-child.ts'), dir, String(batch), String(killAfter)), { encoding: 'utf8' });
    assert.equal(child.signal, 'SIGKILL', `the child was not killed: ${child.stdout}${child.stderr}`);
    const raw = RedbManager.open({ baseDir: dir, shardingEnabled: true, shardCount: 2, readOnly: true });
    try {
      return resourceEntries(raw);
    } finally {
      raw.close();
    }
  };
  // Stopped twice partway, each time with both layouts on disk; the second run goes on from the first.
  const first = convertAndKill(10, 2);
  assert.ok(first.weeks > 0 && first.first > 0, `expected a half-converted index, got ${JSON.stringify(first)}`);
  assert.equal(first.weeks + first.first, seed.all.length);
  const second = convertAndKill(3, 3);
  assert.ok(second.weeks > first.weeks && second.first > 0, `expected the second run to go on from the first, got ${JSON.stringify(second)}`);
  assert.equal(second.weeks + second.first, seed.all.length);
  await assert.rejects(RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 2, readOnly: true }), ValidationError);

  const store = await RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 2, durability: 'none' });
  assert.deepEqual(resourceEntries(store.manager), { weeks: seed.all.length, first: 0 });
  assert.deepEqual(resourceAnswers(store), expectedAnswers(seed.all));
  assert.ok(store.checkConsistency().ok);
  store.close();
});

test('an index layout this version does not know is refused at open, naming the layout', async (t) => {
  const dir = tmpDir(t, 'audit-layout');
  const store = await RedbAuditStore.open({ baseDir: dir, durability: 'none' });
  store.insertEvents(events().slice(0, 3));
  store.manager.shardAt(0).write((tx) => tx.table(T_META).put(META_INDEX_LAYOUT, Buffer.from([9])));
  store.close();
  await assert.rejects(RedbAuditStore.open({ baseDir: dir }), (err: unknown) => err instanceof ValidationError && /has layout 9/.test(err.message));
  await assert.rejects(RedbAuditStore.open({ baseDir: dir, readOnly: true }), (err: unknown) => err instanceof ValidationError && /has layout 9/.test(err.message));
});
