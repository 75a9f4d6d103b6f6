import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RedbAuditStore } from '../../src/audit/audit-store.js';
import { storeId } from '../../src/audit/store-id.js';
import { ForwardError } from '../../src/errors.js';
import { Forwarder } from '../../src/forward/forwarder.js';
import { RedbManager } from '../../src/manager/redb-manager.js';
import { feedIds, fill, openStore } from '../support/audit-fixture.js';
import { PgServer, postgresSkipReason } from '../support/postgres.js';
import { tmpDir } from '../support/tmp.js';

/** Every shard's feed as [seq, id] pairs. */
function feed(store: RedbAuditStore): [number, string][][] {
  return Array.from({ length: store.manager.shardCount }, (_, shard) => [...store.changes({ shard, after: 0 })].map((c): [number, string] => [c.seq, c.event.id]));
}

test('feed positions survive checkpoints, WAL trimming, compaction and reopening, and are never reused', async (t) => {
  const dir = tmpDir(t, 'feed-life');
  let store = await openStore(dir, 2);
  fill(store, 0, 500, 'a');
  const first = feed(store);
  store.checkpoint();
  for (let s = 0; s < 2; s++) store.manager.shardAt(s).compact();
  fill(store, 500, 300, 'a');
  store.checkpoint();
  const second = feed(store);
  store.close();
  store = await openStore(dir, 2);
  t.after(() => store.close());
  assert.deepEqual(feed(store), second, 'reopening changes no position');
  for (let s = 0; s < 2; s++) {
    assert.deepEqual(second[s]!.slice(0, first[s]!.length), first[s], `shard ${s}: earlier positions kept their events`);
    const seqs = second[s]!.map(([q]) => q);
    assert.ok(seqs.every((q, i) => i === 0 || q > seqs[i - 1]!), `shard ${s}: positions ascend`);
  }
  const heads = second.map((f) => f[f.length - 1]![0]);
  fill(store, 800, 100, 'a');
  const third = feed(store);
  for (let s = 0; s < 2; s++) assert.ok(third[s]!.slice(second[s]!.length).every(([q]) => q > heads[s]!), `shard ${s}: new positions follow the old head`);
});

describe('forwarding across backup and restore', { skip: postgresSkipReason }, () => {
  let pg: PgServer;
  before(async () => {
    pg = await PgServer.create();
  });
  after(() => pg?.destroy());

  test('a restored store keeps its id and feed, resumes exactly once, and the replaced copy is refused as diverged', async (t) => {
    const root = tmpDir(t, 'feed-restore');
    const options = { connectionString: pg.connectionString, table: 'life_events' };
    const original = await openStore(path.join(root, 'a'));
    fill(original, 0, 400, 'r');
    await new Forwarder(original, options).runOnce();
    await original.backup(path.join(root, 'backup'));
    const atBackup = feed(original);
    const originalId = storeId(original.manager);
    original.close();

    RedbManager.restore(path.join(root, 'backup'), path.join(root, 'b'));
    const restored = await openStore(path.join(root, 'b'));
    t.after(() => restored.close());
    assert.equal(storeId(restored.manager), originalId, 'the same store id');
    const before = feed(restored);
    for (let s = 0; s < before.length; s++) assert.deepEqual(before[s], atBackup[s]!.slice(0, before[s]!.length), `shard ${s}: the backup holds the feed as it was`);

    fill(restored, 400, 150, 'r');
    const again = await new Forwarder(restored, options).runOnce();
    assert.ok(again.forwarded >= 150);
    const ids = feedIds(restored);
    const [r] = await pg.query<{ n: string; d: string; missing: string }>(
      `SELECT count(*) AS n, count(DISTINCT id) AS d, (SELECT count(*) FROM unnest($1::text[]) AS s(id) WHERE id NOT IN (SELECT id FROM life_events)) AS missing FROM life_events`,
      [ids.flat()],
    );
    assert.deepEqual([Number(r!.n), Number(r!.d), Number(r!.missing)], [ids.flat().length, ids.flat().length, 0], 'every event of the restored store once, nothing else');

    // The copy the restore replaced went on to commit different events at the same positions.
    const replaced = await openStore(path.join(root, 'a'));
    t.after(() => replaced.close());
    fill(replaced, 0, 10, 'stale');
    await assert.rejects(new Forwarder(replaced, options).runOnce(), (err: unknown) => err instanceof ForwardError && err.reason === 'feed-diverged');
  });
});
