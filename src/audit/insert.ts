/**
 * The insert transaction of one shard: for each new event, its row in audit.events, its id in
 * audit.ids (unless the id is a ULID of the event's own time), its five index entries in
 * audit.index (the resource one under the event's week: keys.ts), plus one change-feed group for
 * the whole transaction in audit.feed, the batch's aggregated statistics and the feed counter, all
 * in the caller's one write transaction, so an event is never visible (or durable) without every
 * entry that points at it. Entries per event are
 * what ingest pays for (each costs a memtable insert and a fold), so the feed takes one entry per
 * commit, the id one only when it is needed, and statistics one per distinct value per commit.
 *
 * Events whose id the tenant already holds (or that appear twice in the batch) are duplicates:
 * nothing is written for them. After the rows, each registered InsertHook is called once per tenant
 * with that tenant's newly inserted events in commit order (the integrity layer's Merkle log appends
 * its leaves there, inside the same transaction).
 */
import type { WriteTxn } from '../shard/txn/write-txn.js';
import type { PreparedEvent } from './event-model.js';
import {
  KIND_ACTION,
  KIND_ACTOR,
  KIND_CATEGORY,
  KIND_OUTCOME,
  KIND_RESOURCE,
  eventKey,
  prefixEnd,
  idKeyOf,
  idsKey,
  indexKeyLength,
  readU64,
  resourceWeek,
  seqKey,
  TAG_ULID,
  tenantPrefix,
  totalKey,
  valuePrefix,
  writeIndexKey,
  writeTenant,
  writeU32,
  writeU64,
} from './keys.js';
import { compareBytes } from '../util/bytes.js';
import { addCount, addTotals } from './stats.js';
import { ulidTime } from './ulid.js';
import { META_SEQ, T_EVENTS, T_FEED, T_IDS, T_INDEX, T_META, T_STATS, T_TENANTS } from './tables.js';
import { assignTenant, lookupTenant } from './tenants.js';

/** One tenant's newly inserted events of a shard transaction, in commit order. */
export interface TenantInserted {
  tenantNo: number;
  tenantId: string;
  events: PreparedEvent[];
  /** audit.events keys of `events`, in the same order. */
  keys: Buffer[];
}

/**
 * Called inside the insert transaction once per tenant that gained events; whatever it writes
 * commits atomically with them. It must be synchronous and may throw to abort the whole batch.
 */
export type InsertHook = (tx: WriteTxn, inserted: TenantInserted) => void;

/** What one shard's part of a batch did. */
export interface PartResult {
  /** 1 where the event at that position of the part was inserted, 0 where it was a duplicate. */
  inserted: Uint8Array;
  insertedCount: number;
  /** Tenants that got a number in this transaction (to cache once it is durable). */
  newTenants: [string, number][];
  /** Per tenant, what was inserted. */
  tenants: TenantInserted[];
}

/** Per-tenant state of one transaction: index prefixes (which are also the stats keys) with their deltas. */
interface TenantState {
  no: number;
  /** Per index kind (slot = kind), value -> prefix and count: no key string to build per event. */
  prefixes: Map<string, { key: Buffer; delta: number }>[];
  inserted: TenantInserted;
  count: number;
  minTs: number;
  maxTs: number;
  /**
   * The tenant's greatest audit.events key this transaction sees (its own puts included), null
   * when it has none; read only when lastKeyRead (looked up for caller-supplied self-keyed ids).
   */
  lastKey: Buffer | null;
  lastKeyRead: boolean;
}

function prefixFor(t: TenantState, kind: number, value: string): { key: Buffer; delta: number } {
  const m = t.prefixes[kind]!;
  let p = m.get(value);
  if (!p) {
    p = { key: valuePrefix(t.no, kind, value, true), delta: 0 };
    m.set(value, p);
  }
  p.delta++;
  return p;
}

/** Writes `events` (all routed to this shard) inside `tx`. */
export function insertPart(
  tx: WriteTxn,
  events: readonly PreparedEvent[],
  tenantCache: ReadonlyMap<string, number>,
  hooks: readonly InsertHook[],
): PartResult {
  const evT = tx.table(T_EVENTS);
  const ixT = tx.table(T_INDEX);
  const idT = tx.table(T_IDS);
  const feedT = tx.table(T_FEED);
  const metaT = tx.table(T_META);
  const tenantsT = tx.table(T_TENANTS);
  // Most stores only ever hold self-keyed ids; then audit.ids is empty and needs no lookups.
  const probe = idT.range({ limit: 1 });
  let idsInUse = !probe.next().done;
  probe.return?.();
  const seqV = metaT.get(META_SEQ);
  let seq = seqV ? readU64(seqV, 0) : 0;
  const states = new Map<string, TenantState>();
  const newTenants: [string, number][] = [];
  const inserted = new Uint8Array(events.length);
  let insertedCount = 0;
  const feedKeys: Buffer[] = [];
  let feedBytes = 0;
  // Index entries are put after the loop, all together: nothing in the loop reads audit.index, and
  // puts that alternate between tables make the commit log switch tables (and say so) twice per event.
  // Their keys wait in one buffer (IndexKeys), not as a Buffer each: five objects per event
  // that would live as long as the loop, long enough to leave the young generation.
  const ix = new IndexKeys(events.length * 5);
  // Tenants first, with the last events key of each that has caller-supplied self-keyed ids, read
  // before this transaction puts any events (a range read re-sorts a table's pending writes). Such
  // an event whose key lies above it cannot be stored yet: events mostly arrive in time order, so
  // most need no lookup for duplicates.
  const lastKeyWanted: TenantState[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    let t = states.get(e.tenantId);
    if (t === undefined) {
      let no = tenantCache.get(e.tenantId) ?? lookupTenant(tenantsT, e.tenantId);
      const isNew = no === undefined;
      if (no === undefined) {
        no = assignTenant(tenantsT, metaT, e.tenantId);
        newTenants.push([e.tenantId, no]);
      }
      // A tenant numbered just now has no events: null is its last key already.
      t = { no, prefixes: [new Map(), new Map(), new Map(), new Map(), new Map(), new Map()], inserted: { tenantNo: no, tenantId: e.tenantId, events: [], keys: [] }, count: 0, minTs: Infinity, maxTs: -Infinity, lastKey: null, lastKeyRead: isNew };
      states.set(e.tenantId, t);
    }
    if (!t.lastKeyRead && e.selfKeyed && !e.generated) {
      t.lastKeyRead = true;
      lastKeyWanted.push(t);
    }
  }
  for (const t of lastKeyWanted) {
    const gte = tenantPrefix(t.no);
    const lt = prefixEnd(gte);
    for (const { key } of evT.range({ gte, ...(lt === undefined ? {} : { lt }), reverse: true, limit: 1 })) t.lastKey = Buffer.from(key);
  }
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const t = states.get(e.tenantId)!;
    const ek = eventKey(t.no, e.ts, e.idKey);
    // Reads see this transaction's own writes, so a repeat within the batch is caught here too. A
    // ULID id is looked for under its own time as well, whatever timestamp this copy carries.
    if (e.selfKeyed) {
      // A ULID generated by this process for this insert is new by construction (monotonic within
      // the process, 80 random bits across processes): looking it up would only cost time.
      if (!e.generated && ((t.lastKey !== null && compareBytes(ek, t.lastKey) <= 0 && evT.has(ek)) || (idsInUse && idT.has(idsKey(t.no, e.idBytes))))) continue;
    } else {
      idsInUse = true;
      const idk = idsKey(t.no, e.idBytes);
      if (idT.has(idk)) continue;
      if (e.idBytes[0] === TAG_ULID && evT.has(eventKey(t.no, ulidTime(e.id), idKeyOf(e.idBytes, ulidTime(e.id))))) continue;
      const idv = Buffer.allocUnsafe(8);
      writeU64(idv, 0, e.ts);
      idT.put(idk, idv);
    }
    if (t.lastKey === null || compareBytes(ek, t.lastKey) > 0) t.lastKey = ek;
    evT.put(ek, e.json);
    ix.add(prefixFor(t, KIND_ACTOR, e.actorId).key, e.ts, e.idKey);
    ix.add(prefixFor(t, KIND_ACTION, e.action).key, e.ts, e.idKey);
    ix.addResource(t.no, e.resourceType, e.resourceId, e.ts, e.idKey);
    ix.add(prefixFor(t, KIND_OUTCOME, e.outcome).key, e.ts, e.idKey);
    ix.add(prefixFor(t, KIND_CATEGORY, e.category).key, e.ts, e.idKey);
    feedKeys.push(ek);
    feedBytes += 2 + ek.length;
    t.count++;
    if (e.ts < t.minTs) t.minTs = e.ts;
    if (e.ts > t.maxTs) t.maxTs = e.ts;
    t.inserted.events.push(e);
    t.inserted.keys.push(ek);
    inserted[i] = 1;
    insertedCount++;
  }
  for (let i = 0; i < ix.count; i++) ixT.put(ix.key(i), EMPTY);
  if (insertedCount > 0) {
    // Straight into audit.stats: each (tenant, kind, value) has one prefix entry here already.
    const statsT = tx.table(T_STATS);
    for (const t of states.values()) {
      if (t.count === 0) continue;
      for (let kind = 0; kind < t.prefixes.length; kind++) for (const p of t.prefixes[kind]!.values()) addCount(statsT, p.key, p.delta);
    }
    for (const t of states.values()) if (t.count > 0) addTotals(statsT, totalKey(t.no), t.count, t.minTs, t.maxTs);
    feedT.put(seqKey(seq + 1), packKeys(feedKeys, feedBytes));
    const sv = Buffer.allocUnsafe(8);
    writeU64(sv, 0, seq + insertedCount);
    metaT.put(META_SEQ, sv);
  }
  const tenants: TenantInserted[] = [];
  for (const t of states.values()) {
    if (t.count === 0) continue;
    tenants.push(t.inserted);
    for (const h of hooks) h(tx, t.inserted);
  }
  return { inserted, insertedCount, newTenants, tenants };
}

/** Index keys in one growing buffer, in the order added; each is read back as a short-lived view. */
class IndexKeys {
  private buf: Buffer;
  private readonly ends: number[] = [];
  private size = 0;

  constructor(expected: number) {
    this.buf = Buffer.allocUnsafe(Math.max(256, expected * 48));
  }

  get count(): number {
    return this.ends.length;
  }

  private room(n: number): void {
    if (this.size + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.size + n));
    grown.set(this.buf.subarray(0, this.size));
    this.buf = grown;
  }

  add(prefix: Uint8Array, ts: number, id: Uint8Array): void {
    this.room(indexKeyLength(prefix.length, id.length));
    this.size = writeIndexKey(this.buf, this.size, prefix, ts, id);
    this.ends.push(this.size);
  }

  /**
   * The resource index key of (type, id) at ts: `resourcePrefix(tenantNo, type NUL id, week of ts)`
   * then ts and the id key, written in place. Resources are not counted in audit.stats, so no
   * prefix is kept per value: building one per event cost an allocation and two UTF-8 passes.
   */
  addResource(tenantNo: number, type: string, id: string, ts: number, idKey: Uint8Array): void {
    this.room(4 + 5 + 3 * (type.length + id.length) + 2 + 8 + idKey.length);
    const b = this.buf;
    let o = this.size;
    o += writeTenant(b, o, tenantNo);
    b[o++] = KIND_RESOURCE;
    writeU32(b, o, resourceWeek(ts));
    o += 4;
    o = writeText(b, o, type);
    b[o++] = 0;
    o = writeText(b, o, id);
    b[o++] = 0;
    this.size = writeIndexKey(b, o, EMPTY, ts, idKey);
    this.ends.push(this.size);
  }

  /** A view of key `i` (valid until the next add). */
  key(i: number): Uint8Array {
    return this.buf.subarray(i > 0 ? this.ends[i - 1]! : 0, this.ends[i]!);
  }
}

/** Writes `s` as UTF-8 at b[o] (room for 3 bytes per UTF-16 unit); returns where it ends. */
function writeText(b: Buffer, o: number, s: string): number {
  // ASCII byte by byte: resource types and ids are short, and a native write costs more than the loop.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return o - i + b.write(s, o - i, 'utf8');
    b[o++] = c;
  }
  return o;
}

/** A feed group's value: each key as a 2-byte length and its bytes, in commit order. */
function packKeys(keys: readonly Buffer[], size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let o = 0;
  for (const k of keys) {
    b[o] = k.length >>> 8;
    b[o + 1] = k.length & 255;
    k.copy(b, o + 2);
    o += 2 + k.length;
  }
  return b;
}

const EMPTY = new Uint8Array(0);
