/**
 * How far a forwarder is behind its store's change feed, per shard, in events and in seconds.
 *
 * Events: the feed head (last sequence number committed in the shard) minus the forwarded cursor.
 * Seconds: how long the oldest event not yet forwarded has been visible to the forwarder. Each time
 * the head is seen to move, (head, time seen) is noted; the lag is the age of the first note whose
 * head is beyond the cursor. Event timestamps are not used: callers may supply old timestamps, which
 * would report a backfill as hours of lag.
 *
 * Invariants: notes are kept in increasing head order; at most MAX_NOTES per shard, merged by
 * keeping the older time with the larger head, which can only overstate the lag, never hide it.
 */
const MAX_NOTES = 256;

interface Note {
  head: number;
  seenAt: number;
}

/** The lag of one shard. */
export interface ShardLag {
  shard: number;
  /** Last sequence number committed in the shard, as last seen. */
  head: number;
  /** Last sequence number forwarded and committed in PostgreSQL. */
  cursor: number;
  /** Events committed in the store and not yet in PostgreSQL (head - cursor). */
  events: number;
  /** Seconds the oldest of those has been waiting (0 when caught up). */
  seconds: number;
}

export class LagTracker {
  private readonly notes: Note[][];
  private readonly heads: number[];
  private readonly cursors: number[];

  constructor(shards: number, private readonly now: () => number = Date.now) {
    this.notes = Array.from({ length: shards }, () => []);
    this.heads = new Array<number>(shards).fill(0);
    this.cursors = new Array<number>(shards).fill(0);
  }

  /** The store's head of `shard` was observed to be `head`. */
  observeHead(shard: number, head: number): void {
    if (head <= this.heads[shard]!) return;
    this.heads[shard] = head;
    const notes = this.notes[shard]!;
    notes.push({ head, seenAt: this.now() });
    if (notes.length > MAX_NOTES) {
      // Merge the two oldest notes: the older time with the larger head.
      const [a, b] = notes.splice(0, 2) as [Note, Note];
      notes.unshift({ head: b.head, seenAt: a.seenAt });
    }
  }

  /** Everything up to `cursor` is committed in PostgreSQL. */
  observeCursor(shard: number, cursor: number): void {
    this.cursors[shard] = cursor;
    if (cursor > this.heads[shard]!) this.heads[shard] = cursor;
    const notes = this.notes[shard]!;
    let drop = 0;
    while (drop < notes.length && notes[drop]!.head <= cursor) drop++;
    if (drop) notes.splice(0, drop);
  }

  shard(shard: number): ShardLag {
    const head = this.heads[shard]!;
    const cursor = this.cursors[shard]!;
    const oldest = this.notes[shard]![0];
    const seconds = head > cursor && oldest ? Math.max(0, (this.now() - oldest.seenAt) / 1000) : 0;
    return { shard, head, cursor, events: Math.max(0, head - cursor), seconds };
  }

  all(): ShardLag[] {
    return this.heads.map((_, i) => this.shard(i));
  }
}
