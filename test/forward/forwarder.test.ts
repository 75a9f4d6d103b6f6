import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ForwardError, ValidationError } from '../../src/errors.js';
import { Forwarder, type ChangeFeedSource } from '../../src/forward/forwarder.js';
import { feedEvent, MemoryFeed } from '../support/memory-feed.js';
import { PgServer, postgresSkipReason } from '../support/postgres.js';

describe('Forwarder against a real PostgreSQL', { skip: postgresSkipReason }, () => {
  let pg: PgServer;
  before(async () => {
    pg = await PgServer.create();
  });
  after(() => pg?.destroy());

  const forwarder = (feed: ChangeFeedSource, table: string, extra: Partial<ConstructorParameters<typeof Forwarder>[1]> = {}): Forwarder =>
    new Forwarder(feed, { connectionString: pg.connectionString, table, batchSize: 50, retryInitialMs: 10, retryMaxMs: 200, ...extra });

  /** Every (id, count) in the table, and the ids the feed holds. */
  async function compare(table: string, feeds: MemoryFeed[]): Promise<void> {
    const expected = new Set<string>();
    for (const feed of feeds) for (let s = 0; s < feed.shardCount; s++) for (const c of feed.changes({ shard: s, after: 0 })) expected.add(c.event.id);
    const [totals] = await pg.query<{ n: string; d: string }>(`SELECT count(*) AS n, count(DISTINCT id) AS d FROM ${table}`);
    assert.equal(Number(totals!.n), expected.size, 'rows in PostgreSQL = events in the store');
    assert.equal(Number(totals!.d), expected.size, 'no id twice');
    const ids = await pg.query<{ id: string }>(`SELECT id FROM ${table}`);
    assert.deepEqual(new Set(ids.map((r) => r.id)), expected);
  }

  test('every event of every shard arrives once, in monthly partitions, with each cursor at its shard head', async () => {
    const feed = new MemoryFeed('store-a', 3, 230);
    const report = await forwarder(feed, 'ev_basic').runOnce();
    assert.equal(report.forwarded, 690);
    assert.equal(report.skipped, 0);
    assert.equal(report.batches, 3 * Math.ceil(230 / 50));
    assert.deepEqual(report.cursors, [230, 230, 230]);
    await compare('ev_basic', [feed]);
    const parts = await pg.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'ev_basic'::regclass ORDER BY 1`,
    );
    const months = new Set<string>();
    for (let s = 0; s < 3; s++) for (let q = 1; q <= 230; q++) months.add(new Date(feedEvent('store-a', s, q).timestamp).toISOString().slice(0, 7).replace('-', ''));
    assert.deepEqual(parts.map((p) => p.name), [...months].sort().map((m) => `ev_basic_p${m}`));
    const cursors = await pg.query<{ shard: number; seq: string }>(`SELECT shard, seq FROM redb_forward_cursors WHERE store_id = 'store-a' AND target = 'ev_basic' ORDER BY shard`);
    assert.deepEqual(cursors.map((c) => [c.shard, Number(c.seq)]), [[0, 230], [1, 230], [2, 230]]);
  });

  test('the columns and the jsonb event hold exactly what the store returns', async () => {
    const feed = new MemoryFeed('store-cols', 1, 3);
    await forwarder(feed, 'ev_cols').runOnce();
    const rows = await pg.query<Record<string, unknown>>(`SELECT * FROM ev_cols ORDER BY seq`);
    assert.equal(rows.length, 3);
    rows.forEach((row, i) => {
      const e = feedEvent('store-cols', 0, i + 1);
      assert.equal(row.id, e.id);
      assert.equal((row.timestamp as Date).getTime(), e.timestamp);
      assert.equal(row.tenant_id, e.tenantId);
      assert.equal(row.action, e.action);
      assert.equal(row.actor_id, e.actor.id);
      assert.equal(row.outcome, e.outcome);
      assert.equal(row.resource_id, e.resource.id);
      assert.equal(row.store_id, 'store-cols');
      assert.equal(row.shard, 0);
      assert.equal(Number(row.seq), i + 1);
      assert.deepEqual(row.event, e);
    });
  });

  test('a second run forwards only what was committed since the first', async () => {
    const feed = new MemoryFeed('store-b', 2, 40);
    const fwd = forwarder(feed, 'ev_incr');
    assert.equal((await fwd.runOnce()).forwarded, 80);
    feed.append(25);
    const second = await forwarder(feed, 'ev_incr').runOnce();
    assert.equal(second.forwarded, 50);
    assert.equal(second.skipped, 0);
    assert.equal((await fwd.runOnce()).forwarded, 0);
    await compare('ev_incr', [feed]);
  });

  test('two stores forward into one table, each with its own cursors', async () => {
    const a = new MemoryFeed('store-x', 2, 60);
    const b = new MemoryFeed('store-y', 3, 45);
    await Promise.all([forwarder(a, 'ev_shared').runOnce(), forwarder(b, 'ev_shared').runOnce()]);
    await compare('ev_shared', [a, b]);
    const rows = await pg.query<{ store_id: string; n: string }>(`SELECT store_id, count(*) AS n FROM redb_forward_cursors WHERE target = 'ev_shared' GROUP BY 1 ORDER BY 1`);
    assert.deepEqual(rows.map((r) => [r.store_id, Number(r.n)]), [['store-x', 2], ['store-y', 3]]);
  });

  test('two forwarders of one store racing into one table still write every event once', async () => {
    const feed = new MemoryFeed('store-race', 3, 400);
    const [a, b] = await Promise.all([forwarder(feed, 'ev_race', { batchSize: 20 }).runOnce(), forwarder(feed, 'ev_race', { batchSize: 20 }).runOnce()]);
    assert.equal(a.forwarded + b.forwarded, 1200);
    await compare('ev_race', [feed]);
    const cursors = await pg.query<{ seq: string }>(`SELECT seq FROM redb_forward_cursors WHERE store_id = 'store-race' AND target = 'ev_race'`);
    assert.deepEqual(cursors.map((c) => Number(c.seq)), [400, 400, 400]);
  });

  test('a cursor moved back by hand re-sends events, and ON CONFLICT keeps each row single', async () => {
    const feed = new MemoryFeed('store-c', 1, 120);
    await forwarder(feed, 'ev_reset').runOnce();
    await pg.query(`UPDATE redb_forward_cursors SET seq = 30, last_id = NULL WHERE store_id = 'store-c' AND target = 'ev_reset'`);
    const again = await forwarder(feed, 'ev_reset').runOnce();
    assert.equal(again.forwarded, 0);
    assert.equal(again.skipped, 90);
    await compare('ev_reset', [feed]);
  });

  test('a PostgreSQL cursor past the store\'s feed stops the forwarder with ForwardError feed-diverged', async () => {
    const feed = new MemoryFeed('store-d', 2, 20);
    await forwarder(feed, 'ev_diverged').runOnce();
    const older = new MemoryFeed('store-d', 2, 10); // the same store id, restored from an older copy
    older.append(5);
    await assert.rejects(forwarder(older, 'ev_diverged').runOnce(), (err: unknown) => err instanceof ForwardError && err.reason === 'feed-diverged' && /shard \d is at sequence 20, past the store's last commit 15/.test(err.message));
    const [n] = await pg.query<{ n: string }>('SELECT count(*) AS n FROM ev_diverged');
    assert.equal(Number(n!.n), 40);
  });

  test('a feed whose event at the cursor is not the one forwarded there is refused as diverged', async () => {
    await forwarder(new MemoryFeed('store-i', 1, 30), 'ev_swap').runOnce();
    const other = new MemoryFeed('store-i', 1, 40);
    const swapped: ChangeFeedSource = {
      storeId: 'store-i',
      shardCount: 1,
      feedHead: (shard) => other.feedHead(shard),
      *changes(o) {
        for (const c of other.changes(o)) yield { ...c, event: { ...c.event, id: `other-${c.seq}` } };
      },
    };
    await assert.rejects(
      forwarder(swapped, 'ev_swap').runOnce(),
      (err: unknown) => err instanceof ForwardError && err.reason === 'feed-diverged' && /PostgreSQL has event store-i-0-30 but the store has event other-30/.test(err.message),
    );
  });

  test('the background forwarder follows new commits; lag, health and metrics reach the store', async () => {
    const feed = new MemoryFeed('store-e', 2, 100);
    const fwd = forwarder(feed, 'ev_tail', { pollIntervalMs: 20 });
    assert.equal(fwd.lag().reduce((n, l) => n + l.events, 0), 200, 'nothing forwarded yet: the whole feed is lag');
    fwd.start();
    const waitCaughtUp = async (): Promise<void> => {
      while (fwd.lag().some((l) => l.events > 0)) {
        assert.equal(fwd.error, null);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitCaughtUp();
    feed.append(77);
    assert.equal(fwd.lag()[1]!.events, 77);
    await waitCaughtUp();
    const source = feed.sources.get('forwarder');
    assert.ok(source, 'the forwarder registered itself with the store');
    assert.equal(source.health().status, 'healthy');
    const metrics = source.metrics();
    assert.match(metrics, /^redb_forward_lag_events\{shard="1"\} 0$/m);
    assert.match(metrics, /^redb_forward_cursor\{shard="0"\} 177$/m);
    assert.match(metrics, /^redb_forward_events_total\{shard="1"\} 177$/m);
    assert.match(metrics, /^redb_forward_connections 2$/m);
    await fwd.stop();
    assert.equal(fwd.running, false);
    assert.equal(feed.sources.size, 0, 'stop() unregisters from the store');
    await compare('ev_tail', [feed]);
  });

  test('a server that never answers ends runOnce with ForwardError retries-exhausted', async () => {
    const feed = new MemoryFeed('store-f', 1, 5);
    const dead = new Forwarder(feed, { connectionString: `postgresql://postgres@127.0.0.1:1/postgres`, retryInitialMs: 1, retryMaxMs: 5, maxRetries: 3 });
    await assert.rejects(dead.runOnce(), (err: unknown) => err instanceof ForwardError && err.reason === 'retries-exhausted' && /ECONNREFUSED|connect/.test(err.message));
    assert.equal(dead.health().status, 'unhealthy');
  });

  test('data PostgreSQL refuses stops the forwarder with ForwardError rejected, and writes nothing', async () => {
    const feed = new MemoryFeed('store-g', 1, 3);
    await pg.query(`CREATE TABLE ev_refused (id text) PARTITION BY RANGE (id)`);
    await assert.rejects(forwarder(feed, 'ev_refused').runOnce(), (err: unknown) => err instanceof ForwardError && err.reason === 'rejected');
    const cursors = await pg.query(`SELECT 1 FROM redb_forward_cursors WHERE store_id = 'store-g' AND seq > 0`);
    assert.equal(cursors.length, 0);
  });

  test('bad options are ValidationErrors naming the option', () => {
    const feed = new MemoryFeed('store-h', 1);
    assert.throws(() => new Forwarder(feed, { connectionString: '' }), (e: unknown) => e instanceof ValidationError && /connectionString/.test(e.message));
    assert.throws(() => new Forwarder(feed, { connectionString: 'postgresql://x', table: 'drop table; --' }), (e: unknown) => e instanceof ValidationError && /invalid target table name/.test(e.message));
    assert.throws(() => new Forwarder(feed, { connectionString: 'postgresql://x', batchSize: 0 }), (e: unknown) => e instanceof ValidationError && /batchSize/.test(e.message));
  });
});
