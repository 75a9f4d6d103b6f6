/**
 * The change feed: every inserted event gets, in its insert transaction, the next sequence number of
 * its shard (counter in audit.meta, 'feed.seq'), stored as audit.feed: seq (8 bytes BE) -> the
 * event's audit.events key. Reading the feed after position `after` returns events in commit order,
 * each exactly once; a reader resumes from the last seq it processed.
 *
 * Sequence numbers start at 1 and are never reused. Deleting an event (purge, roll-back) deletes its
 * feed entry. A position older than the oldest entry still held (entries before it were purged) is
 * refused with a FeedPositionError naming the oldest available position, because the reader would
 * otherwise silently miss the events that were there.
 */
import { ValidationError } from '../errors.js';
import type { Snapshot } from '../shard/snapshot.js';
import { decodeEvent } from './event-model.js';
import { readU64, seqKey } from './keys.js';
import { META_SEQ, T_EVENTS, T_FEED, T_META } from './tables.js';
import type { AuditEvent } from './types.js';

/** One entry of the change feed. */
export interface ChangeEntry {
  /** Position in the shard's feed (1, 2, ...), in commit order. */
  seq: number;
  event: AuditEvent;
  /** The stored canonical JSON bytes of the event. */
  bytes: Buffer;
}

/** Options of RedbAuditStore.changes. */
export interface ChangesOptions {
  /** Shard to read (0-based). */
  shard: number;
  /** Return entries after this position; 0 (default) reads from the start. */
  after?: number;
  /** At most this many entries. Default: all. */
  limit?: number;
}

/** A feed position from before the oldest entry still held. */
export class FeedPositionError extends ValidationError {
  /** The smallest `after` that can be read from now. */
  readonly oldestAvailable: number;

  constructor(shard: number, after: number, oldestAvailable: number) {
    super(`feed position ${after} of shard ${shard} is no longer available: entries up to ${oldestAvailable} were purged. Resume with after: ${oldestAvailable} (the events before it are gone from the store)`);
    this.oldestAvailable = oldestAvailable;
  }
}

/** Last sequence number handed out in a snapshot's shard (0 when none). */
export function lastSeq(snap: Snapshot): number {
  const v = snap.table(T_META).get(META_SEQ);
  return v ? readU64(v, 0) : 0;
}

/** Feed entries of one shard snapshot after `after`, in order. Closes the snapshot when done. */
export function* readFeed(snap: Snapshot, shard: number, after: number, limit: number): Generator<ChangeEntry> {
  try {
    const feed = snap.table(T_FEED);
    const events = snap.table(T_EVENTS);
    const first = feed.range({ limit: 1 }).next();
    const floor = first.done ? lastSeq(snap) : readU64(first.value.key, 0) - 1;
    if (after < floor) throw new FeedPositionError(shard, after, floor);
    let n = 0;
    for (const { key, value } of feed.range({ gt: seqKey(after) })) {
      if (n++ >= limit) return;
      const bytes = events.get(value);
      if (!bytes) continue;
      yield { seq: readU64(key, 0), event: decodeEvent(bytes), bytes };
    }
  } finally {
    snap.close();
  }
}
