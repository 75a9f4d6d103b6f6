/**
 * Tenant totals (stats.ts) remembered per committed state of a shard, so that the planner reads a
 * tenant's total once per commit rather than once per query: a time window returning a few rows
 * spent about a fifth of its time building the totals key, looking it up in the tree and decoding
 * it again.
 *
 * Invariant: an entry belongs to one Version object, and versions are immutable (a commit, a fold
 * or a compaction publishes a new object), so a cached total always equals what the snapshot's own
 * audit.stats holds. The versions are weak keys: a version no snapshot reaches takes its entries
 * with it.
 */
import type { Version } from '../shard/data/version.js';
import type { Snapshot, SnapshotTable } from '../shard/snapshot.js';
import { totalKey } from './keys.js';
import { readTotals, type TenantTotals } from './stats.js';

export class TotalsCache {
  private readonly byVersion = new WeakMap<Version, Map<number, TenantTotals>>();

  /** The totals of tenant `tenantNo` as `snap` sees them; `stats` is that snapshot's audit.stats. */
  totals(snap: Snapshot, stats: SnapshotTable, tenantNo: number): TenantTotals {
    const version = snap.liveVersion();
    let tenants = this.byVersion.get(version);
    if (tenants === undefined) this.byVersion.set(version, (tenants = new Map()));
    let t = tenants.get(tenantNo);
    if (t === undefined) tenants.set(tenantNo, (t = readTotals(stats.get(totalKey(tenantNo)))));
    return t;
  }
}
