/**
 * The audit store keeps its last page query's objects (ended) so that their shapes outlive the
 * query (audit-store.ts, lastPage). What it keeps must pin nothing of the shard: once later commits
 * and a checkpoint replace the version that query read, that version can be collected.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fullGc } from '../support/full-gc.js';
import { fill, openStore, sampleEvent } from '../support/audit-fixture.js';
import { tmpDir } from '../support/tmp.js';

test('what the store keeps of its last query pins no version of the shard it read', async (t) => {
  const store = await openStore(tmpDir(t, 'last-query'), 1);
  t.after(() => store.close());
  fill(store, 0, 400);
  const tenantId = sampleEvent(0).tenantId;
  const shard = store.manager.shardAt(0);
  const snap = shard.read();
  const version = new WeakRef(snap.liveVersion());
  snap.close();
  // A page that stops at its limit (its last row and the scans' heads stay with the store) and one
  // through an index.
  const page = store.queryEvents({ tenantId, limit: 5 });
  assert.equal(page.events.length, 5);
  assert.ok(page.nextCursor);
  assert.equal(store.queryEvents({ tenantId, actorId: 'user-0', limit: 3 }).events.length, 3);
  fill(store, 400, 400);
  shard.checkpoint();
  fill(store, 800, 100);
  await fullGc();
  assert.equal(version.deref(), undefined, 'the last query still pins the version it read');
  // Later queries read the newer version: the newest event of the tenant is from the last fill.
  assert.equal(store.queryEvents({ tenantId, limit: 1 }).events[0]!.id, sampleEvent(896).id);
});
