/**
 * The query planner. Per tenant it reads the statistics of every index the query's filters can use
 * (audit.stats, same snapshot as the data), picks the one with the fewest entries, and falls back to
 * the primary time order when no index is smaller than the tenant's total. Every other filter is a
 * residual, checked per candidate. An action prefix ('record.*') uses the action index through the
 * distinct actions under the prefix (read from the stats), merged back into time order; with more
 * than MAX_PREFIX_VALUES of them the time order is used instead.
 *
 * Resource (type, id) pairs have no count (there are too many distinct ones to update per commit):
 * their index is probed over the window's weeks, counting at most as many entries as the best
 * estimate so far. A resource plan's prefixes are one per week, in ascending order, covering disjoint
 * times: they are scanned one after the other, not merged.
 *
 * Estimates assume events spread evenly over the tenant's [min, max] timestamps, so a time window
 * scales every candidate alike; they are estimates, reported by explain() next to what was scanned.
 */
import type { SnapshotTable } from '../shard/snapshot.js';
import { KIND_ACTION, KIND_ACTOR, KIND_CATEGORY, KIND_OUTCOME, KIND_RESOURCE, indexBound, prefixEnd, resourceWeek, resourcePrefix, resourceValue, tenantPrefix, valuePrefix } from './keys.js';
import type { NormalQuery } from './query-model.js';
import { readCount, type TenantTotals } from './stats.js';

/** Most distinct actions an action-prefix plan merges. */
export const MAX_PREFIX_VALUES = 64;

/** Filters a plan can leave to per-candidate checks. */
export const Residual = {
  Actor: 1,
  Action: 2,
  ActionPrefix: 4,
  ResourceType: 8,
  ResourceId: 16,
  Outcome: 32,
  Category: 64,
  Severity: 128,
} as const;

/** How one tenant's part of a query runs. */
export interface TenantPlan {
  shard: number;
  tenantNo: number;
  tenantId: string;
  /** 0: time order over audit.events; otherwise the index kind (keys.ts). */
  kind: number;
  /**
   * Key prefixes to scan: [tenant prefix] for time order, one index prefix per value for actor,
   * action, outcome and category, and for a resource one prefix per week of the window, ascending.
   */
  prefixes: Buffer[];
  estimatedRows: number;
  /**
   * Entries under `prefixes` over all time, as the statistics of this snapshot count them (exact),
   * or the tenant's total for time order; for a resource plan, the count probed in the window
   * (capped) scaled to the tenant's whole span, or the tenant's total when no probe was needed.
   */
  indexedRows: number;
  /** Residual filters (Residual bits). */
  residual: number;
  /** Tenant's total events. */
  total: number;
  /** The tenant's earliest and latest event times: no row of the plan lies outside them. */
  minTs: number;
  maxTs: number;
}

/** Residual bits of every filter the query sets. */
export function filterBits(q: NormalQuery): number {
  let r = 0;
  if (q.actorId !== undefined) r |= Residual.Actor;
  if (q.action !== undefined) r |= Residual.Action;
  if (q.actionPrefix !== undefined) r |= Residual.ActionPrefix;
  if (q.resourceType !== undefined) r |= Residual.ResourceType;
  if (q.resourceId !== undefined) r |= Residual.ResourceId;
  if (q.outcome !== undefined) r |= Residual.Outcome;
  if (q.category !== undefined) r |= Residual.Category;
  if (q.minSeverity > 0) r |= Residual.Severity;
  return r;
}

export const RESIDUAL_NAMES: [number, string][] = [
  [Residual.Actor, 'actorId'],
  [Residual.Action, 'action'],
  [Residual.ActionPrefix, 'action'],
  [Residual.ResourceType, 'resourceType'],
  [Residual.ResourceId, 'resourceId'],
  [Residual.Outcome, 'outcome'],
  [Residual.Category, 'category'],
  [Residual.Severity, 'minSeverity'],
];

/** Fraction of a tenant's events inside [from, to), assuming an even spread over [minTs, maxTs]. */
function timeFraction(q: NormalQuery, minTs: number, maxTs: number): number {
  const lo = Math.max(q.from, minTs);
  const hi = Math.min(q.to, maxTs + 1);
  if (hi <= lo) return 0;
  return (hi - lo) / (maxTs + 1 - minTs);
}

/** An index (or the time order) a plan could use, with its estimated entries. */
interface Candidate {
  kind: number;
  prefixes: Buffer[];
  est: number;
  /** Residual bits the candidate answers by itself. */
  answers: number;
}

/** `best`, or the index of `kind` for `value` when its statistics count fewer entries. */
function consider(best: Candidate, stats: SnapshotTable, tenantNo: number, kind: number, value: string, answers: number): Candidate {
  const p = valuePrefix(tenantNo, kind, value, true);
  const est = readCount(stats.get(p));
  return est < best.est ? { kind, prefixes: [p], est, answers } : best;
}

/**
 * `best`, or the resource index when it holds fewer entries. Resource ids are too many to keep a
 * count each, so the index itself is counted, over the weeks of the window (one prefix per week, in
 * ascending order: keys.ts), never past the best estimate so far scaled to the window (so this probe
 * costs no more than the plan it might replace would save). The count is scaled back to the tenant's
 * whole span to compare with the other candidates, whose counts are over all time. Against the time
 * order alone it is taken without a probe, which costs a seek per week of the window.
 */
function considerResource(best: Candidate, q: NormalQuery, tenantNo: number, totals: TenantTotals, fraction: number, index: SnapshotTable): Candidate {
  const value = resourceValue(q.resourceType!, q.resourceId!);
  const first = resourceWeek(Math.max(q.from, totals.minTs));
  const last = resourceWeek(Math.min(q.to, totals.maxTs + 1) - 1);
  const answers = Residual.ResourceType | Residual.ResourceId;
  // Against the time order alone no probe is needed: the index holds at most the tenant's events,
  // each a match, so it never scans more. Its estimate is then the tenant's events in the window.
  if (best.kind === 0) return { kind: KIND_RESOURCE, prefixes: weekPrefixes(tenantNo, value, first, last), est: best.est, answers };
  // Probed week by week, each prefix made as it is reached: the probe stops at the other index's
  // estimate, and the full list is made only if the resource index wins.
  const cap = Math.max(1, Math.ceil(best.est * fraction));
  let inWindow = 0;
  for (let week = first; week <= last && inWindow < cap; week++) {
    const p = resourcePrefix(tenantNo, value, week);
    for (const _ of index.rangeViews({ gte: indexBound(p, q.from), lt: indexBound(p, q.to), limit: cap - inWindow })) inWindow++;
  }
  const est = inWindow / fraction;
  return est < best.est ? { kind: KIND_RESOURCE, prefixes: weekPrefixes(tenantNo, value, first, last), est, answers } : best;
}

/** The resource index prefixes of `value` for weeks first..last, ascending. */
function weekPrefixes(tenantNo: number, value: string, first: number, last: number): Buffer[] {
  const prefixes: Buffer[] = [];
  for (let week = first; week <= last; week++) prefixes.push(resourcePrefix(tenantNo, value, week));
  return prefixes;
}

/** Plans one tenant's part of `q` given its `totals`, or returns null when the tenant has no events. */
export function planTenant(q: NormalQuery, shard: number, tenantNo: number, tenantId: string, totals: TenantTotals, stats: SnapshotTable, index: SnapshotTable): TenantPlan | null {
  if (totals.count <= 0) return null;
  const fraction = timeFraction(q, totals.minTs, totals.maxTs);
  const all = filterBits(q);
  // No closure per call: tsx names every closure it creates (a defineProperty each), which the
  // profile of warm time windows showed at 7% of a query.
  let best: Candidate = { kind: 0, prefixes: [tenantPrefix(tenantNo)], est: totals.count, answers: 0 };
  if (q.actorId !== undefined) best = consider(best, stats, tenantNo, KIND_ACTOR, q.actorId, Residual.Actor);
  if (q.action !== undefined) best = consider(best, stats, tenantNo, KIND_ACTION, q.action, Residual.Action);
  if (q.outcome !== undefined) best = consider(best, stats, tenantNo, KIND_OUTCOME, q.outcome, Residual.Outcome);
  if (q.category !== undefined) best = consider(best, stats, tenantNo, KIND_CATEGORY, q.category, Residual.Category);
  if (q.actionPrefix !== undefined) {
    const lo = valuePrefix(tenantNo, KIND_ACTION, q.actionPrefix, false);
    const prefixes: Buffer[] = [];
    let est = 0;
    for (const { key, value } of stats.range({ gte: lo, lt: prefixEnd(lo)!, limit: MAX_PREFIX_VALUES + 1 })) {
      prefixes.push(key);
      est += readCount(value);
    }
    if (prefixes.length <= MAX_PREFIX_VALUES && est < best.est) best = { kind: KIND_ACTION, prefixes, est, answers: Residual.ActionPrefix };
  }
  // Last: whether it needs probing depends on whether any other index was found.
  if (q.resourceType !== undefined && q.resourceId !== undefined && fraction > 0) best = considerResource(best, q, tenantNo, totals, fraction, index);
  return {
    shard,
    tenantNo,
    tenantId,
    kind: best.kind,
    prefixes: best.prefixes,
    estimatedRows: Math.round(best.est * fraction),
    indexedRows: best.est,
    residual: all & ~best.answers,
    total: totals.count,
    minTs: totals.minTs,
    maxTs: totals.maxTs,
  };
}
