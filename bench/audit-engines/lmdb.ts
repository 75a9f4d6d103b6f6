// lmdb-js doing the audit store's work by hand: each batch is one `transactionSync` (synced: LMDB
// fdatasyncs before the call returns) putting every event as its JSON under its time-ordered key
// plus its five index entries (keys.ts). Queries are range scans over those keys.

import type { Writable } from 'node:stream';
import { open, type Database } from 'lmdb';
import { exportToStream } from '../../src/audit/export/stream-writer.js';
import type { AuditEvent } from '../../src/audit/types.js';
import { eventBound, eventKey, eventKeyOfIndex, eventPrefix, indexKeys, indexPrefix, prefixEnd } from './keys.js';
import { INDEX_KINDS, type AuditEngine, type AuditEngineModule } from './types.js';

const EMPTY = Buffer.alloc(0);

class LmdbAudit implements AuditEngine {
  constructor(
    readonly dir: string,
    private readonly db: Database<Buffer, Buffer>,
  ) {}

  insert(batch: readonly AuditEvent[]): void {
    this.db.transactionSync(() => {
      for (const e of batch) {
        this.db.put(eventKey(e.tenantId, e.timestamp, e.id), Buffer.from(JSON.stringify(e)));
        for (const k of indexKeys(e)) this.db.put(k, EMPTY);
      }
    });
  }

  timeWindow(tenantId: string, from: number, to: number, limit: number): AuditEvent[] {
    const out: AuditEvent[] = [];
    // Reverse: start is the upper bound (exclusive here because no key equals a bare bound), end the lower.
    for (const { value } of this.db.getRange({ start: eventBound(tenantId, to), end: eventBound(tenantId, from), reverse: true, limit })) {
      out.push(JSON.parse(value.toString()) as AuditEvent);
    }
    return out;
  }

  actorLatest(tenantId: string, actorId: string, limit: number): AuditEvent[] {
    return this.latest(tenantId, indexPrefix(tenantId, INDEX_KINDS.actor, actorId, true), limit);
  }

  resourceLatest(tenantId: string, resourceType: string, resourceId: string, limit: number): AuditEvent[] {
    return this.latest(tenantId, indexPrefix(tenantId, INDEX_KINDS.resource, `${resourceType}\u0000${resourceId}`, true), limit);
  }

  /** The latest events of an index value: its newest keys, each event read by key. */
  private latest(tenantId: string, prefix: Buffer, limit: number): AuditEvent[] {
    const out: AuditEvent[] = [];
    for (const key of this.db.getKeys({ start: prefixEnd(prefix), end: prefix, reverse: true, limit })) {
      out.push(JSON.parse(this.db.get(eventKeyOfIndex(tenantId, key, prefix.length))!.toString()) as AuditEvent);
    }
    return out;
  }

  actionCount(tenantId: string, prefix: string): number {
    const p = indexPrefix(tenantId, INDEX_KINDS.action, prefix, false);
    return this.db.getKeysCount({ start: p, end: prefixEnd(p) });
  }

  async exportTenant(tenantId: string, out: Writable): Promise<number> {
    const p = eventPrefix(tenantId);
    const values = this.db.getRange({ start: p, end: prefixEnd(p) }).map(({ value }) => value);
    return (await exportToStream(values, 'ndjson', out, { end: false })).events;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export const engine: AuditEngineModule = {
  open(dir) {
    return new LmdbAudit(dir, open<Buffer, Buffer>({ path: dir, encoding: 'binary', keyEncoding: 'binary' }));
  },
};
