// The interface every engine of the audit benchmark implements: the store's own public API for
// redb-audit, and for each peer the same work done by hand (the event plus the same five index
// entries in the same durable commit, and the queries answered from those indexes).

import type { Writable } from 'node:stream';
import type { AuditEvent } from '../../src/audit/types.js';
import type { MaybePromise } from '../engines/types.js';

export interface AuditEngine {
  /** The directory that holds all of this engine's files (measured for the footprint). */
  readonly dir: string;
  /** One atomic commit of the events and their index entries, durable before it returns or resolves. */
  insert(batch: readonly AuditEvent[]): MaybePromise<void>;
  /** The tenant's events with from <= timestamp < to, newest first (ties: larger id first), at most `limit`. */
  timeWindow(tenantId: string, from: number, to: number, limit: number): MaybePromise<AuditEvent[]>;
  /** The actor's latest events in the tenant, newest first, at most `limit`. */
  actorLatest(tenantId: string, actorId: string, limit: number): MaybePromise<AuditEvent[]>;
  /** The resource's latest events in the tenant, newest first, at most `limit`. */
  resourceLatest(tenantId: string, resourceType: string, resourceId: string, limit: number): MaybePromise<AuditEvent[]>;
  /** How many of the tenant's events have an action starting with `prefix` (such as 'auth.'). */
  actionCount(tenantId: string, prefix: string): MaybePromise<number>;
  /** Every event of the tenant, oldest first, as NDJSON (one stored JSON object a line) into `out`
   * (left open); resolves with the number of events written. */
  exportTenant(tenantId: string, out: Writable): Promise<number>;
  /** Release everything; after this the directory holds exactly what a reopen would find. */
  close(): MaybePromise<void>;
  /** For an engine that checkpoints in the foreground (redb-audit): the files only a checkpoint
   * writes, which the sustained benchmark stats around each commit to tell which commits ran one. */
  checkpointFiles?(): string[];
}

export interface AuditEngineModule {
  open(dir: string): MaybePromise<AuditEngine>;
}

/** The index kinds every peer keeps, in the same key shape (see keys.ts). */
export const INDEX_KINDS = { actor: 1, action: 2, resource: 3, outcome: 4, category: 5 } as const;
