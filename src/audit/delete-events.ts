/**
 * Deleting stored events with everything that points at them: the event row, its id, its five
 * index entries and its share of the statistics (its change-feed position then reads as gone;
 * feed.ts trims groups whose events are all gone), inside the caller's write
 * transaction (so a deletion is as atomic as an insert). Used by retention purges and by the
 * roll-back of an incomplete cross-shard batch.
 */
import type { WriteTxn } from '../shard/txn/write-txn.js';
import { keepLeavesOfDeleted } from '../integrity/audit-binding.js';
import { decodeEvent } from './event-model.js';
import { KIND_ACTION, KIND_ACTOR, KIND_CATEGORY, KIND_OUTCOME, idBytesOfKey, idsKey, isSelfKeyed, indexKey, readTenant, readU64, resourceIndexKey, resourceValue, tenantLenAt, totalKey, valuePrefix } from './keys.js';
import { StatsDelta } from './stats.js';
import { eventJson } from './stored-event.js';
import { T_EVENTS, T_IDS, T_INDEX, T_STATS } from './tables.js';

/**
 * Deletes the events whose audit.events keys are `keys` (all of this shard); keys with no event are
 * skipped. Returns how many were deleted.
 */
export function deleteEvents(tx: WriteTxn, keys: readonly Uint8Array[]): number {
  const evT = tx.table(T_EVENTS);
  const ixT = tx.table(T_INDEX);
  const idT = tx.table(T_IDS);
  const delta = new StatsDelta();
  const deleted: { tenantId: string; id: string }[] = [];
  let n = 0;
  for (const key of keys) {
    const v = evT.get(key);
    if (!v) continue;
    const e = decodeEvent(eventJson(key, v));
    const tenantNo = readTenant(key, 0);
    const tl = tenantLenAt(key, 0);
    const ts = readU64(key, tl);
    const id = Buffer.from(key.buffer, key.byteOffset + tl + 8, key.length - tl - 8);
    const values: [number, string][] = [
      [KIND_ACTOR, e.actor.id],
      [KIND_ACTION, e.action],
      [KIND_OUTCOME, e.outcome],
      [KIND_CATEGORY, e.category],
    ];
    for (const [kind, value] of values) {
      const p = valuePrefix(tenantNo, kind, value, true);
      ixT.remove(indexKey(p, ts, id));
      delta.add(`${tenantNo}:${kind}:${value}`, p, -1);
    }
    ixT.remove(resourceIndexKey(tenantNo, resourceValue(e.resource.type, e.resource.id), ts, id));
    if (!isSelfKeyed(id)) idT.remove(idsKey(tenantNo, idBytesOfKey(id, 0, id.length, ts)));
    evT.remove(key);
    deleted.push({ tenantId: e.tenantId, id: e.id });
    delta.addTotal(tenantNo, totalKey(tenantNo), -1, ts);
    n++;
  }
  keepLeavesOfDeleted(tx, deleted);
  if (n > 0) delta.apply(tx.table(T_STATS));
  return n;
}
