/**
 * Retention: events of a tenant older than its policy's maxAgeDays are deleted, with their index
 * entries, ids, feed entries and statistics, in transactions of at most PURGE_CHUNK events each (so
 * a purge never builds one huge commit and readers and writers interleave with it). A policy with a
 * category applies to that category and overrides the tenant-wide policy there (keep 'security'
 * seven years while the rest goes after ninety days). A tenant under legal hold is never purged;
 * the hold is stored in the tenant's shard (audit.meta 'hold:' + tenant id) and survives restarts.
 */
import type { Database } from '../shard/database.js';
import { decodeEvent } from './event-model.js';
import { deleteEvents } from './delete-events.js';
import { KIND_CATEGORY, eventBound, indexBound, tenantLenAt, valuePrefix } from './keys.js';
import { eventJson } from './stored-event.js';
import { META_HOLD, T_EVENTS, T_INDEX, T_META } from './tables.js';
import type { RetentionPolicy } from './types.js';

/** Most events deleted per purge transaction. */
export const PURGE_CHUNK = 1000;

const DAY_MS = 86_400_000;

export function holdKey(tenantId: string): Buffer {
  return Buffer.from(META_HOLD + tenantId, 'utf8');
}

export function isHeld(db: Database, tenantId: string): boolean {
  const v = db.table(T_META).get(holdKey(tenantId));
  return v !== undefined && v[0] === 1;
}

/** Purges one tenant (number `tenantNo` in `db`) under `policies` (all of this tenant). Returns events deleted. */
export function purgeTenant(db: Database, tenantNo: number, policies: readonly RetentionPolicy[], now: number): number {
  let purged = 0;
  const byCategory = new Map<string, number>();
  let tenantCutoff: number | undefined;
  for (const p of policies) {
    const cutoff = Math.max(0, Math.floor(now - p.maxAgeDays * DAY_MS));
    if (p.category === undefined) tenantCutoff = cutoff;
    else byCategory.set(p.category, cutoff);
  }
  // Category policies: their index gives exactly the events to delete.
  for (const [category, cutoff] of byCategory) {
    const prefix = valuePrefix(tenantNo, KIND_CATEGORY, category, true);
    for (;;) {
      const keys: Buffer[] = [];
      for (const { key } of db.table(T_INDEX).range({ gte: indexBound(prefix, 0), lt: indexBound(prefix, cutoff), limit: PURGE_CHUNK })) {
        const tl = tenantLenAt(key, 0);
        const k = Buffer.allocUnsafe(tl + key.length - prefix.length);
        k.set(key.subarray(0, tl), 0);
        k.set(key.subarray(prefix.length), tl);
        keys.push(k);
      }
      if (keys.length === 0) break;
      purged += db.write((tx) => deleteEvents(tx, keys));
      if (keys.length < PURGE_CHUNK) break;
    }
  }
  if (tenantCutoff !== undefined) {
    // Tenant-wide policy: time order, skipping categories that have their own policy.
    let start: Buffer = eventBound(tenantNo, 0);
    let startIncl = true;
    const end = eventBound(tenantNo, tenantCutoff);
    for (;;) {
      const keys: Buffer[] = [];
      let last: Buffer | null = null;
      let scanned = 0;
      const range = startIncl ? { gte: start, lt: end, limit: PURGE_CHUNK } : { gt: start, lt: end, limit: PURGE_CHUNK };
      for (const { key, value } of db.table(T_EVENTS).range(range)) {
        scanned++;
        last = key;
        if (byCategory.size > 0 && byCategory.has(decodeEvent(eventJson(key, value)).category)) continue;
        keys.push(key);
      }
      if (keys.length > 0) purged += db.write((tx) => deleteEvents(tx, keys));
      if (scanned < PURGE_CHUNK || last === null) break;
      start = last;
      startIncl = false;
    }
  }
  return purged;
}

