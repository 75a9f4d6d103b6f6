/**
 * Child process for the CLI's live-store tests: opens the store at argv[2] for writing (as the agent
 * that owns it would) and commits a batch every few milliseconds until killed, saying "ready" once
 * the first one is durable. With argv[3] "audit" it inserts audit events instead of raw records.
 */
import { RedbManager } from '../../src/index.js';

const dir = process.argv[2]!;
const manifest = JSON.parse((await import('node:fs')).readFileSync(`${dir}/redb.manifest.json`, 'utf8')) as { shardCount: number };
const m = RedbManager.open({ baseDir: dir, shardingEnabled: manifest.shardCount > 1, shardCount: manifest.shardCount, checkpointWalBytes: 256 << 10 });
let n = 0;
const commit = (): void => {
  const ops = [];
  for (let i = 0; i < 200; i++, n++) ops.push({ tenantId: `tenant-${n % 7}`, table: 'records', key: Buffer.from(`live/${String(n).padStart(10, '0')}`), value: Buffer.from(`value ${n} `.repeat(6)) });
  m.writeBatch(ops);
};
commit();
process.stdout.write('ready\n');
setInterval(commit, 5);
process.on('SIGTERM', () => {
  m.close();
  process.exit(0);
});
