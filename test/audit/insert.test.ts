// The insert transaction (src/audit/insert.ts): duplicate detection when most events arrive in
// time order and are only looked up when their key is not above the tenant's last stored one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedbAuditStore, type AuditEventInput } from '../../src/index.js';
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
