/**
 * Query execution over shard snapshots. Each tenant plan becomes one or more sources (range scans of
 * audit.events or audit.index from the query's time bounds and cursor position); sources are merged
 * in (timestamp, tenant id, id key) order, ascending or descending, with a binary heap, so a query
 * reads only as far as it needs and holds one pending row per source (bounded memory whatever the
 * result size). Residual filters run on candidates; counting checks exact residuals by index
 * membership instead of decoding events.
 *
 * Invariant: every row comes from the snapshots opened for the run, so a query sees one consistent
 * state of each shard even while inserts commit; an index entry whose event is missing is reported
 * as corruption, never skipped silently.
 */
import { CorruptionError } from '../errors.js';
import type { RangeOptions } from '../shard/validate.js';
import type { RangeIterator } from '../shard/data/tree-read.js';
import type { Snapshot, SnapshotTable } from '../shard/snapshot.js';
import { compareBytes } from '../util/bytes.js';
import type { CursorPos } from './cursor.js';
import { decodeEvent, decodeEventText, MAX_TIMESTAMP } from './event-model.js';
import { KIND_ACTION, KIND_ACTOR, KIND_CATEGORY, KIND_OUTCOME, KIND_RESOURCE, eventKey, indexBound, indexKey, readU64, resourceIndexKey, resourceValue, valuePrefix } from './keys.js';
import { Residual, type TenantPlan } from './planner.js';
import type { NormalQuery } from './query-model.js';
import { eventJsonAt, eventTextAt } from './stored-event.js';
import { T_EVENTS, T_INDEX } from './tables.js';
import { SEVERITIES, OUTCOMES, type AuditEvent } from './types.js';

/** The tables of one shard snapshot a query reads. */
export interface ShardView {
  shard: number;
  path: string;
  snap: Snapshot;
  events: SnapshotTable;
  index: SnapshotTable;
}

export function openView(shard: number, path: string, snap: Snapshot): ShardView {
  return { shard, path, snap, events: snap.table(T_EVENTS), index: snap.table(T_INDEX) };
}

/**
 * One candidate: its position, and its stored bytes once read. A row made by a scan holds a view of
 * the event's stored bytes (no copy) only while it is its source's head: the source detaches it
 * before stepping, after which bytes() reads the event again by key from the same snapshot, so a
 * row kept longer never sees bytes that changed under it.
 */
export class Row {
  constructor(
    readonly ts: number,
    readonly tenantId: string,
    /** Id key bytes (the row's own copy). */
    readonly id: Uint8Array,
    readonly tenantNo: number,
    readonly view: ShardView,
    /** Residual filter bits of the row's tenant plan. */
    readonly residual: number,
    /** The stored value (stored-event.ts), when the scan already read it: a view valid until the row is detached. */
    private value: Uint8Array | null,
  ) {}

  private decoded: AuditEvent | null = null;
  private json: Buffer | null = null;
  /** Whether `json` is the scan's stored bytes (a whole stored value), which detach() must drop too. */
  private jsonViewsValue = false;

  /**
   * The decoded event (decoded once), parsed from the JSON's text without building its bytes; an
   * event looked up by key is parsed from a view of its stored bytes, not a copy.
   */
  event(): AuditEvent {
    if (this.decoded === null) {
      if (this.json !== null) this.decoded = decodeEvent(this.json);
      else this.decoded = decodeEventText(eventTextAt(this.ts, this.id, this.value ?? this.lookUp(this.view.events.getView(eventKey(this.tenantNo, this.ts, this.id)))));
    }
    return this.decoded;
  }

  /**
   * The canonical JSON bytes (the stored value with id and timestamp put back: stored-event.ts);
   * when they are the stored value itself, a view valid until the scan's next step.
   */
  bytes(): Buffer {
    if (this.json === null) {
      const v = this.stored();
      this.json = eventJsonAt(this.ts, this.id, v);
      this.jsonViewsValue = this.json.buffer === v.buffer;
    }
    return this.json;
  }

  /** The stored value: the scan's view, or else read by key (and kept: the row's own copy). */
  private stored(): Uint8Array {
    return (this.value ??= this.lookUp(this.view.events.get(eventKey(this.tenantNo, this.ts, this.id))));
  }

  /** The value an index entry's event key found, which must exist. */
  private lookUp<T extends Uint8Array>(got: T | undefined): T {
    if (!got) throw new CorruptionError(this.view.path, 0, `an index entry of tenant ${JSON.stringify(this.tenantId)} points at an event (timestamp ${this.ts}) that audit.events does not hold; run verify() and repair()`);
    return got;
  }

  /** Drops the view of the scan's bytes: the scan is about to step past them. */
  detach(): void {
    if (this.jsonViewsValue) this.json = null;
    this.value = null;
  }
}

/**
 * The id part of a key as fresh bytes (the key itself is a view of the scan). A plain Uint8Array
 * copied byte by byte: ids are 11 to 130 bytes, and Buffer.allocUnsafe's pool plus a subarray cost
 * several times as much per row, most of all in a store's first queries, before the JIT has run.
 */
function idCopy(key: Uint8Array, from: number): Uint8Array {
  const id = new Uint8Array(key.length - from);
  for (let i = 0; i < id.length; i++) id[i] = key[from + i]!;
  return id;
}

/** Range options over `prefix` + ts for [from, to), narrowed to what follows `cursor` in the query's order. */
export function scanBounds(prefix: Buffer, q: NormalQuery, tenantId: string, cursor: CursorPos | undefined): RangeOptions | null {
  if (q.from >= q.to) return null;
  let lower = indexBound(prefix, q.from);
  let lowerIncl = true;
  let upper = indexBound(prefix, q.to);
  if (cursor) {
    const c = tenantId < cursor.tenantId ? -1 : tenantId > cursor.tenantId ? 1 : 0;
    if (!q.desc) {
      let k: Buffer;
      let incl = true;
      if (c === 0) {
        k = indexKey(prefix, cursor.ts, cursor.id);
        incl = false;
      } else k = indexBound(prefix, c > 0 ? cursor.ts : cursor.ts + 1);
      const d = compareBytes(k, lower);
      if (d > 0 || (d === 0 && !incl)) {
        lower = k;
        lowerIncl = incl;
      }
    } else {
      const k = c === 0 ? indexKey(prefix, cursor.ts, cursor.id) : indexBound(prefix, c < 0 ? cursor.ts + 1 : cursor.ts);
      if (compareBytes(k, upper) < 0) upper = k;
    }
  }
  if (compareBytes(lower, upper) >= 0) return null;
  return lowerIncl ? { gte: lower, lt: upper, reverse: q.desc } : { gt: lower, lt: upper, reverse: q.desc };
}

/**
 * A sorted stream of rows from range scans under prefixes of one length: one scan, or (for the
 * resource index's weeks) several whose times do not overlap, given in the query's order and read
 * one after the other.
 */
class Source {
  head: Row | null = null;
  /** Opened at the first advance: a merge may never start a source (MergedRows.waiting). */
  private it: RangeIterator | null = null;
  private next = 1;

  constructor(
    readonly plan: TenantPlan,
    private readonly view: ShardView,
    private readonly prefixLen: number,
    private readonly time: boolean,
    private readonly ranges: readonly RangeOptions[],
    private readonly counter: { scanned: number },
  ) {}

  /** Views, not copies: each row copies its id, and its value view lives only while it is the head. */
  private open(range: RangeOptions): RangeIterator {
    return (this.time ? this.view.events : this.view.index).rangeViews(range);
  }

  advance(): boolean {
    if (this.head !== null && this.time) this.head.detach();
    this.it ??= this.open(this.ranges[0]!);
    let e = this.it.step();
    while (e === null && this.next < this.ranges.length) {
      this.it.return();
      this.it = this.open(this.ranges[this.next++]!);
      e = this.it.step();
    }
    if (e === null) {
      this.head = null;
      return false;
    }
    this.counter.scanned++;
    const k = e.key;
    const p = this.prefixLen;
    this.head = new Row(readU64(k, p), this.plan.tenantId, idCopy(k, p + 8), this.plan.tenantNo, this.view, this.plan.residual, this.time ? e.value : null);
    return true;
  }

  close(): void {
    // The snapshot closes after this: a head kept by the caller must not keep a view of its bytes.
    if (this.head !== null && this.time) this.head.detach();
    this.it?.return();
  }
}

/** Order of rows: ts, then tenant id, then id key bytes. */
function compareRows(a: Row, b: Row): number {
  if (a.ts !== b.ts) return a.ts - b.ts;
  if (a.tenantId !== b.tenantId) return a.tenantId < b.tenantId ? -1 : 1;
  return compareBytes(a.id, b.id);
}

/**
 * Rows of every plan in the query's order (no residual filtering), pulled one at a time with
 * next() (no generator, no result object per row: a query's fixed cost matters at fifteen rows).
 * One source is read directly; several are merged through a binary heap on their heads. Close it
 * when done, whether or not it ran to the end.
 */
export class MergedRows implements Iterable<Row> {
  private readonly heap: Source[] = [];
  private readonly sources: Source[] = [];
  /**
   * With several sources, those not started yet, by their tenant's latest event time (desc) or
   * earliest (asc), best first: a source starts (a seek) only once its tenant could hold a row
   * that comes before the heap's top. The first page of a query across ten thousand tenants
   * sought every tenant's newest event to return the hundred newest of a few of them.
   */
  private readonly waiting: { source: Source; bound: number }[] = [];
  private started = 0;
  private readonly sign: number;
  /** The heap's top must step before the next row is read (it was handed out). */
  private pending = false;

  constructor(plans: readonly TenantPlan[], views: ReadonlyMap<number, ShardView>, q: NormalQuery, cursor: CursorPos | undefined, counter: { scanned: number }) {
    this.sign = q.desc ? -1 : 1;
    try {
      for (const plan of plans) {
        const view = views.get(plan.shard)!;
        if (plan.kind === KIND_RESOURCE) {
          // One prefix per week, ascending: read in turn, in the query's order.
          const ranges: RangeOptions[] = [];
          for (const prefix of plan.prefixes) {
            const range = scanBounds(prefix, q, plan.tenantId, cursor);
            if (range) ranges.push(range);
          }
          if (q.desc) ranges.reverse();
          if (ranges.length > 0) this.sources.push(new Source(plan, view, plan.prefixes[0]!.length, false, ranges, counter));
          continue;
        }
        for (const prefix of plan.prefixes) {
          const range = scanBounds(prefix, q, plan.tenantId, cursor);
          if (range) this.sources.push(new Source(plan, view, prefix.length, plan.kind === 0, [range], counter));
        }
      }
      if (this.sources.length > 1) {
        for (const source of this.sources) this.waiting.push({ source, bound: q.desc ? source.plan.maxTs : source.plan.minTs });
        this.waiting.sort((a, b) => (a.bound - b.bound) * this.sign);
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The next row, or null when every source has ended. */
  next(): Row | null {
    const sources = this.sources;
    if (sources.length === 1) return sources[0]!.advance() ? sources[0]!.head : null;
    const heap = this.heap;
    if (this.pending) {
      this.pending = false;
      if (heap[0]!.advance()) this.down(0);
      else {
        const last = heap.pop()!;
        if (heap.length > 0) {
          heap[0] = last;
          this.down(0);
        }
      }
    }
    this.startWaiting();
    if (heap.length === 0) return null;
    this.pending = true;
    return heap[0]!.head;
  }

  /** Starts the waiting sources whose tenants could hold a row at or before the heap's top. */
  private startWaiting(): void {
    const waiting = this.waiting;
    const heap = this.heap;
    while (this.started < waiting.length) {
      const w = waiting[this.started]!;
      // Rows of that tenant lie at or before its bound in the query's order; ts ties may go either way.
      if (heap.length > 0 && (w.bound - heap[0]!.head!.ts) * this.sign > 0) return;
      this.started++;
      if (!w.source.advance()) continue;
      heap.push(w.source);
      this.up(heap.length - 1);
    }
  }

  /** Ends every source's scan (a head kept by the caller drops its view of stored bytes). */
  close(): void {
    for (const s of this.sources) s.close();
  }

  *[Symbol.iterator](): Generator<Row> {
    try {
      for (let row = this.next(); row !== null; row = this.next()) yield row;
    } finally {
      this.close();
    }
  }

  private less(a: Source, b: Source): boolean {
    return compareRows(a.head!, b.head!) * this.sign < 0;
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && this.less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && this.less(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  }
}

/** True when a decoded event passes the residual filters `bits` of `q`. */
export function matchesResidual(e: AuditEvent, q: NormalQuery, bits: number): boolean {
  if (bits & Residual.Actor && e.actor.id !== q.actorId) return false;
  if (bits & Residual.Action && e.action !== q.action) return false;
  if (bits & Residual.ActionPrefix && !e.action.startsWith(q.actionPrefix!)) return false;
  if (bits & Residual.ResourceType && e.resource.type !== q.resourceType) return false;
  if (bits & Residual.ResourceId && e.resource.id !== q.resourceId) return false;
  if (bits & Residual.Outcome && e.outcome !== q.outcome) return false;
  if (bits & Residual.Category && e.category !== q.category) return false;
  if (bits & Residual.Severity && SEVERITIES.indexOf(e.severity) < q.minSeverity) return false;
  return true;
}

/** Residual filters that an index membership check answers exactly (no decoding). */
const MEMBERSHIP = Residual.Actor | Residual.Action | Residual.Outcome | Residual.Category;

/** Index entries that answer a plan's residual filters by membership (see membership). */
interface Membership {
  /** Index prefixes whose entry (prefix, ts, id) every counted row must have. */
  prefixes: Buffer[];
  /** The resource value (resourceValue) whose entry, under the row's week, it must have; or null. */
  resource: string | null;
}

/** The index entries to test for membership instead of decoding, or null when a residual needs the event. */
function membership(q: NormalQuery, plan: TenantPlan): Membership | null {
  let bits = plan.residual;
  const out: Membership = { prefixes: [], resource: null };
  if (bits & Residual.ResourceType && bits & Residual.ResourceId) {
    out.resource = resourceValue(q.resourceType!, q.resourceId!);
    bits &= ~(Residual.ResourceType | Residual.ResourceId);
  }
  if (bits & ~MEMBERSHIP) return null;
  if (bits & Residual.Actor) out.prefixes.push(valuePrefix(plan.tenantNo, KIND_ACTOR, q.actorId!, true));
  if (bits & Residual.Action) out.prefixes.push(valuePrefix(plan.tenantNo, KIND_ACTION, q.action!, true));
  if (bits & Residual.Outcome) out.prefixes.push(valuePrefix(plan.tenantNo, KIND_OUTCOME, q.outcome!, true));
  if (bits & Residual.Category) out.prefixes.push(valuePrefix(plan.tenantNo, KIND_CATEGORY, q.category!, true));
  return out;
}

/** Whether the row of `plan` has every index entry `m` names. */
function isMember(m: Membership, plan: TenantPlan, view: ShardView, row: Row): boolean {
  for (const p of m.prefixes) if (!view.index.has(indexKey(p, row.ts, row.id))) return false;
  return m.resource === null || view.index.has(resourceIndexKey(plan.tenantNo, m.resource, row.ts, row.id));
}

/** Entries under `prefix` with timestamps in [from, to), counted from the keys alone. */
function countRange(view: ShardView, prefix: Buffer, from: number, to: number): number {
  if (from >= to) return 0;
  let n = 0;
  for (const _ of view.index.rangeViews({ gte: indexBound(prefix, from), lt: indexBound(prefix, to) })) n++;
  return n;
}

/**
 * Number of events of one tenant plan that match, without decoding events when the index and
 * membership checks answer it. With no residual filter, counts come from the statistics (kept
 * exact in every commit): all of them when the query has no time window, otherwise the counted
 * side of the window is whichever is smaller, inside it or outside it (stats minus the outside).
 * A time-order plan counts through the outcome index (every event has exactly one outcome entry,
 * and index entries carry no value to copy).
 */
export function countPlan(plan: TenantPlan, view: ShardView, q: NormalQuery, counter: { scanned: number }): number {
  const whole = q.from <= 0 && q.to > MAX_TIMESTAMP;
  if (plan.residual === 0 && plan.kind !== KIND_RESOURCE) {
    // The planner read the plan's statistics from this snapshot already (indexedRows).
    const total = plan.kind === 0 ? plan.total : plan.indexedRows;
    if (whole) return total;
    // Prefixes whose statistics give their count: the plan's, or for time order the four outcomes.
    const prefixes = plan.kind === 0 ? OUTCOMES.map((o) => valuePrefix(plan.tenantNo, KIND_OUTCOME, o, true)) : plan.prefixes;
    const inside = plan.total > 0 ? plan.estimatedRows / Math.max(1, total) : 1;
    let n = 0;
    if (inside <= 0.5) {
      for (const p of prefixes) n += countRange(view, p, q.from, q.to);
      counter.scanned += n;
      return n;
    }
    for (const p of prefixes) n += countRange(view, p, 0, q.from) + countRange(view, p, q.to, MAX_TIMESTAMP + 1);
    counter.scanned += n;
    return total - n;
  }
  const members = membership(q, plan);
  let n = 0;
  for (const row of new MergedRows([plan], new Map([[plan.shard, view]]), q, undefined, counter)) {
    if (members ? isMember(members, plan, view, row) : matchesResidual(row.event(), q, plan.residual)) n++;
  }
  return n;
}
