/**
 * The change feed: every inserted event gets, in its insert transaction, the next sequence number of
 * its shard (counter in audit.meta, 'feed.seq'). One entry per commit holds them all: audit.feed:
 * first seq (8 bytes BE) -> the audit.events keys of the commit's events in commit order (2-byte
 * length + key each), event i of the group having seq first + i. Reading after position `after`
 * returns events in commit order, each exactly once; a reader resumes from the last seq it processed.
 *
 * Sequence numbers start at 1 and are never reused. A deleted event's position reads as gone (it is
 * skipped); purges trim the groups at the front whose events are all gone. A position older than the oldest entry still held (entries before it were purged) is
 * refused with a FeedPositionError naming the oldest available position, because the reader would
 * otherwise silently miss the events that were there.
 */
import { ValidationError } from '../errors.js';
import type { Database } from '../shard/database.js';
import type { Snapshot } from '../shard/snapshot.js';
import { decodeEvent } from './event-model.js';
import { readU64, seqKey } from './keys.js';
import { eventJson } from './stored-event.js';
import { META_SEQ, T_EVENTS, T_FEED, T_META } from './tables.js';
import type { AuditEvent } from './types.js';

/** One entry of the change feed. */
export interface ChangeEntry {
  /** Position in the shard's feed (1, 2, ...), in commit order. */
  seq: number;
  event: AuditEvent;
  /** The canonical JSON bytes of the event (as stored, id and timestamp put back: stored-event.ts). */
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

/** The keys of a feed group's value. */
export function unpackKeys(v: Buffer): Buffer[] {
  const keys: Buffer[] = [];
  let o = 0;
  while (o + 2 <= v.length) {
    const n = (v[o]! << 8) | v[o + 1]!;
    keys.push(v.subarray(o + 2, o + 2 + n));
    o += 2 + n;
  }
  return keys;
}

/**
 * Feed entries of one shard snapshot after `after`, in order; positions whose event is gone
 * (purged, rolled back) are skipped. Closes the snapshot when done.
 */
export function* readFeed(snap: Snapshot, shard: number, after: number, limit: number): Generator<ChangeEntry> {
  try {
    const feed = snap.table(T_FEED);
    const events = snap.table(T_EVENTS);
    const first = feed.range({ limit: 1 }).next();
    const floor = first.done ? lastSeq(snap) : readU64(first.value.key, 0) - 1;
    if (after < floor) throw new FeedPositionError(shard, after, floor);
    // The group holding position after + 1 starts at or before it.
    const start = feed.range({ lte: seqKey(after + 1), reverse: true, limit: 1 }).next();
    const from = start.done ? { gt: seqKey(after) } : { gte: start.value.key };
    let n = 0;
    for (const { key, value } of feed.range(from)) {
      const base = readU64(key, 0);
      const keys = unpackKeys(value);
      for (let i = 0; i < keys.length; i++) {
        const seq = base + i;
        if (seq <= after) continue;
        const stored = events.get(keys[i]!);
        if (!stored) continue;
        const bytes = eventJson(keys[i]!, stored);
        if (n++ >= limit) return;
        yield { seq, event: decodeEvent(bytes), bytes };
      }
    }
  } finally {
    snap.close();
  }
}

/**
 * Deletes feed groups from the oldest on while none of their events exists any more (after a purge,
 * which goes oldest first). Groups further on that still hold a live event stay whole; their gone
 * positions are skipped by readers. Returns the groups deleted.
 */
export function trimFeed(db: Database): number {
  let trimmed = 0;
  for (;;) {
    const dead: Buffer[] = [];
    const events = db.table(T_EVENTS);
    let live = false;
    for (const { key, value } of db.table(T_FEED).range({ limit: 256 })) {
      if (unpackKeys(value).some((k) => events.has(k))) {
        live = true;
        break;
      }
      dead.push(key);
    }
    if (dead.length > 0) db.write((tx) => {
      const t = tx.table(T_FEED);
      for (const k of dead) t.remove(k);
    });
    trimmed += dead.length;
    if (live || dead.length < 256) return trimmed;
  }
}
