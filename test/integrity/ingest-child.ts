/**
 * Child for the integrity crash test: `ingest-child.ts <dir>`. Inserts batches of two tenants'
 * events (sync and async inserts, several checkpoints along the way) until it is killed, printing
 * "ack <tenant> <count>" after each batch is durable.
 */
import { RedbAuditStore } from '../../src/audit/audit-store.js';

const [dir] = process.argv.slice(2);
const store = await RedbAuditStore.open({ baseDir: dir!, shardingEnabled: true, shardCount: 2, integrity: { checkpointEvery: 50, checkpointIntervalMs: 5 } });
const counts: Record<string, number> = { a: 0, b: 0 };
for (let round = 0; ; round++) {
  const tenant = round % 2 === 0 ? 'a' : 'b';
  const n = 1 + (round % 17);
  const batch = Array.from({ length: n }, (_, i) => ({ tenantId: tenant, actor: { id: `u${i}` }, action: 'record.write', resource: { type: 'r', id: `${round}-${i}` } }));
  if (round % 3 === 0) await store.insertEventsAsync(batch);
  else store.insertEvents(batch);
  counts[tenant]! += n;
  process.stdout.write(`ack ${tenant} ${counts[tenant]}\n`);
  if (round % 10 === 0) await new Promise((r) => setTimeout(r, 1));
}
