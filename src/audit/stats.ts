/**
 * Per-tenant statistics for the planner, kept in audit.stats in the same transaction as the events
 * they count: one count per (index kind, value) under the index prefix of that value for the
 * actor, action, outcome and category indexes (not resource: see planner.ts), and per tenant
 * the total with the smallest and largest timestamp seen. Insert aggregates a batch's changes first
 * (one read-modify-write per distinct value, not per event); purge and rollback subtract.
 *
 * Invariant: after every commit, count(kind, value) (kinds above) equals the number of index entries under that
 * prefix and the total equals the tenant's number of events. min/max timestamps only widen (purge
 * leaves them), so they bound the tenant's events and serve as estimates only.
 */
import type { SnapshotTable } from '../shard/snapshot.js';
import type { TxTable } from '../shard/txn/write-txn.js';

export interface TenantTotals {
  count: number;
  minTs: number;
  maxTs: number;
}

export function readCount(v: Uint8Array | undefined): number {
  if (!v) return 0;
  return Buffer.from(v.buffer, v.byteOffset, v.length).readDoubleBE(0);
}

export function encodeCount(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(n, 0);
  return b;
}

export function readTotals(v: Uint8Array | undefined): TenantTotals {
  if (!v) return { count: 0, minTs: 0, maxTs: 0 };
  const b = Buffer.from(v.buffer, v.byteOffset, v.length);
  return { count: b.readDoubleBE(0), minTs: b.readDoubleBE(8), maxTs: b.readDoubleBE(16) };
}

export function encodeTotals(t: TenantTotals): Buffer {
  const b = Buffer.allocUnsafe(24);
  b.writeDoubleBE(t.count, 0);
  b.writeDoubleBE(t.minTs, 8);
  b.writeDoubleBE(t.maxTs, 16);
  return b;
}

/** Pending changes to the count entries of one transaction, applied once per distinct key. */
export class StatsDelta {
  private readonly counts = new Map<string, { key: Buffer; delta: number }>();
  private readonly totals = new Map<number, { key: Buffer; delta: number; minTs: number; maxTs: number }>();

  /** `key` is the stats key (an index prefix); `id` a string naming it uniquely within the batch. */
  add(id: string, key: Buffer, delta: number): void {
    const c = this.counts.get(id);
    if (c) c.delta += delta;
    else this.counts.set(id, { key, delta });
  }

  addTotal(tenantNo: number, key: Buffer, delta: number, ts: number): void {
    const t = this.totals.get(tenantNo);
    if (t) {
      t.delta += delta;
      if (ts < t.minTs) t.minTs = ts;
      if (ts > t.maxTs) t.maxTs = ts;
    } else this.totals.set(tenantNo, { key, delta, minTs: ts, maxTs: ts });
  }

  /** Applies every change to the transaction's audit.stats; counts that reach zero are removed. */
  apply(stats: TxTable): void {
    for (const { key, delta } of this.counts.values()) addCount(stats, key, delta);
    for (const { key, delta, minTs, maxTs } of this.totals.values()) addTotals(stats, key, delta, minTs, maxTs);
  }
}

/** Adds `delta` to the count under `key` (one read-modify-write); a count that reaches zero is removed. */
export function addCount(stats: TxTable, key: Uint8Array, delta: number): void {
  if (delta === 0) return;
  const n = readCount(stats.get(key)) + delta;
  if (n <= 0) stats.remove(key);
  else stats.put(key, encodeCount(n));
}

/** Adds `delta` to the tenant total under `key` and widens its timestamps to [minTs, maxTs]. */
export function addTotals(stats: TxTable, key: Uint8Array, delta: number, minTs: number, maxTs: number): void {
  const cur = stats.get(key);
  const t = readTotals(cur);
  const next: TenantTotals = cur
    ? { count: t.count + delta, minTs: Math.min(t.minTs, minTs), maxTs: Math.max(t.maxTs, maxTs) }
    : { count: delta, minTs, maxTs };
  if (next.count < 0) next.count = 0;
  stats.put(key, encodeTotals(next));
}

/** Count stored for a stats key in a snapshot. */
export function countOf(stats: SnapshotTable, key: Uint8Array): number {
  return readCount(stats.get(key));
}
