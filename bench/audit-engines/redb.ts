// redb-audit through its public audit API, not the raw engine: RedbAuditStore with `immediate`
// durability (every insertEvents call is one atomic commit, fsynced before it returns), queries
// through queryEvents / countEvents, export through exportEventsTo. Each insert writes the event,
// its five index entries (actor, action, resource, outcome, category), the tenant's counts, the
// change-feed record and, with integrity on (the default), the tenant's Merkle-log leaves.

import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { RedbAuditStore, type Durability } from '../../src/index.js';
import type { AuditEvent, AuditEventInput } from '../../src/audit/types.js';
import type { AuditEngine, AuditEngineModule } from './types.js';

class RedbAudit implements AuditEngine {
  constructor(
    readonly dir: string,
    private readonly store: RedbAuditStore,
  ) {}

  insert(batch: readonly AuditEvent[]): void {
    // The generated events are complete inputs (ids and timestamps given, no null fields).
    this.store.insertEvents(batch as readonly AuditEventInput[]);
  }

  timeWindow(tenantId: string, from: number, to: number, limit: number): AuditEvent[] {
    return this.store.queryEvents({ tenantId, from, to, limit }).events;
  }

  actorLatest(tenantId: string, actorId: string, limit: number): AuditEvent[] {
    return this.store.queryEvents({ tenantId, actorId, limit }).events;
  }

  resourceLatest(tenantId: string, resourceType: string, resourceId: string, limit: number): AuditEvent[] {
    return this.store.queryEvents({ tenantId, resourceType, resourceId, limit }).events;
  }

  actionCount(tenantId: string, prefix: string): number {
    return this.store.countEvents({ tenantId, action: `${prefix}*` });
  }

  async exportTenant(tenantId: string, out: Writable): Promise<number> {
    return (await this.store.exportEventsTo({ tenantId, order: 'asc' }, 'ndjson', out)).events;
  }

  close(): void {
    this.store.close();
  }

  /** Every shard's page file: commits go to the WAL, and only a checkpoint (or a compaction) writes there. */
  checkpointFiles(): string[] {
    const manager = this.store.manager;
    return Array.from({ length: manager.shardCount }, (_, i) => join(manager.shardDir(i), 'data.redb'));
  }
}

/** The store with the given durability and defaults otherwise; `none` skips the fsync of each commit. */
export function redbAuditEngine(durability: Durability): AuditEngineModule {
  return { open: async (dir) => new RedbAudit(dir, await RedbAuditStore.open({ baseDir: dir, durability })) };
}

export const engine = redbAuditEngine('immediate');
