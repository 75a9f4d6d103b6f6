// Child of crash.test.ts: inserts batches through insertEventsAsync, several in flight at once,
// each spanning several shards, and prints "ack <batch>" once a batch's promise resolves. The parent
// kills it with SIGKILL at a random moment. Batch b of round r holds events r-b-0 .. r-b-(n-1).
import { RedbAuditStore } from '../../src/index.js';

const [dir, round, batchSize] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4] ?? 40)];
const store = await RedbAuditStore.open({ baseDir: dir, shardingEnabled: true, shardCount: 3, checksumVerification: false });
const tenants = ['t-a', 't-b', 't-c', 't-d', 't-e', 't-f'];
let next = 0;

async function worker(): Promise<void> {
  for (;;) {
    const b = next++;
    const batch = Array.from({ length: batchSize }, (_, i) => ({
      id: `${round}-${b}-${i}`,
      tenantId: tenants[(b + i) % tenants.length]!,
      timestamp: 1_700_000_000_000 + b * 1000 + i,
      actor: { id: `u${i % 7}` },
      action: i % 2 ? 'record.update' : 'user.login',
      resource: { type: 'record', id: `r${i % 5}` },
      outcome: 'success' as const,
      details: { b, i },
    }));
    await store.insertEventsAsync(batch);
    process.stdout.write(`ack ${b}\n`);
  }
}

process.stdout.write('ready\n');
await Promise.all([worker(), worker(), worker(), worker()]);
