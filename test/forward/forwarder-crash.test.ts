import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Forwarder } from '../../src/forward/forwarder.js';
import { feedIds, fill, openStore } from '../support/audit-fixture.js';
import { PgServer, postgresSkipReason } from '../support/postgres.js';
import { tmpDir } from '../support/tmp.js';
import { childArgs } from '../support/child-script.js';

const CHILD = path.join(import.meta.dirname, 'forward-child.ts');

interface Child {
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  ready: Promise<void>;
  kill(): void;
}

function runChild(args: string[]): Child {
  const child = spawn(process.execPath, childArgs(CHILD, ...args), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('ready\n')) onReady();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { exited, ready, kill: () => child.kill('SIGKILL') };
}

describe('Forwarder crash safety against a real PostgreSQL', { skip: postgresSkipReason }, () => {
  let pg: PgServer;
  before(async () => {
    pg = await PgServer.create();
  });
  after(() => pg?.destroy());

  const rows = async (table: string): Promise<number> =>
    Number((await pg.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`).catch(() => [{ n: '0' }]))[0]!.n);

  /** Both sides compared in one query per shard: rows, distinct ids, and ids missing or extra. */
  async function assertExactlyOnce(table: string, ids: string[][]): Promise<void> {
    assert.ok(ids.flat().length > 0);
    for (let s = 0; s < ids.length; s++) {
      const [r] = await pg.query<{ rows: string; distinct_ids: string; missing: string; extra: string }>(
        `WITH store AS (SELECT unnest($1::text[]) AS id),
              pg AS (SELECT id FROM ${table} WHERE shard = $2)
         SELECT (SELECT count(*) FROM pg) AS rows,
                (SELECT count(DISTINCT id) FROM pg) AS distinct_ids,
                (SELECT count(*) FROM store WHERE id NOT IN (SELECT id FROM pg)) AS missing,
                (SELECT count(*) FROM pg WHERE id NOT IN (SELECT id FROM store)) AS extra`,
        [ids[s], s],
      );
      assert.deepEqual(
        { rows: Number(r!.rows), distinct: Number(r!.distinct_ids), missing: Number(r!.missing), extra: Number(r!.extra) },
        { rows: ids[s]!.length, distinct: ids[s]!.length, missing: 0, extra: 0 },
        `shard ${s}: every event exactly once`,
      );
    }
  }

  test('a forwarder killed with SIGKILL mid-batch, again and again, loses and duplicates nothing', async (t) => {
    const table = 'ev_kill';
    const dir = tmpDir(t, 'fwd-kill');
    const store = await openStore(dir);
    fill(store, 0, 4000, 'kill');
    const ids = feedIds(store);
    const total = ids.flat().length;
    const heads = ids.map((_, s) => [...store.changes({ shard: s, after: 0 })].pop()?.seq ?? 0);
    store.close();
    const spec = `store:4:${dir}`;
    let previous = 0;
    let midway = 0;
    for (let round = 0; round < 4; round++) {
      const child = runChild([pg.connectionString, table, 'tail', spec]);
      await Promise.race([child.ready, child.exited]);
      // Kill once this child has committed something, at a random moment within its next few batches.
      const deadline = Date.now() + 20_000;
      while ((await rows(table)) === previous && previous < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      child.kill();
      const { signal, stderr } = await child.exited;
      assert.equal(signal, 'SIGKILL', `round ${round}: the child was killed, not stopped (${stderr})`);
      const now = await rows(table);
      assert.ok(now >= previous, 'rows never disappear');
      if (now > previous && now < total) midway++;
      previous = now;
    }
    assert.ok(midway > 0, 'at least one kill landed while forwarding was under way');
    const final = runChild([pg.connectionString, table, 'once', spec]);
    const { code, stdout, stderr } = await final.exited;
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as { cursors: number[] };
    assert.deepEqual(report.cursors, heads);
    await assertExactlyOnce(table, ids);
  });

  test('PostgreSQL stopped and restarted while forwarding: the forwarder retries and every event arrives once', async (t) => {
    const table = 'ev_restart';
    const store = await openStore(tmpDir(t, 'fwd-restart'));
    t.after(() => store.close());
    fill(store, 0, 3000, 'restart');
    let next = 3000;
    const fwd = new Forwarder(store, { connectionString: pg.connectionString, table, batchSize: 200, retryInitialMs: 20, retryMaxMs: 300 });
    fwd.start();
    for (const mode of ['fast', 'immediate', 'fast'] as const) {
      const before = await rows(table);
      while ((await rows(table)) === before && fwd.lag().some((l) => l.events > 0)) await new Promise((r) => setTimeout(r, 10));
      pg.stop(mode);
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(fwd.health().status !== 'healthy' || fwd.lag().every((l) => l.events === 0), 'health() reports the failing server');
      await pg.start();
      fill(store, next, 300, 'restart');
      next += 300;
    }
    while (fwd.lag().some((l) => l.events > 0)) {
      assert.equal(fwd.error, null);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(fwd.metrics(), /^redb_forward_retries_total [1-9]\d*$/m);
    await fwd.stop();
    await assertExactlyOnce(table, feedIds(store));
  });
});
