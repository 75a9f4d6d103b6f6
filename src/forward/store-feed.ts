/**
 * Adapts a RedbAuditStore to what the forwarder reads: its id, its shards, each shard's change feed
 * and feed head, and its health hook.
 *
 * Invariants: the feed head is read from a fresh snapshot each time, so it is never older than a
 * commit that returned before the call; the event's stored canonical JSON is passed through as the
 * jsonb text, so PostgreSQL receives exactly the bytes the store holds.
 */
import type { RedbAuditStore } from '../audit/audit-store.js';
import { lastSeq } from '../audit/feed.js';
import { storeId } from '../audit/store-id.js';
import type { ChangeFeedSource, FeedChange } from './forwarder.js';

export function storeFeed(store: RedbAuditStore): ChangeFeedSource {
  // store.manager is read at each use: restore() replaces the manager under the store.
  return {
    storeId: storeId(store.manager),
    get shardCount(): number {
      return store.manager.shardCount;
    },
    *changes({ shard, after, limit }: { shard: number; after: number; limit?: number }): Iterable<FeedChange> {
      for (const entry of store.changes(limit === undefined ? { shard, after } : { shard, after, limit })) {
        yield { seq: entry.seq, event: entry.event, json: entry.bytes.toString('utf8') };
      }
    },
    feedHead(shard: number): number {
      const snap = store.manager.shardAt(shard).read();
      try {
        return lastSeq(snap);
      } finally {
        snap.close();
      }
    },
    registerHealthSource: (name, source) => store.registerHealthSource(name, source),
  };
}
