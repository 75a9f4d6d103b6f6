import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FeedPositionError } from '../../src/audit/feed.js';
import { Forwarder } from '../../src/forward/forwarder.js';
import { feedIds, fill, openStore } from '../support/audit-fixture.js';
import { PgServer, postgresSkipReason } from '../support/postgres.js';
import { tmpDir } from '../support/tmp.js';

describe('Forwarding a RedbAuditStore into a real PostgreSQL', { skip: postgresSkipReason }, () => {
  let pg: PgServer;
  before(async () => {
    pg = await PgServer.create();
  });
  after(() => pg?.destroy());

  test('every stored event arrives once, its jsonb equal to what the store returns, under a store id that survives reopening', async (t) => {
    const dir = tmpDir(t, 'fwd-store');
    let store = await openStore(dir);
    fill(store, 0, 900, 'a');
    const report = await new Forwarder(store, { connectionString: pg.connectionString, table: 'st_basic', batchSize: 128 }).runOnce();
    const ids = feedIds(store);
    assert.equal(report.forwarded, ids.flat().length);
    const rows = await pg.query<{ id: string; event: unknown; store_id: string; shard: number }>('SELECT id, event, store_id, shard FROM st_basic');
    assert.equal(rows.length, ids.flat().length);
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (let shard = 0; shard < ids.length; shard++) {
      for (const { event } of store.changes({ shard, after: 0 })) {
        const row = byId.get(event.id);
        assert.ok(row, `event ${event.id} is in PostgreSQL`);
        assert.deepEqual(row.event, event);
        assert.equal(row.shard, shard);
      }
    }
    const storeIds = new Set(rows.map((r) => r.store_id));
    assert.equal(storeIds.size, 1);
    store.close();
    store = await openStore(dir);
    t.after(() => store.close());
    fill(store, 900, 100, 'a');
    const again = await new Forwarder(store, { connectionString: pg.connectionString, table: 'st_basic' }).runOnce();
    assert.equal(again.forwarded, 100, 'the reopened store is the same store: only the new events are sent');
    const cursorStores = await pg.query<{ store_id: string }>(`SELECT DISTINCT store_id FROM redb_forward_cursors WHERE target = 'st_basic'`);
    assert.deepEqual(cursorStores.map((r) => r.store_id), [...storeIds]);
  });

  test("store.health() and store.metrics() carry the forwarder's lag", async (t) => {
    const store = await openStore(tmpDir(t, 'fwd-health'));
    t.after(() => store.close());
    fill(store, 0, 300, 'h');
    const fwd = new Forwarder(store, { connectionString: pg.connectionString, table: 'st_health' });
    const waiting = store.health();
    const component = waiting.components.find((c) => c.name === 'forwarder');
    assert.ok(component, 'the forwarder is a component of the store health report');
    assert.equal(component.status, 'healthy');
    assert.match(store.metrics(), /^redb_forward_lag_events\{shard="\d"\} [1-9]\d*$/m);
    await fwd.runOnce();
    assert.equal(fwd.lag().reduce((n, l) => n + l.events, 0), 0);
    assert.doesNotMatch(store.metrics(), /^redb_forward_lag_events\{shard="\d"\} [1-9]\d*$/m);
    await fwd.stop();
    assert.equal(store.health().components.length, 0, 'a stopped forwarder leaves the report');
  });

  test('events purged before they were forwarded stop the forwarder with the feed position error, and health turns unhealthy', async (t) => {
    const store = await openStore(tmpDir(t, 'fwd-purged'), 2);
    t.after(() => store.close());
    fill(store, 0, 200, 'p');
    const policies = Array.from({ length: 16 }, (_, i) => ({ tenantId: `tenant-${i}`, maxAgeDays: 1 }));
    assert.ok(store.purgeExpired({ now: Date.UTC(2030, 0, 1), policies }).purged > 0);
    const fwd = new Forwarder(store, { connectionString: pg.connectionString, table: 'st_purged' });
    await assert.rejects(fwd.runOnce(), (err: unknown) => err instanceof FeedPositionError && /no longer available/.test(err.message));
    const health = store.health();
    assert.equal(health.status, 'unhealthy');
    assert.match(health.components[0]!.problems.join(' '), /forwarder: forwarding stopped: feed position 0 of shard \d is no longer available/);
    await fwd.stop();
  });
});
