// The insert transaction (src/audit/insert.ts): duplicate detection when most events arrive in
// time order and are only looked up when their key is not above the tenant's last stored one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedbAuditStore, type AuditEventInput } from '../../src/index.js';
import { idBytes, idKeyOf, indexKey, prefixEnd, resourceWeek, resourcePrefix } from '../../src/audit/keys.js';
import { T_INDEX, T_TENANTS } from '../../src/audit/tables.js';
import { lookupTenant } from '../../src/audit/tenants.js';
import { newUlid } from '../../src/audit/ulid.js';

const T0 = Date.UTC(2026, 5, 1);

function ev(tenantId: string, timestamp: number, id = newUlid(timestamp)): AuditEventInput {
  return { id, tenantId, timestamp, actor: { id: 'u1' }, action: 'record.read', resource: { type: 'doc', id: 'd1' } };
}

test('caller ULIDs are duplicates whether their key lies below, at or above the tenant\'s last stored event, in the store or earlier in the batch', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-insert-'));
  try {
    let store = await RedbAuditStore.open({ baseDir: dir, durability: 'none' });
    const stored = [ev('a', T0), ev('a', T0 + 10), ev('a', T0 + 20), ev('b', T0 + 5)];
    assert.equal(store.insertEvents(stored).inserted, 4);
    const check = (s: RedbAuditStore): void => {
      const above = ev('a', T0 + 30);
      const r = s.insertEvents([
        stored[1]!, // below the last key of tenant a
        above, // above it: inserted
        stored[2]!, // exactly the last stored key
        above, // above the stored keys but inserted just before in this batch
        stored[3]!, // tenant b's last key
        ev('b', T0 + 1), // below b's last key, new: inserted
      ]);
      assert.deepEqual([r.inserted, r.duplicates], [2, 4]);
      assert.deepEqual(r.ids, [stored[1]!.id, above.id, stored[2]!.id, above.id, stored[3]!.id, r.ids[5]]);
    };
    check(store);
    assert.equal(store.countEvents({ tenantId: 'a' }), 4);
    assert.equal(store.countEvents({ tenantId: 'b' }), 2);
    store.close();
    // The same from the page file after reopening (no memtable holds the keys).
    store = await RedbAuditStore.open({ baseDir: dir, durability: 'none' });
    assert.equal(store.insertEvents([stored[0]!, stored[2]!, stored[3]!]).duplicates, 3);
    check(store);
    assert.equal(store.countEvents({ tenantId: 'a' }), 5);
    assert.equal(store.countEvents({ tenantId: 'b' }), 3);
    assert.equal(store.verify().ok, true);
    store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('resource index entries are the keys of resourcePrefix(type NUL id, week), ASCII or not, so queries by resource find them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-insert-'));
  try {
    const store = await RedbAuditStore.open({ baseDir: dir, durability: 'none' });
    const resources = [{ type: 'doc', id: 'd1' }, { type: 'döc', id: 'd2' }, { type: 'doc', id: '文書-\u{1F600}' }, { type: 'x'.repeat(300), id: 'é'.repeat(200) }];
    const r = store.insertEvents(resources.map((resource, i) => ({ tenantId: 'r', timestamp: T0 + i, actor: { id: 'u1' }, action: 'record.read', resource })));
    assert.equal(r.inserted, resources.length);
    const snap = store.manager.shardAt(0).read();
    try {
      const no = lookupTenant(snap.table(T_TENANTS), 'r')!;
      const ix = snap.table(T_INDEX);
      resources.forEach((res, i) => {
        const id = store.queryEvents({ tenantId: 'r', resourceType: res.type, resourceId: res.id }).events.map((e) => e.id);
        assert.deepEqual(id, [r.ids[i]]);
        const prefix = resourcePrefix(no, `${res.type}\u0000${res.id}`, resourceWeek(T0 + i));
        const keys = [...ix.range({ gte: prefix, lt: prefixEnd(prefix)! })].map((en) => Buffer.from(en.key));
        assert.equal(keys.length, 1);
        assert.deepEqual(keys[0], indexKey(prefix, T0 + i, idKeyOf(idBytes(r.ids[i]!), T0 + i)));
      });
    } finally {
      snap.close();
    }
    store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
