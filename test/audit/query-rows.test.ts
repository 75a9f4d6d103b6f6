/**
 * Query rows hold a view of their event's stored bytes only while they are their scan's head: a row
 * kept after the scan moved on still gives its own event's bytes, read again by key while its
 * snapshot is open (and kept), never someone else's bytes; a row whose view was dropped when the
 * query ended throws ClosedError rather than return anything.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { RedbAuditStore } from '../../src/audit/audit-store.js';
import { normaliseQuery } from '../../src/audit/query-model.js';
import type { Row } from '../../src/audit/query-exec.js';
import type { AuditEvent, AuditEventInput } from '../../src/audit/types.js';
import { ClosedError } from '../../src/errors.js';

const BASE = Date.UTC(2026, 0, 1);

async function openStore(t: TestContext): Promise<{ store: RedbAuditStore; events: AuditEvent[] }> {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redb-query-rows-'));
  const store = await RedbAuditStore.open({ baseDir, durability: 'none' });
  t.after(() => {
    store.close();
    fs.rmSync(baseDir, { recursive: true, force: true });
  });
  const input: AuditEventInput[] = [];
  for (let i = 0; i < 300; i++) {
    input.push({ tenantId: i % 3 === 0 ? 'globex' : 'acme', timestamp: BASE + i * 1000, actor: { id: `u-${i % 4}`, type: 'user' }, action: i % 2 ? 'record.read' : 'auth.login', resource: { type: 'record', id: `r-${i}` }, details: { i, pad: 'x'.repeat(i % 50) } });
  }
  store.insertEvents(input);
  const events = [...store.iterateEvents({ allTenants: true })];
  assert.equal(events.length, 300);
  return { store, events };
}

test('rows kept past their step give their own bytes, and never a view the query has dropped', async (t) => {
  const { store, events } = await openStore(t);
  const byId = new Map(events.map((e) => [e.id, e]));
  for (const order of ['asc', 'desc'] as const) {
    for (const filter of [{ tenantId: 'acme' }, { tenantId: 'acme', actorId: 'u-1' }, { allTenants: true as const }]) {
      const kept: Row[] = [];
      const it = store.matchingRows(normaliseQuery({ ...filter, order }, 'all'));
      for (const row of it) {
        kept.push(row);
        if (kept.length === 40) {
          // The scans have moved on from every kept row but the last: each reads its event again.
          for (const r of kept) {
            const e = JSON.parse(r.bytes().toString('utf8')) as AuditEvent;
            assert.deepEqual(e, byId.get(e.id));
            assert.equal(e.timestamp, r.ts);
          }
          break;
        }
      }
      assert.equal(kept.length, 40);
      // Rows that read their event again keep that copy; the last one, whose view the scan dropped
      // when the query ended, has no snapshot left to read from.
      for (const r of kept.slice(0, -1)) assert.deepEqual(JSON.parse(r.bytes().toString('utf8')), byId.get((JSON.parse(r.bytes().toString('utf8')) as AuditEvent).id));
      // The last row's bytes were rebuilt from a stored form without id and timestamp (these events
      // are keyed by their own ULIDs: stored-event.ts), so they are its own copy, not a view of the
      // scan, and outlive the query; a view would have been dropped (ClosedError), never stale.
      const last = kept.at(-1)!;
      let lastBytes: Buffer | undefined;
      try {
        lastBytes = last.bytes();
      } catch (err) {
        assert.ok(err instanceof ClosedError, `expected ClosedError, got ${String(err)}`);
      }
      if (lastBytes !== undefined) {
        const e = JSON.parse(lastBytes.toString('utf8')) as AuditEvent;
        assert.deepEqual(e, byId.get(e.id));
        assert.equal(e.timestamp, last.ts);
      }
    }
  }
});

test('a changed store does not change what rows of an earlier query return', async (t) => {
  const { store, events } = await openStore(t);
  const it = store.matchingRows(normaliseQuery({ tenantId: 'acme', order: 'asc' }, 'all'));
  const first = it.next().value as Row;
  const firstBytes = Buffer.from(first.bytes());
  // Many more events of the same tenant commit and fold while the query is paused on its first row.
  const more: AuditEventInput[] = [];
  for (let i = 0; i < 2000; i++) more.push({ tenantId: 'acme', timestamp: BASE + i * 7, actor: { id: 'late', type: 'user' }, action: 'record.update', resource: { type: 'record', id: `n-${i}` } });
  store.insertEvents(more);
  assert.deepEqual(Buffer.from(first.bytes()), firstBytes);
  const second = it.next().value as Row;
  assert.deepEqual(Buffer.from(first.bytes()), firstBytes);
  const acme = events.filter((e) => e.tenantId === 'acme').sort((a, b) => (a.timestamp < b.timestamp ? -1 : 1));
  assert.equal((JSON.parse(firstBytes.toString('utf8')) as AuditEvent).id, acme[0]!.id);
  assert.equal((JSON.parse(second.bytes().toString('utf8')) as AuditEvent).id, acme[1]!.id);
  it.return(undefined);
});
