/**
 * The store's identity: a random UUID kept in shard 0's audit.meta under 'store.id' (value: the UUID's
 * 36 ASCII characters). A forwarder keys its PostgreSQL cursors by it, so several stores can forward
 * into one database and a store keeps its cursors across restarts.
 *
 * Invariants: created once, at the first writable open (or first use), in its own durable commit, and never changed; it travels
 * with the shard through checkpoints, compaction, backup and restore (a restored copy IS the store,
 * and a forwarder detects that it is behind PostgreSQL's cursor rather than taking it for another).
 */
import { randomUUID } from 'node:crypto';
import type { RedbManager } from '../manager/redb-manager.js';
import { ValidationError } from '../errors.js';
import { T_META } from './tables.js';

/** audit.meta key of the store id (shard 0 only). */
export const META_STORE_ID = Buffer.from('store.id');

/** Whether the store already has its id (a read-only open cannot create one). */
export function hasStoreId(mgr: RedbManager): boolean {
  return mgr.shardAt(0).table(T_META).get(META_STORE_ID) !== undefined;
}

/** The store's id, created now if it has none yet. */
export function storeId(mgr: RedbManager): string {
  const db = mgr.shardAt(0);
  const existing = db.table(T_META).get(META_STORE_ID);
  if (existing) return existing.toString('ascii');
  if (mgr.options.readOnly) {
    throw new ValidationError(
      `the store at ${mgr.options.baseDir} has no store id yet (the audit store has never opened it for writing); ` +
        'open it once for writing (any writing verb, or RedbAuditStore.open without readOnly) and try again',
    );
  }
  const id = randomUUID();
  db.write((tx) => tx.table(T_META).put(META_STORE_ID, Buffer.from(id, 'ascii')));
  return id;
}
