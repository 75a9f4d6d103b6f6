/**
 * The forwarder: tails every shard's change feed and writes the events into a PostgreSQL table,
 * exactly once, in batches (docs/forwarding.md has the schema and the full argument).
 *
 * Invariants:
 * - One batch = one PostgreSQL transaction: create the partitions it needs, INSERT its rows (ON
 *   CONFLICT (id, "timestamp") DO NOTHING), move the shard's cursor from the value this forwarder
 *   read to the batch's last sequence number (conditional UPDATE), COMMIT. The in-memory cursor
 *   moves only after COMMIT returned; after any error the connection is dropped and every cursor is
 *   read again from PostgreSQL, so an unknown COMMIT outcome (connection lost mid-commit) resolves
 *   to whatever PostgreSQL holds. Hence no event is skipped (the cursor never passes an event that
 *   is not committed beside it) and none is written twice (the cursor moves with the rows; ON
 *   CONFLICT covers a cursor reset by hand or a second forwarder of the same store).
 * - Back-pressure: per shard, at most one batch is read from the store beyond the one PostgreSQL is
 *   inserting (read while the server works), so memory is bounded by 2 x batchSize events per shard
 *   whatever the lag; under lag batches run back to back. A batch read ahead is used only if the
 *   cursor is exactly where it was read from; otherwise (an error, a cursor moved) it is re-read.
 * - Each shard belongs to exactly one connection (shard s to connection s mod n), so a shard's
 *   batches commit one after another in feed order; connections differ only in which shards they
 *   carry, and each retries on its own.
 * - Transient failures (connection lost or refused, server restarting) are retried with jittered
 *   exponential backoff; anything else stops the forwarder with a ForwardError (or the store's own
 *   typed error, such as a cursor older than the feed keeps), reported by health().
 */
import type pg from 'pg';
import { ForwardError, RedbError, ValidationError } from '../errors.js';
import type { AuditEvent } from '../audit/types.js';
import { RedbAuditStore } from '../audit/audit-store.js';
import type { HealthSource } from '../audit/health-sources.js';
import type { HealthStatus } from '../manager/health.js';
import { Backoff, isTransient } from './backoff.js';
import { LagTracker, type ShardLag } from './lag.js';
import { storeFeed } from './store-feed.js';
import { advanceCursor, createPartitions, ensureSchema, insertBatch, monthOf, readCursors, validateTarget, type Month, type PgTarget } from './pg-schema.js';

/**
 * `pg`, loaded on the first connection: every importer of the package (and every CLI call) would
 * otherwise load it at start-up, 45-65 ms, whether it forwards or not.
 */
let pgModule: Promise<typeof pg> | null = null;
function loadPg(): Promise<typeof pg> {
  return (pgModule ??= import('pg').then((m) => m.default));
}

/** One committed event of a shard's change feed. */
export interface FeedChange {
  /** The shard's sequence number of the event's commit: increasing, never reused. */
  seq: number;
  event: AuditEvent;
  /** The event as JSON text, when the source has it at hand (else it is serialised from `event`). */
  json?: string;
}

/** What the forwarder needs from a store: RedbAuditStore provides it. */
export interface ChangeFeedSource {
  /** A stable id of the store, kept with it (two stores may forward into one database). */
  readonly storeId: string;
  /** Number of shards; shards are 0 .. shardCount - 1. */
  readonly shardCount: number;
  /** Committed events of `shard` with seq > `after`, in commit order (at most `limit` when given). */
  changes(options: { shard: number; after: number; limit?: number }): Iterable<FeedChange>;
  /** The last sequence number committed in `shard` (0 before the first). */
  feedHead(shard: number): number;
  /** Optional: lets the store's health() and metrics() include the forwarder. */
  registerHealthSource?(name: string, source: HealthSource): () => void;
}

/** Options of a {@link Forwarder}. */
export interface ForwarderOptions {
  /** libpq-style connection string, e.g. `postgresql://user@host:5432/db`. */
  connectionString: string;
  /** Target table, `table` or `schema.table`. Default `audit_events`. */
  table?: string;
  /** Events per transaction, 1 to 50,000. Default 1,000. */
  batchSize?: number;
  /**
   * PostgreSQL connections working in parallel, 1 to 64, each forwarding its own shards (shard s
   * goes to connection s mod n); never more than the store has shards. Default 2.
   */
  connections?: number;
  /** How often a caught-up forwarder looks for new events, in ms. Default 200. */
  pollIntervalMs?: number;
  /** First retry delay after a failure, in ms (doubling, jittered). Default 100. */
  retryInitialMs?: number;
  /** Longest retry delay, in ms. Default 30,000. */
  retryMaxMs?: number;
  /** Consecutive failed attempts before giving up with ForwardError('retries-exhausted'). Default: never give up. */
  maxRetries?: number;
  /** health() is 'degraded' when an event has waited longer than this, in seconds. Default 60. */
  lagWarnSeconds?: number;
  /** Time limit of connecting and of each query, in ms. Default 30,000. */
  timeoutMs?: number;
}

/** What runOnce() did. */
export interface ForwardReport {
  /** Events written to PostgreSQL by this run (rows actually inserted). */
  forwarded: number;
  /** Events whose id and timestamp were already in the table (skipped by ON CONFLICT). */
  skipped: number;
  batches: number;
  /** Failed attempts that were retried. */
  retries: number;
  durationMs: number;
  /** Every shard's cursor at the end. */
  cursors: number[];
}

/** The forwarder's state, for health() and dashboards. */
export interface ForwarderHealth {
  status: HealthStatus;
  running: boolean;
  connected: boolean;
  lag: ShardLag[];
  /** Sum over shards. */
  lagEvents: number;
  /** The largest shard lag. */
  lagSeconds: number;
  lastError: string | null;
  problems: string[];
}

interface Resolved {
  batchSize: number;
  connections: number;
  pollIntervalMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  maxRetries: number;
  lagWarnSeconds: number;
  timeoutMs: number;
}

/** One connection and the shards it forwards; its failures back off on their own. */
interface Lane {
  shards: number[];
  client: pg.Client | null;
  backoff: Backoff;
}

function intOption(name: string, value: number | undefined, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`forwarder option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

export class Forwarder implements HealthSource {
  private readonly target: PgTarget;
  private readonly opts: Resolved;
  private readonly lagTracker: LagTracker;
  private readonly knownMonths = new Set<string>();
  private readonly lanes: Lane[];
  private cursors: number[];
  private loop: Promise<void> | null = null;
  private stopping = false;
  private readonly wakers = new Set<() => void>();
  private fatal: RedbError | null = null;
  private lastError: string | null = null;
  private unregister: (() => void) | null = null;
  private readonly forwardedTotal: number[];
  /** Per shard: the batch read ahead while the previous one was being inserted, valid only at cursor `after`. */
  private readAhead: ({ after: number; batch: FeedChange[] } | null)[];
  private skippedTotal = 0;
  private batchesTotal = 0;
  private retriesTotal = 0;

  private readonly source: ChangeFeedSource;

  /** Forwards `store` (a RedbAuditStore, or any other change feed) as `options` say. */
  constructor(
    store: RedbAuditStore | ChangeFeedSource,
    private readonly options: ForwarderOptions,
  ) {
    if (typeof options?.connectionString !== 'string' || options.connectionString.length === 0) {
      throw new ValidationError('forwarder option connectionString is required: a PostgreSQL connection string such as postgresql://user@host:5432/db');
    }
    this.target = validateTarget(options.table ?? 'audit_events');
    this.opts = {
      batchSize: intOption('batchSize', options.batchSize, 1000, 1, 50_000),
      connections: intOption('connections', options.connections, 2, 1, 64),
      pollIntervalMs: intOption('pollIntervalMs', options.pollIntervalMs, 200, 1, 3_600_000),
      retryInitialMs: intOption('retryInitialMs', options.retryInitialMs, 100, 1, 3_600_000),
      retryMaxMs: intOption('retryMaxMs', options.retryMaxMs, 30_000, 1, 3_600_000),
      maxRetries: options.maxRetries === Infinity ? Infinity : intOption('maxRetries', options.maxRetries, Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER),
      lagWarnSeconds: intOption('lagWarnSeconds', options.lagWarnSeconds, 60, 1, 365 * 86400),
      timeoutMs: intOption('timeoutMs', options.timeoutMs, 30_000, 100, 3_600_000),
    };
    this.source = store instanceof RedbAuditStore ? storeFeed(store) : store;
    const shards = this.source.shardCount;
    this.lanes = Array.from({ length: Math.max(1, Math.min(this.opts.connections, shards)) }, () => ({
      shards: [],
      client: null,
      backoff: new Backoff(this.opts.retryInitialMs, this.opts.retryMaxMs),
    }));
    for (let sh = 0; sh < shards; sh++) this.lanes[sh % this.lanes.length]!.shards.push(sh);
    this.cursors = new Array<number>(shards).fill(0);
    this.forwardedTotal = new Array<number>(shards).fill(0);
    this.readAhead = new Array<{ after: number; batch: FeedChange[] } | null>(shards).fill(null);
    this.lagTracker = new LagTracker(shards);
    if (typeof this.source.registerHealthSource === 'function') this.unregister = this.source.registerHealthSource('forwarder', this);
  }

  /** Starts tailing every shard in the background. stop() ends it. */
  start(): void {
    if (this.loop) throw new ValidationError('the forwarder is already running; call stop() before starting it again');
    this.stopping = false;
    this.fatal = null;
    if (!this.unregister && typeof this.source.registerHealthSource === 'function') this.unregister = this.source.registerHealthSource('forwarder', this);
    this.loop = this.tail().finally(() => {
      this.loop = null;
    });
  }

  /** Stops tailing after the batch in flight (committed or rolled back) and closes the connection. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const wake of this.wakers) wake();
    await this.loop;
    await Promise.all(this.lanes.map((lane) => this.dropClient(lane)));
    this.unregister?.();
    this.unregister = null;
  }

  /** Whether the background loop runs (false after stop() or a fatal error). */
  get running(): boolean {
    return this.loop !== null;
  }

  /** The error that stopped the forwarder, if any. */
  get error(): RedbError | null {
    return this.fatal;
  }

  /**
   * Forwards every event committed before the call, then returns (for cron and tests). Retries
   * transient failures like the background loop; throws the error that made it stop otherwise.
   */
  async runOnce(): Promise<ForwardReport> {
    if (this.loop) throw new ValidationError('runOnce() cannot run while the forwarder is running; call stop() first');
    const started = Date.now();
    const before = this.counters();
    const targets = Array.from({ length: this.source.shardCount }, (_, s) => this.observeHead(s));
    this.stopping = false;
    this.fatal = null;
    const runLane = async (lane: Lane): Promise<void> => {
      try {
        while (!this.fatal) {
          const done = await this.attempt(lane, async () => {
            for (const s of lane.shards) {
              while (this.cursors[s]! < targets[s]! && !this.fatal) {
                if ((await this.forwardBatch(lane, s)) > 0) continue;
                // Nothing read: the feed holds no more events below the head (none left to send), or
                // another forwarder moved the cursor and the connection was dropped to read it again.
                if (lane.client) break;
                await this.connect(lane);
              }
            }
          });
          if (done) break;
        }
      } finally {
        await this.dropClient(lane);
      }
    };
    await Promise.all(this.lanes.map(runLane));
    if (this.fatal) throw this.fatal;
    const after = this.counters();
    return {
      forwarded: after.forwarded - before.forwarded,
      skipped: after.skipped - before.skipped,
      batches: after.batches - before.batches,
      retries: after.retries - before.retries,
      durationMs: Date.now() - started,
      cursors: [...this.cursors],
    };
  }

  /** Per-shard lag: events committed in the store but not yet in PostgreSQL, and for how long. */
  lag(): ShardLag[] {
    for (let s = 0; s < this.source.shardCount; s++) this.observeHead(s);
    return this.lagTracker.all();
  }

  health(): ForwarderHealth {
    const lag = this.lag();
    const lagEvents = lag.reduce((n, l) => n + l.events, 0);
    const lagSeconds = lag.reduce((m, l) => Math.max(m, l.seconds), 0);
    const problems: string[] = [];
    let status: HealthStatus = 'healthy';
    if (this.fatal) {
      status = 'unhealthy';
      problems.push(`forwarding stopped: ${this.fatal.message}`);
    } else {
      if (lagSeconds > this.opts.lagWarnSeconds) {
        status = 'degraded';
        problems.push(`forwarding lags ${lagEvents} events, the oldest waiting ${lagSeconds.toFixed(1)} s (more than ${this.opts.lagWarnSeconds} s)`);
      }
      const failures = this.lanes.reduce((m, lane) => Math.max(m, lane.backoff.failures), 0);
      if (failures > 0) {
        status = 'degraded';
        problems.push(`PostgreSQL is failing (${failures} attempt(s) in a row), retrying: ${this.lastError}`);
      }
    }
    const connected = this.lanes.every((lane) => lane.client !== null);
    return { status, running: this.running, connected, lag, lagEvents, lagSeconds, lastError: this.lastError, problems };
  }

  /** Prometheus text exposition of the forwarder's counters and lag, labelled by shard. */
  metrics(): string {
    const lag = this.lag();
    const lines: string[] = [];
    const family = (name: string, type: 'gauge' | 'counter', help: string, values: [string, number][]): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of values) lines.push(`${name}${labels} ${v}`);
    };
    family('redb_forward_lag_events', 'gauge', 'Events committed in the shard and not yet in PostgreSQL.', lag.map((l) => [`{shard="${l.shard}"}`, l.events]));
    family('redb_forward_lag_seconds', 'gauge', 'Seconds the oldest event not yet in PostgreSQL has waited.', lag.map((l) => [`{shard="${l.shard}"}`, l.seconds]));
    family('redb_forward_cursor', 'gauge', 'Last sequence number committed in PostgreSQL.', lag.map((l) => [`{shard="${l.shard}"}`, l.cursor]));
    family('redb_forward_events_total', 'counter', 'Events inserted into PostgreSQL by this process.', this.forwardedTotal.map((n, s) => [`{shard="${s}"}`, n]));
    family('redb_forward_skipped_total', 'counter', 'Events already in PostgreSQL, skipped by ON CONFLICT.', [['', this.skippedTotal]]);
    family('redb_forward_batches_total', 'counter', 'Batches committed in PostgreSQL.', [['', this.batchesTotal]]);
    family('redb_forward_retries_total', 'counter', 'Failed attempts that were retried.', [['', this.retriesTotal]]);
    family('redb_forward_connections', 'gauge', 'Connections to PostgreSQL open now.', [['', this.lanes.filter((lane) => lane.client).length]]);
    return `${lines.join('\n')}\n`;
  }

  private counters(): { forwarded: number; skipped: number; batches: number; retries: number } {
    return { forwarded: this.forwardedTotal.reduce((a, b) => a + b, 0), skipped: this.skippedTotal, batches: this.batchesTotal, retries: this.retriesTotal };
  }

  private observeHead(shard: number): number {
    const head = this.source.feedHead(shard);
    this.lagTracker.observeHead(shard, head);
    return head;
  }

  /** The background loop: one per connection, each over its own shards. */
  private async tail(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => this.tailLane(lane)));
  }

  private async tailLane(lane: Lane): Promise<void> {
    while (!this.stopping && !this.fatal) {
      let moved = 0;
      const ok = await this.attempt(lane, async () => {
        for (const s of lane.shards) {
          if (this.stopping || this.fatal) break;
          this.observeHead(s);
          // A few batches per shard per round, so one busy shard cannot starve the others.
          for (let k = 0; k < 8 && !this.stopping && !this.fatal; k++) {
            const n = await this.forwardBatch(lane, s);
            moved += n;
            if (n < this.opts.batchSize) break;
          }
        }
      });
      if (this.fatal) break;
      if (ok && moved === 0) await this.sleep(this.opts.pollIntervalMs);
    }
    await this.dropClient(lane);
  }

  /**
   * Runs `work` on a connected client. Returns true when it completed; false after a transient
   * failure (the connection is dropped and the backoff delay has passed); sets `fatal` otherwise.
   */
  private async attempt(lane: Lane, work: () => Promise<void>): Promise<boolean> {
    try {
      await this.connect(lane);
      await work();
      lane.backoff.reset();
      return true;
    } catch (err) {
      await this.dropClient(lane);
      if (this.fatal) return true;
      this.lastError = (err as Error)?.message ?? String(err);
      if (!isTransient(err)) {
        // The first lane to fail for good names the cause; the others stop at their next check.
        this.fatal = err instanceof RedbError ? err : new ForwardError('rejected', `PostgreSQL refused the forwarder's work: ${this.lastError}. Fix the cause (schema, permissions, data) and start the forwarder again`, { cause: err });
        return true;
      }
      if (lane.backoff.failures >= this.opts.maxRetries) {
        this.fatal = new ForwardError('retries-exhausted', `PostgreSQL stayed unreachable after ${lane.backoff.failures + 1} attempts: ${this.lastError}. Check the server and the connection string, then run the forwarder again`, { cause: err });
        return true;
      }
      this.retriesTotal++;
      await this.sleep(lane.backoff.next());
      return false;
    }
  }

  /** Connects `lane` if needed: schema, cursor rows, and its shards' cursors as PostgreSQL holds them. */
  private async connect(lane: Lane): Promise<pg.Client> {
    if (lane.client) return lane.client;
    const { Client } = await loadPg();
    const client = new Client({
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: this.opts.timeoutMs,
      query_timeout: this.opts.timeoutMs,
      keepAlive: true,
      application_name: 'redb-audit forward',
    });
    // An idle connection that breaks emits 'error'; unhandled, it would crash the process.
    client.on('error', (err) => {
      this.lastError = err.message;
      if (lane.client === client) lane.client = null;
      client.end().catch(() => {});
    });
    try {
      await client.connect();
      await ensureSchema(client, this.target, this.source.storeId, this.source.shardCount);
      const cursors = await readCursors(client, this.target, this.source.storeId, this.source.shardCount);
      for (const s of lane.shards) {
        const { seq, lastId } = cursors[s]!;
        this.checkSameFeed(s, seq, lastId);
        this.lagTracker.observeCursor(s, seq);
        this.cursors[s] = seq;
      }
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    lane.client = client;
    return client;
  }

  /**
   * Refuses a cursor that does not belong to this store's feed: one past the feed's head, or one
   * whose event (kept beside the cursor) is not the store's event at that position. Both happen
   * when the store was replaced by an older copy and went on committing: positions are reused for
   * other events, and forwarding from the cursor would silently skip them.
   */
  private checkSameFeed(shard: number, seq: number, lastId: string | null): void {
    const diverged = (why: string): ForwardError =>
      new ForwardError(
        'feed-diverged',
        `PostgreSQL's cursor of shard ${shard} is at sequence ${seq}, ${why}: the store's feed is not the one that was forwarded ` +
          `(restored from an older backup?). Forwarding would skip events; point it at another table, or delete the rows of store ` +
          `${this.source.storeId} from ${this.target.label} and its cursors, then forward again`,
      );
    const head = this.observeHead(shard);
    if (seq > head) throw diverged(`past the store's last commit ${head}`);
    if (seq === 0 || lastId === null) return;
    let atCursor: FeedChange | undefined;
    try {
      for (const change of this.source.changes({ shard, after: seq - 1, limit: 1 })) {
        atCursor = change;
        break;
      }
    } catch (err) {
      // The feed no longer holds that position (retention): nothing to compare; reading on will say so if it matters.
      if (err instanceof RedbError) return;
      throw err;
    }
    if (atCursor && atCursor.seq === seq && atCursor.event.id !== lastId) {
      throw diverged(`where PostgreSQL has event ${lastId} but the store has event ${atCursor.event.id}`);
    }
  }

  private async dropClient(lane: Lane): Promise<void> {
    const client = lane.client;
    lane.client = null;
    if (client) await client.end().catch(() => {});
  }

  /** Up to batchSize feed entries of `shard` after `from`, checked to ascend. */
  private readBatch(shard: number, from: number): FeedChange[] {
    const batch: FeedChange[] = [];
    let last = from;
    for (const change of this.source.changes({ shard, after: from, limit: this.opts.batchSize })) {
      if (!(change.seq > last)) {
        throw new ForwardError('rejected', `the change feed of shard ${shard} returned sequence ${change.seq} after ${last}: sequence numbers must increase`);
      }
      last = change.seq;
      batch.push(change);
      if (batch.length >= this.opts.batchSize) break;
    }
    return batch;
  }

  /** Reads the next batch of `shard` and commits it with the cursor. Returns the events in it. */
  private async forwardBatch(lane: Lane, shard: number): Promise<number> {
    const from = this.cursors[shard]!;
    const ahead = this.readAhead[shard];
    this.readAhead[shard] = null;
    const batch = ahead && ahead.after === from ? ahead.batch : this.readBatch(shard, from);
    if (batch.length === 0) return 0;
    const last = batch[batch.length - 1]!.seq;
    const months = new Map<string, Month>();
    for (const { event } of batch) {
      const m = monthOf(event.timestamp);
      if (!this.knownMonths.has(m.key)) months.set(m.key, m);
    }
    const client = await this.connect(lane);
    await client.query('BEGIN');
    try {
      await createPartitions(client, this.target, [...months.values()]);
      const insert = insertBatch(client, this.target, this.source.storeId, shard, batch);
      // While PostgreSQL inserts, read the next batch (it starts after this one's last entry): the
      // store's work overlaps the server's, and still at most one batch waits beyond the one in flight.
      let next: FeedChange[] | null = null;
      if (batch.length === this.opts.batchSize) {
        try {
          next = this.readBatch(shard, last);
        } catch {
          // Read again (and report the error) when this batch has committed.
        }
      }
      const inserted = await insert;
      if (!(await advanceCursor(client, this.target, this.source.storeId, shard, from, last, batch[batch.length - 1]!.event.id))) {
        // Another forwarder of this store and table moved the cursor: its rows are committed, so
        // drop ours and carry on from wherever it got to (the reconnect reads the cursors again).
        await client.query('ROLLBACK');
        await this.dropClient(lane);
        return 0;
      }
      await client.query('COMMIT');
      for (const key of months.keys()) this.knownMonths.add(key);
      this.cursors[shard] = last;
      if (next && next.length > 0) this.readAhead[shard] = { after: last, batch: next };
      this.lagTracker.observeCursor(shard, last);
      this.forwardedTotal[shard]! += inserted;
      this.skippedTotal += batch.length - inserted;
      this.batchesTotal++;
      return batch.length;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }
}
