/**
 * A change feed held in memory, for exercising the forwarder's own logic (cursor handling, errors,
 * lag) without a store. Events are a pure function of (storeId, shard, seq), so another process can
 * rebuild the same feed. The forwarder tests that matter for crash safety use a real RedbAuditStore.
 */
import type { AuditEvent } from '../../src/audit/types.js';
import type { HealthSource } from '../../src/audit/health-sources.js';
import type { ChangeFeedSource, FeedChange } from '../../src/forward/forwarder.js';

const DAY = 86_400_000;

/** Event `seq` of `shard`: timestamps step ~9 days apart so a few hundred events span several months. */
export function feedEvent(storeId: string, shard: number, seq: number): AuditEvent {
  return {
    id: `${storeId}-${shard}-${seq}`,
    timestamp: Date.UTC(2026, 0, 1) + (seq % 200) * 9 * DAY + shard * 1000 + seq,
    tenantId: `tenant-${shard}`,
    actor: { id: `user-${seq % 7}`, type: 'user' },
    action: seq % 3 === 0 ? 'record.update' : 'record.read',
    resource: { type: 'record', id: `r-${seq}` },
    outcome: seq % 5 === 0 ? 'failure' : 'success',
    severity: 'info',
    category: 'record',
    details: { n: seq, quote: `it's "quoted" \\ ${seq}` },
    schemaVersion: 1,
  };
}

export class MemoryFeed implements ChangeFeedSource {
  readonly heads: number[];
  readonly sources = new Map<string, HealthSource>();

  constructor(
    readonly storeId: string,
    readonly shardCount: number,
    initial = 0,
  ) {
    this.heads = new Array<number>(shardCount).fill(initial);
  }

  /** Commits `n` more events in every shard. */
  append(n: number): void {
    for (let s = 0; s < this.shardCount; s++) this.heads[s]! += n;
  }

  *changes({ shard, after }: { shard: number; after: number }): Iterable<FeedChange> {
    for (let seq = after + 1; seq <= this.heads[shard]!; seq++) yield { seq, event: feedEvent(this.storeId, shard, seq) };
  }

  feedHead(shard: number): number {
    return this.heads[shard]!;
  }

  registerHealthSource(name: string, source: HealthSource): () => void {
    this.sources.set(name, source);
    return () => this.sources.delete(name);
  }
}
