// better-sqlite3 doing the audit store's work the way a SQLite user would: WAL, synchronous=FULL
// (the WAL is fsynced at every commit), one row per event with the indexed fields as columns and the
// event's JSON, and the six indexes below, maintained by SQLite in the same transaction. Each batch
// is one `db.transaction`.

import type { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { exportToStream } from '../../src/audit/export/stream-writer.js';
import type { AuditEvent } from '../../src/audit/types.js';
import type { AuditEngine, AuditEngineModule } from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  tenant TEXT NOT NULL,
  ts INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  outcome TEXT NOT NULL,
  category TEXT NOT NULL,
  json BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_time ON events (tenant, ts);
CREATE INDEX IF NOT EXISTS events_actor ON events (tenant, actor, ts);
CREATE INDEX IF NOT EXISTS events_action ON events (tenant, action, ts);
CREATE INDEX IF NOT EXISTS events_resource ON events (tenant, resource_type, resource_id, ts);
CREATE INDEX IF NOT EXISTS events_outcome ON events (tenant, outcome, ts);
CREATE INDEX IF NOT EXISTS events_category ON events (tenant, category, ts);
`;

/** The first string after every string that starts with `prefix`. */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

class SqliteAudit implements AuditEngine {
  private readonly insertMany: (batch: readonly AuditEvent[]) => void;
  private readonly windowStmt: Database.Statement;
  private readonly actorStmt: Database.Statement;
  private readonly resourceStmt: Database.Statement;
  private readonly countStmt: Database.Statement;
  private readonly exportStmt: Database.Statement;

  constructor(
    readonly dir: string,
    private readonly db: Database.Database,
  ) {
    const insert = db.prepare(
      'INSERT INTO events (id, tenant, ts, actor, action, resource_type, resource_id, outcome, category, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertMany = db.transaction((batch: readonly AuditEvent[]) => {
      for (const e of batch) {
        insert.run(e.id, e.tenantId, e.timestamp, e.actor.id, e.action, e.resource.type, e.resource.id, e.outcome, e.category, Buffer.from(JSON.stringify(e)));
      }
    });
    this.windowStmt = db.prepare('SELECT json FROM events WHERE tenant = ? AND ts >= ? AND ts < ? ORDER BY ts DESC, id DESC LIMIT ?').pluck();
    this.actorStmt = db.prepare('SELECT json FROM events WHERE tenant = ? AND actor = ? ORDER BY ts DESC, id DESC LIMIT ?').pluck();
    this.resourceStmt = db.prepare('SELECT json FROM events WHERE tenant = ? AND resource_type = ? AND resource_id = ? ORDER BY ts DESC, id DESC LIMIT ?').pluck();
    this.countStmt = db.prepare('SELECT count(*) FROM events WHERE tenant = ? AND action >= ? AND action < ?').pluck();
    this.exportStmt = db.prepare('SELECT json FROM events WHERE tenant = ? ORDER BY ts, id').pluck();
  }

  insert(batch: readonly AuditEvent[]): void {
    this.insertMany(batch);
  }

  timeWindow(tenantId: string, from: number, to: number, limit: number): AuditEvent[] {
    return (this.windowStmt.all(tenantId, from, to, limit) as Buffer[]).map((b) => JSON.parse(b.toString()) as AuditEvent);
  }

  actorLatest(tenantId: string, actorId: string, limit: number): AuditEvent[] {
    return (this.actorStmt.all(tenantId, actorId, limit) as Buffer[]).map((b) => JSON.parse(b.toString()) as AuditEvent);
  }

  resourceLatest(tenantId: string, resourceType: string, resourceId: string, limit: number): AuditEvent[] {
    return (this.resourceStmt.all(tenantId, resourceType, resourceId, limit) as Buffer[]).map((b) => JSON.parse(b.toString()) as AuditEvent);
  }

  actionCount(tenantId: string, prefix: string): number {
    return this.countStmt.get(tenantId, prefix, prefixEnd(prefix)) as number;
  }

  async exportTenant(tenantId: string, out: Writable): Promise<number> {
    return (await exportToStream(this.exportStmt.iterate(tenantId) as IterableIterator<Buffer>, 'ndjson', out, { end: false })).events;
  }

  close(): void {
    this.db.close();
  }
}

export const engine: AuditEngineModule = {
  open(dir) {
    const db = new Database(`${dir}/audit.sqlite`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(SCHEMA);
    return new SqliteAudit(dir, db);
  },
};
