// Checkpoint time alone, for comparing changes to the checkpoint path (docs/performance.md, stop 23):
// 1,000,000 random puts (kv.bulk's key and value shapes) checkpointed once, then three rounds of
// 300,000 more random puts each followed by a timed `checkpoint()`, which rewrites most leaves of the
// tree. Durability `none` and no automatic checkpoints, so that only the timed checkpoints fold and
// write. Prints wall and process CPU time per checkpoint (CPU includes the compression workers).
//
//   npx tsx bench/checkpoint-time.ts [--threads N] [--base N] [--round N] [--page-size N]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Database } from '../src/index.js';
import { makeKeys, makeValues, streamRng } from './data.js';

const { values: args } = parseArgs({ options: { threads: { type: 'string' }, base: { type: 'string' }, round: { type: 'string' }, 'page-size': { type: 'string' } } });
const base = Number(args.base ?? 1_000_000);
const round = Number(args.round ?? 300_000);
const PER_COMMIT = 10_000;

const dir = mkdtempSync(join(tmpdir(), 'checkpoint-time-'));
try {
  const db = Database.open(dir, {
    durability: 'none',
    memtableBytes: 2 ** 31,
    checkpointWalBytes: 2 ** 40,
    checkpointIntervalMs: 0,
    ...(args.threads !== undefined ? { compressionThreads: Number(args.threads) } : {}),
    ...(args['page-size'] !== undefined ? { pageSize: Number(args['page-size']) } : {}),
  });
  const keys = streamRng(1, 'checkpoint-time-keys');
  const values = streamRng(1, 'checkpoint-time-values');
  const load = (n: number): void => {
    for (let first = 0; first < n; first += PER_COMMIT) {
      const k = makeKeys(keys, PER_COMMIT);
      const v = makeValues(values, PER_COMMIT, first);
      db.write((tx) => {
        for (let j = 0; j < PER_COMMIT; j++) tx.put(k[j]!, v[j]!);
      });
    }
  };
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  load(base);
  db.checkpoint();
  const out: string[] = [];
  for (let r = 0; r < 3; r++) {
    load(round);
    const t0 = performance.now();
    const c0 = cpu();
    db.checkpoint();
    out.push(`${(performance.now() - t0).toFixed(0)} ms (${(cpu() - c0).toFixed(2)} s CPU)`);
  }
  console.log(`compressionThreads ${args.threads ?? 'default'}, pageSize ${args['page-size'] ?? 'default'}: checkpoints ${out.join(', ')}`);
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
