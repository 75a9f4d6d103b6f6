/**
 * Real audit stores for the forwarder tests: open one, fill it with events spread over tenants,
 * shards and months, and read back every event id the store holds (through its change feed).
 */
import { RedbAuditStore } from '../../src/audit/audit-store.js';
import type { AuditEventInput } from '../../src/audit/types.js';

const DAY = 86_400_000;

export function openStore(dir: string, shardCount = 4): Promise<RedbAuditStore> {
  return RedbAuditStore.open({ baseDir: dir, shardingEnabled: shardCount > 1, shardCount, durability: 'none' });
}

/** Event `i` of a run: 16 tenants, timestamps 5 hours apart from 2026-01-01 (a month per ~150 events). */
export function sampleEvent(i: number, run = 'r'): AuditEventInput {
  return {
    id: `${run}-${String(i).padStart(7, '0')}`,
    timestamp: Date.UTC(2026, 0, 1) + i * 5 * 3_600_000 + (i % 1000),
    tenantId: `tenant-${i % 16}`,
    actor: { id: `user-${i % 9}`, type: 'user', name: i % 2 ? `User ${i % 9}` : null },
    action: i % 3 ? 'record.read' : 'record.update',
    resource: { type: 'record', id: `rec-${i % 101}` },
    outcome: i % 7 === 0 ? 'failure' : 'success',
    details: { i, note: `line "${i}" with \\ and \u00e9` },
  };
}

/** Inserts events `from` .. `from + n - 1` in batches of `batch`, each batch within one tenant's shard or across shards. */
export function fill(store: RedbAuditStore, from: number, n: number, run = 'r', batch = 500): void {
  for (let i = from; i < from + n; i += batch) {
    const events: AuditEventInput[] = [];
    for (let k = i; k < Math.min(from + n, i + batch); k++) events.push(sampleEvent(k, run));
    store.insertEvents(events);
  }
}

/** Every event id of every shard's feed, by shard. */
export function feedIds(store: RedbAuditStore): string[][] {
  return Array.from({ length: store.manager.shardCount }, (_, shard) => [...store.changes({ shard, after: 0 })].map((c) => c.event.id));
}

export { DAY };
