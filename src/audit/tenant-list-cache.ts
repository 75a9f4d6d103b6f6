/**
 * Every tenant of a shard ([number, id] pairs, tenants.ts listTenants), remembered per committed
 * state of the shard, so that queries across tenants read and decode audit.tenants once per commit
 * rather than once per query: at 10,000 tenants that was about a fifth of such a query.
 *
 * Invariant: an entry belongs to one Version object, and versions are immutable (totals-cache.ts),
 * so a cached list always equals what the snapshot's own audit.tenants holds. The versions are weak
 * keys: a version no snapshot reaches takes its list with it.
 */
import type { Version } from '../shard/data/version.js';
import type { Snapshot } from '../shard/snapshot.js';
import { T_TENANTS } from './tables.js';
import { listTenants } from './tenants.js';

export class TenantListCache {
  private readonly byVersion = new WeakMap<Version, readonly (readonly [number, string])[]>();

  /** The tenants of the shard as `snap` sees them, in number order. */
  tenants(snap: Snapshot): readonly (readonly [number, string])[] {
    const version = snap.liveVersion();
    let list = this.byVersion.get(version);
    if (list === undefined) this.byVersion.set(version, (list = [...listTenants(snap.table(T_TENANTS))]));
    return list;
  }
}
