// Backup figures for docs/operations.md: a full backup of a sharded store of JSON audit events, the
// event loop's delay while it runs, then an incremental after 1% more events, verifyBackup, restore,
// and verify() of the restored store.
//
//   npx tsx bench/backup.ts [--events-per-shard N]   (default 100000; 4 shards; works in a temp dir)

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { RedbManager } from '../src/index.js';
import { footprint } from './workloads.js';

const { values } = parseArgs({ options: { 'events-per-shard': { type: 'string', default: '100000' } } });
const perShard = Number(values['events-per-shard']);
const shardCount = 4;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'redb-backup-bench-'));

/** An audit event as JSON: mostly repetitive fields, plus a random nonce (so it does not compress away). */
function event(i: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: i,
      ts: 1763800000000 + i * 13,
      actor: `user-${i % 311}`,
      action: ['read', 'write', 'delete', 'login'][i % 4],
      resource: `patient/${(i * 7919) % 100000}`,
      outcome: i % 17 === 0 ? 'denied' : 'ok',
      nonce: crypto.randomBytes(8).toString('hex'),
    }),
  );
}

function append(m: RedbManager, from: number, count: number): void {
  for (let s = 0; s < shardCount; s++) {
    for (let b = from; b < from + count; b += 10_000) {
      m.shardAt(s).write((tx) => {
        for (let i = b; i < Math.min(b + 10_000, from + count); i++) tx.put(Buffer.from(`ev/${String(i).padStart(10, '0')}`), event(i));
      });
    }
  }
}

const timed = async <T>(fn: () => T | Promise<T>): Promise<[T, number]> => {
  const t = performance.now();
  const r = await fn();
  return [r, Math.round(performance.now() - t)];
};

try {
  const options = { baseDir: path.join(root, 'store'), shardingEnabled: true, shardCount, checkpointIntervalMs: 0 };
  const m = RedbManager.open(options);
  append(m, 0, perShard);
  m.checkpoint();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const [full, fullMs] = await timed(() => m.backup(path.join(root, 'full')));
  delay.disable();
  append(m, perShard, perShard / 100);
  const [inc, incMs] = await timed(() => m.backup(path.join(root, 'inc'), { since: path.join(root, 'full') }));
  const storeBytes = footprint(options.baseDir).bytes;
  m.close();
  const [check, verifyMs] = await timed(() => RedbManager.verifyBackup(path.join(root, 'inc')));
  const [, restoreMs] = await timed(() => RedbManager.restore(path.join(root, 'inc'), path.join(root, 'restored')));
  const restored = RedbManager.open({ ...options, baseDir: path.join(root, 'restored'), checksumVerification: false });
  const [verified, restoredVerifyMs] = await timed(() => restored.verify().ok);
  restored.close();
  console.log(
    JSON.stringify(
      {
        events: shardCount * perShard,
        storeBytes,
        full: { bytes: footprint(path.join(root, 'full')).bytes, ms: fullMs, blocks: full.shards.reduce((n, s) => n + s.blocks, 0) },
        eventLoopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
        incremental: { bytes: footprint(path.join(root, 'inc')).bytes, ms: incMs, storedBlocks: inc.shards.reduce((n, s) => n + s.storedBlocks, 0) },
        verifyBackup: { ok: check.ok, ms: verifyMs },
        restore: { ms: restoreMs, verifyOk: verified, verifyMs: restoredVerifyMs },
      },
      null,
      2,
    ),
  );
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
