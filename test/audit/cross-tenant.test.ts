// Queries across tenants (allTenants) merge one scan per tenant, and start a tenant's scan only once
// its time span could hold the next row (src/audit/query-exec.ts, MergedRows): the answers must be
// exactly the brute-force ones whatever the tenants' spans, in both orders, through cursors and
// windows, with events of different tenants at the same millisecond; and the first page must not
// read every tenant.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RedbAuditStore, type AuditEventInput, type AuditQuery } from '../../src/index.js';
import { tmpDir } from '../support/tmp.js';

const BASE = Date.UTC(2026, 3, 1);
const TENANTS = 40;

interface Stored {
  id: string;
  tenantId: string;
  timestamp: number;
  outcome: string;
}

/**
 * Tenant k has 25 events over its own span, from BASE + k * 7s, 2 s apart: spans overlap their
 * neighbours' and the earliest and latest tenants share no time at all. Every fifth tenant also has
 * one event at BASE + 100 s, the same millisecond as other tenants' events.
 */
function events(): AuditEventInput[] {
  const out: AuditEventInput[] = [];
  for (let k = 0; k < TENANTS; k++) {
    const tenantId = `t${String(k).padStart(2, '0')}`;
    for (let i = 0; i < 25; i++) out.push({ tenantId, timestamp: BASE + k * 7000 + i * 2000, actor: { id: 'a' }, action: 'x.y', resource: { type: 'r', id: '1' }, outcome: i % 3 === 0 ? 'failure' : 'success' });
    if (k % 5 === 0) out.push({ tenantId, timestamp: BASE + 100_000, actor: { id: 'a' }, action: 'x.y', resource: { type: 'r', id: '1' }, outcome: 'success' });
  }
  return out;
}

/** The ids a query should return, in order: (timestamp, tenant, id), filtered by window and outcome. */
function expected(all: readonly Stored[], q: AuditQuery): string[] {
  const rows = all
    .filter((e) => e.timestamp >= (q.from as number | undefined ?? -Infinity) && e.timestamp < (q.to as number | undefined ?? Infinity) && (q.outcome === undefined || e.outcome === q.outcome))
    .sort((a, b) => a.timestamp - b.timestamp || (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : a.id < b.id ? -1 : 1));
  if (q.order !== 'asc') rows.reverse();
  return rows.map((e) => e.id);
}

/** Every id of `q`, walked in pages of `limit` through cursors. */
function walk(store: RedbAuditStore, q: AuditQuery, limit: number): string[] {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = store.queryEvents({ ...q, limit, cursor });
    ids.push(...page.events.map((e) => e.id));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

test('queries across tenants with different time spans return exactly the brute-force rows, page by page', async (t) => {
  const dir = tmpDir(t, 'cross-tenant');
  const store = await RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 3, durability: 'none' });
  const input = events();
  const r = store.insertEvents(input);
  const all: Stored[] = input.map((e, i) => ({ id: r.ids[i]!, tenantId: e.tenantId, timestamp: e.timestamp as number, outcome: e.outcome as string }));
  const windows: { from?: number; to?: number }[] = [{}, { from: BASE + 60_000, to: BASE + 140_000 }, { from: BASE + 100_000 }, { to: BASE + 100_001 }];
  for (const order of ['asc', 'desc'] as const) {
    for (const w of windows) {
      for (const outcome of [undefined, 'failure'] as const) {
        const q: AuditQuery = { allTenants: true, order, ...w, ...(outcome ? { outcome } : {}) };
        const want = expected(all, q);
        for (const limit of [1, 7, 100]) assert.deepEqual(walk(store, q, limit), want, `${JSON.stringify(q)} in pages of ${limit}`);
        assert.equal(store.countEvents(q), want.length);
      }
    }
  }
  // The newest ten are from the last two tenants alone: the other 38 are never read.
  const plan = store.explain({ allTenants: true, limit: 10 });
  assert.ok(plan.scannedRows <= 10 + 2, `the first page of 10 scanned ${plan.scannedRows} rows`);
  store.close();
});
