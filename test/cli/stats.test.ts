import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { cli, cliSpawn, json, tmp } from './harness.js';
import { initEntries, seedKv } from './seed.js';

interface StatsJson {
  status: string;
  shards: { shard: number; entries: number; pageFileBytes: number }[];
  totals: { entries: number };
}

test('stats reports every shard, the entries and the sizes, and exits 0 on a healthy store', (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir, '--shards', '4']).code, 0);
  seedKv(dir, 2500, 4);
  const r = cli(['stats', '--dir', dir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = json<StatsJson>(r);
  assert.equal(out.status, 'healthy');
  assert.equal(out.shards.length, 4);
  assert.equal(out.totals.entries, 2500 + initEntries(4));
  assert.ok(out.shards.every((s) => s.pageFileBytes > 0));
  const human = cli(['stats', '--dir', dir]);
  assert.match(human.stdout, new RegExp(`4 shard\\(s\\), ${2500 + initEntries(4)} entries`));
});

test('stats --watch --json prints one report per interval until SIGINT', async (t) => {
  const dir = path.join(tmp(t), 's');
  assert.equal(cli(['init', '--dir', dir]).code, 0);
  const child = cliSpawn(['stats', '--dir', dir, '--json', '--watch', '--interval', '1']);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (out.split('\n').filter(Boolean).length >= 2) {
        clearInterval(check);
        resolve();
      }
    }, 50);
  });
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
  for (const line of out.trim().split('\n')) assert.equal(JSON.parse(line).status, 'healthy');
});
