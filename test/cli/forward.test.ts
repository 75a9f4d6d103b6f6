import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { feedIds, fill, openStore } from '../support/audit-fixture.js';
import { PgServer, postgresSkipReason } from '../support/postgres.js';
import { cli, cliSpawn, json, tmp } from './harness.js';

describe('redb-audit forward', { skip: postgresSkipReason }, () => {
  let pg: PgServer;
  before(async () => {
    pg = await PgServer.create();
  });
  after(() => pg?.destroy());

  test('--once forwards everything committed, exits 0, and a second run sends nothing new', async (t) => {
    const dir = path.join(tmp(t), 's');
    assert.equal(cli(['init', '--dir', dir, '--shards', '2']).code, 0);
    const store = await openStore(dir, 2);
    fill(store, 0, 700, 'cli');
    const ids = feedIds(store).flat();
    store.close();
    const first = cli(['forward', '--dir', dir, '--pg', pg.connectionString, '--table', 'cli_events', '--once', '--json', '--batch-size', '100']);
    assert.equal(first.code, 0, first.stderr);
    const report = json<{ forwarded: number; cursors: number[] }>(first);
    assert.equal(report.forwarded, ids.length);
    const [r] = await pg.query<{ n: string; d: string }>('SELECT count(*) AS n, count(DISTINCT id) AS d FROM cli_events');
    assert.deepEqual([Number(r!.n), Number(r!.d)], [ids.length, ids.length]);
    const second = cli(['forward', '--dir', dir, '--table', 'cli_events', '--once'], { env: { REDB_AUDIT_PG: pg.connectionString } });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^forwarded 0 event\(s\)/m);
  });

  test('without --once it tails until SIGTERM, then stops cleanly with exit 0', async (t) => {
    const dir = path.join(tmp(t), 's');
    assert.equal(cli(['init', '--dir', dir, '--shards', '2']).code, 0);
    const store = await openStore(dir, 2);
    fill(store, 0, 300, 'tail');
    const total = feedIds(store).flat().length;
    store.close();
    const child = cliSpawn(['forward', '--dir', dir, '--pg', pg.connectionString, '--table', 'cli_tail', '--json']);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    t.after(() => child.kill('SIGKILL'));
    const count = async (): Promise<number> => Number((await pg.query<{ n: string }>('SELECT count(*) AS n FROM cli_tail').catch(() => [{ n: '0' }]))[0]!.n);
    const deadline = Date.now() + 60_000;
    while ((await count()) < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await count(), total);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    const out = JSON.parse(stdout.trim()) as { stopped: boolean; lag: { events: number }[] };
    assert.equal(out.stopped, true);
    assert.deepEqual(out.lag.map((l) => l.events), [0, 0]);
  });

  test('without a connection string it is an invalid-input error; an unreachable server exits 7 after the retries', (t) => {
    const dir = path.join(tmp(t), 's');
    assert.equal(cli(['init', '--dir', dir]).code, 0);
    const missing = cli(['forward', '--dir', dir, '--once']);
    assert.equal(missing.code, 4, missing.stderr);
    assert.match(missing.stderr, /^error: give the PostgreSQL connection string with --pg/);
    const dead = cli(['forward', '--dir', dir, '--once', '--pg', 'postgresql://postgres@127.0.0.1:1/postgres', '--max-retries', '1']);
    assert.equal(dead.code, 7, dead.stderr);
    assert.match(dead.stderr, /^error: PostgreSQL stayed unreachable after 2 attempts/);
  });
});
