// classic-level (LevelDB, snappy on) doing the audit store's work by hand: each batch is one chained
// batch written with `sync: true` (LevelDB fsyncs its log first), putting every event as its JSON
// under its time-ordered key plus its five index entries (keys.ts). Queries use the iterator's
// chunked `nextv`, and `getMany` for the events an index points at.

import type { Writable } from 'node:stream';
import { ClassicLevel } from 'classic-level';
import { exportToStream } from '../../src/audit/export/stream-writer.js';
import type { AuditEvent } from '../../src/audit/types.js';
import { eventBound, eventKey, eventKeyOfIndex, eventPrefix, indexKeys, indexPrefix, prefixEnd } from './keys.js';
import { INDEX_KINDS, type AuditEngine, type AuditEngineModule } from './types.js';

type Db = ClassicLevel<Uint8Array, Uint8Array>;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

class LevelAudit implements AuditEngine {
  constructor(
    readonly dir: string,
    private readonly db: Db,
  ) {}

  async insert(batch: readonly AuditEvent[]): Promise<void> {
    const b = this.db.batch();
    for (const e of batch) {
      b.put(eventKey(e.tenantId, e.timestamp, e.id), Buffer.from(JSON.stringify(e)));
      for (const k of indexKeys(e)) b.put(k, EMPTY);
    }
    await b.write({ sync: true });
  }

  async timeWindow(tenantId: string, from: number, to: number, limit: number): Promise<AuditEvent[]> {
    const values = await this.db.values({ gte: eventBound(tenantId, from), lt: eventBound(tenantId, to), reverse: true, limit }).all();
    return values.map((v) => JSON.parse(decoder.decode(v)) as AuditEvent);
  }

  async actorLatest(tenantId: string, actorId: string, limit: number): Promise<AuditEvent[]> {
    return this.latest(tenantId, indexPrefix(tenantId, INDEX_KINDS.actor, actorId, true), limit);
  }

  async resourceLatest(tenantId: string, resourceType: string, resourceId: string, limit: number): Promise<AuditEvent[]> {
    return this.latest(tenantId, indexPrefix(tenantId, INDEX_KINDS.resource, `${resourceType}\u0000${resourceId}`, true), limit);
  }

  /** The latest events of an index value: its newest keys, then the events in one getMany. */
  private async latest(tenantId: string, prefix: Buffer, limit: number): Promise<AuditEvent[]> {
    const keys = await this.db.keys({ gte: prefix, lt: prefixEnd(prefix), reverse: true, limit }).all();
    const values = await this.db.getMany(keys.map((k) => eventKeyOfIndex(tenantId, k, prefix.length)));
    return values.map((v) => JSON.parse(decoder.decode(v!)) as AuditEvent);
  }

  async actionCount(tenantId: string, prefix: string): Promise<number> {
    const p = indexPrefix(tenantId, INDEX_KINDS.action, prefix, false);
    const it = this.db.keys({ gte: p, lt: prefixEnd(p) });
    let n = 0;
    try {
      for (;;) {
        const chunk = await it.nextv(1000);
        if (chunk.length === 0) break;
        n += chunk.length;
      }
    } finally {
      await it.close();
    }
    return n;
  }

  async exportTenant(tenantId: string, out: Writable): Promise<number> {
    const p = eventPrefix(tenantId);
    const it = this.db.values({ gte: p, lt: prefixEnd(p) });
    async function* values(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          const chunk = await it.nextv(1000);
          if (chunk.length === 0) return;
          yield* chunk;
        }
      } finally {
        await it.close();
      }
    }
    return (await exportToStream(values(), 'ndjson', out, { end: false })).events;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export const engine: AuditEngineModule = {
  async open(dir) {
    const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    return new LevelAudit(dir, db);
  },
};
