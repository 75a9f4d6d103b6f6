// Model test: a store filled with generated events answers random queries (every filter, both
// orders, time windows, action prefixes, all tenants) exactly like a brute-force evaluation over the
// same events, for pages, counts and complete cursor walks. AUDIT_MODEL_EVENTS and
// AUDIT_MODEL_QUERIES scale it (the full size is 100000 and 1000).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { RedbAuditStore, SEVERITIES, type AuditEvent, type AuditEventInput, type AuditQuery } from '../../src/index.js';
import { idBytes } from '../../src/audit/keys.js';
import { newUlid } from '../../src/audit/ulid.js';

const EVENTS = Number(process.env.AUDIT_MODEL_EVENTS ?? 20_000);
const QUERIES = Number(process.env.AUDIT_MODEL_QUERIES ?? 400);
const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
const ACTIONS = ['record.read', 'record.update', 'record.delete', 'user.login', 'user.logout', 'user.mfa.enroll', 'config.change', 'export.run'];
const ACTORS = Array.from({ length: 40 }, (_, i) => `user-${i}`);
const RTYPES = ['record', 'file', 'setting'];
const OUTCOMES = ['success', 'failure', 'denied', 'unknown'] as const;
const CATEGORIES = ['access', 'admin', 'security'];
const BASE = Date.UTC(2026, 2, 1);
const SPAN = 30 * 86_400_000;

let dir: string;
let store: RedbAuditStore;
const all: AuditEvent[] = [];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    s ^= s + Math.imul(s ^ (s >>> 7), 61);
    return ((s ^ (s >>> 14)) >>> 0) / 4294967296;
  };
}

function sortKey(e: AuditEvent): [number, string, Buffer] {
  return [e.timestamp, e.tenantId, idBytes(e.id)];
}

function compare(a: AuditEvent, b: AuditEvent): number {
  const [ta, na, ia] = sortKey(a);
  const [tb, nb, ib] = sortKey(b);
  if (ta !== tb) return ta - tb;
  if (na !== nb) return na < nb ? -1 : 1;
  return Buffer.compare(ia, ib);
}

function matches(e: AuditEvent, q: AuditQuery): boolean {
  if (!q.allTenants && e.tenantId !== q.tenantId) return false;
  if (q.actorId !== undefined && e.actor.id !== q.actorId) return false;
  if (q.action !== undefined) {
    if (q.action.endsWith('.*')) {
      if (!e.action.startsWith(q.action.slice(0, -1))) return false;
    } else if (e.action !== q.action) return false;
  }
  if (q.resourceType !== undefined && e.resource.type !== q.resourceType) return false;
  if (q.resourceId !== undefined && e.resource.id !== q.resourceId) return false;
  if (q.outcome !== undefined && e.outcome !== q.outcome) return false;
  if (q.category !== undefined && e.category !== q.category) return false;
  if (q.minSeverity !== undefined && SEVERITIES.indexOf(e.severity) < SEVERITIES.indexOf(q.minSeverity)) return false;
  if (q.from !== undefined && e.timestamp < (q.from as number)) return false;
  if (q.to !== undefined && e.timestamp >= (q.to as number)) return false;
  return true;
}

function expected(q: AuditQuery): AuditEvent[] {
  const out = all.filter((e) => matches(e, q)).sort(compare);
  if (q.order !== 'asc') out.reverse();
  return out;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-model-'));
  store = await RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 3, durability: 'none', checksumVerification: false });
  const r = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  let batch: AuditEventInput[] = [];
  for (let i = 0; i < EVENTS; i++) {
    // Coarse timestamps make ties, so the id tie-break is exercised; some ids are the caller's own,
    // some the caller's ULIDs of the event's time or of a time just before or after it (their key
    // forms differ, and ties must still sort as the full ids do).
    const ts = BASE + Math.floor(r() * SPAN / 60_000) * 60_000;
    const e: AuditEventInput = {
      tenantId: pick(TENANTS),
      timestamp: ts,
      actor: { id: pick(ACTORS), type: 'user' },
      action: pick(ACTIONS),
      resource: { type: pick(RTYPES), id: `r-${Math.floor(r() * 60)}` },
      outcome: pick(OUTCOMES),
      severity: pick(SEVERITIES),
      category: pick(CATEGORIES),
      details: { i },
    };
    const idKind = r();
    if (idKind < 0.1) e.id = `ext-${i}`;
    else if (idKind < 0.25) e.id = newUlid(ts + pick([-60_000, -1, 0, 0, 1, 60_000]));
    batch.push(e);
    if (batch.length === 1000 || i === EVENTS - 1) {
      const rep = await store.insertEventsAsync(batch);
      assert.equal(rep.inserted, batch.length);
      batch.forEach((b, j) => all.push({ ...(b as AuditEvent), id: rep.ids[j]!, schemaVersion: 1 }));
      batch = [];
    }
  }
});

after(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const queryArb = fc.record(
  {
    scope: fc.oneof(fc.constantFrom(...TENANTS), fc.constant('*')),
    actorId: fc.option(fc.constantFrom(...ACTORS, 'nobody'), { nil: undefined }),
    action: fc.option(fc.constantFrom(...ACTIONS, 'record.*', 'user.*', 'user.mfa.*', 'none.*'), { nil: undefined }),
    resourceType: fc.option(fc.constantFrom(...RTYPES), { nil: undefined }),
    resourceId: fc.option(fc.constantFrom('r-1', 'r-7', 'r-42'), { nil: undefined }),
    outcome: fc.option(fc.constantFrom(...OUTCOMES), { nil: undefined }),
    category: fc.option(fc.constantFrom(...CATEGORIES), { nil: undefined }),
    minSeverity: fc.option(fc.constantFrom(...SEVERITIES), { nil: undefined }),
    from: fc.option(fc.integer({ min: BASE - 86_400_000, max: BASE + SPAN }), { nil: undefined }),
    width: fc.option(fc.integer({ min: 0, max: SPAN }), { nil: undefined }),
    order: fc.option(fc.constantFrom('asc' as const, 'desc' as const), { nil: undefined }),
    limit: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }),
  },
  { requiredKeys: ['scope'] },
);

function toQuery(g: Record<string, unknown>): AuditQuery {
  const q: AuditQuery = g.scope === '*' ? { allTenants: true } : { tenantId: g.scope as string };
  for (const k of ['actorId', 'action', 'resourceType', 'resourceId', 'outcome', 'category', 'minSeverity', 'order', 'limit'] as const) {
    if (g[k] !== undefined) (q as Record<string, unknown>)[k] = g[k];
  }
  if (g.from !== undefined) q.from = g.from as number;
  if (g.width !== undefined) q.to = ((g.from as number | undefined) ?? BASE) + (g.width as number);
  return q;
}

test('random queries over every filter combination match a brute-force evaluation (pages, counts, cursor walks, iteration)', () => {
  let walked = 0;
  fc.assert(
    fc.property(queryArb, (g) => {
      const q = toQuery(g as Record<string, unknown>);
      const want = expected(q);
      const { limit: _limit, ...unlimited } = q;
      assert.equal(store.countEvents(q), want.length, `count of ${JSON.stringify(q)}`);
      // Full cursor walk across pages.
      const got: AuditEvent[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = store.queryEvents({ ...q, cursor });
        got.push(...page.events);
        cursor = page.nextCursor;
        assert.ok(page.events.length <= (q.limit ?? 100));
        if (++pages > 10_000) assert.fail('cursor walk does not end');
      } while (cursor !== undefined);
      assert.deepEqual(got.map((e) => e.id), want.map((e) => e.id), `walk of ${JSON.stringify(q)}`);
      assert.deepEqual(got, want);
      walked += pages;
      // iterateEvents honours the limit when given and returns everything when not.
      const it = [...store.iterateEvents(q)].map((e) => e.id);
      assert.deepEqual(it, want.slice(0, q.limit ?? Infinity).map((e) => e.id));
      assert.equal([...store.iterateEvents(unlimited)].length, want.length);
    }),
    { numRuns: QUERIES, seed: 7 },
  );
  assert.ok(walked > QUERIES, 'the walks crossed pages');
});

test('explain names the most selective index and scans no more than it needs', () => {
  const plan = store.explain({ tenantId: 'acme', actorId: 'user-3', limit: 5 });
  assert.equal(plan.index, 'actor');
  assert.deepEqual(plan.residualFilters, []);
  assert.equal(plan.returnedRows, 5);
  assert.ok(plan.scannedRows <= 6, `scanned ${plan.scannedRows}`);
  const narrow = store.explain({ tenantId: 'acme', actorId: 'user-3', outcome: 'denied', resourceType: 'record', resourceId: 'r-7' });
  assert.equal(narrow.index, 'resource');
  assert.ok(narrow.residualFilters.includes('actorId') && narrow.residualFilters.includes('outcome'));
  const time = store.explain({ tenantId: 'acme', limit: 10 });
  assert.equal(time.index, 'time');
  assert.equal(time.scannedRows, 11);
  const prefix = store.explain({ tenantId: 'acme', action: 'user.*', limit: 3 });
  assert.equal(prefix.index, 'action');
  assert.equal(prefix.returnedRows, 3);
});

test('every event reads back exactly as written', () => {
  const byId = new Map(all.map((e) => [e.id, e]));
  let n = 0;
  for (const e of store.iterateEvents({ allTenants: true, order: 'asc' })) {
    assert.deepEqual(e, byId.get(e.id));
    n++;
  }
  assert.equal(n, all.length);
});
