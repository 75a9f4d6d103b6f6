/**
 * Child process for the CLI's live-store tests: opens the store at argv[2] for writing (as the agent
 * that owns it would) and commits a batch every few milliseconds until killed, saying "ready" once
 * the first one is durable. argv[3] "kv" writes raw records through the manager; "audit" (the
 * default) inserts audit events through the audit store.
 */
import fs from 'node:fs';
import { RedbAuditStore, RedbManager } from '../../src/index.js';

const dir = process.argv[2]!;
const mode = process.argv[3] ?? 'audit';
const { shardCount } = JSON.parse(fs.readFileSync(`${dir}/redb.manifest.json`, 'utf8')) as { shardCount: number };
const base = { baseDir: dir, shardingEnabled: shardCount > 1, shardCount, checkpointWalBytes: 256 << 10 };
let n = 0;
let commit: () => void;
let close: () => void;
if (mode === 'kv') {
  const m = RedbManager.open(base);
  commit = () => {
    const ops = [];
    for (let i = 0; i < 200; i++, n++) ops.push({ tenantId: `tenant-${n % 7}`, table: 'records', key: Buffer.from(`live/${String(n).padStart(10, '0')}`), value: Buffer.from(`value ${n} `.repeat(6)) });
    m.writeBatch(ops);
  };
  close = () => m.close();
} else {
  const store = await RedbAuditStore.open({ ...base, integrity: { checkpointEvery: 500 } });
  commit = () => {
    // 25 events a commit: a commit every few milliseconds is what the readers race against; larger
    // batches only grew the store the readers must verify and spent CPU the suite's other file needs.
    const events = [];
    for (let i = 0; i < 25; i++, n++) {
      events.push({ id: `live-${n}`, tenantId: `tenant-${n % 3}`, actor: { id: `user-${n % 11}` }, action: n % 5 === 0 ? 'auth.login' : 'record.read', resource: { type: 'record', id: `r-${n % 50}` }, outcome: n % 7 === 0 ? ('failure' as const) : ('success' as const) });
    }
    store.insertEvents(events);
  };
  close = () => store.close();
}
commit();
process.stdout.write('ready\n');
setInterval(commit, 5);
process.on('SIGTERM', () => {
  close();
  process.exit(0);
});
