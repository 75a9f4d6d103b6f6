/**
 * A full cross-check of the audit tables of one shard: every event has its five index entries and
 * (unless self-keyed) its id entry, every index entry and id points at an existing event, and the
 * statistics equal what they count. It reads one snapshot, so it can run while writes go on. Used by
 * RedbAuditStore.checkConsistency and the crash tests; finding anything here means a bug or damage.
 */
import type { Snapshot } from '../shard/snapshot.js';
import { decodeEvent } from './event-model.js';
import { KIND_ACTION, KIND_ACTOR, KIND_CATEGORY, KIND_OUTCOME, KIND_RESOURCE, KIND_TOTAL, eventKey, idBytesOfKey, idFromKey, idKeyOf, idsKey, indexKey, indexTsAt, isSelfKeyed, readTenant, readU32, readU64, resourceIndexKey, resourceValue, resourceWeek, tenantLenAt, valuePrefix } from './keys.js';
import { readCount, readTotals } from './stats.js';
import { eventJson } from './stored-event.js';
import { T_EVENTS, T_IDS, T_INDEX, T_STATS } from './tables.js';

/** What checkConsistency found in one shard. */
export interface ConsistencyReport {
  shard: number;
  events: number;
  indexEntries: number;
  /** Descriptions of every problem (empty when consistent). */
  problems: string[];
}

const MAX_PROBLEMS = 100;

export function checkShard(shard: number, snap: Snapshot): ConsistencyReport {
  const events = snap.table(T_EVENTS);
  const index = snap.table(T_INDEX);
  const ids = snap.table(T_IDS);
  const report: ConsistencyReport = { shard, events: 0, indexEntries: 0, problems: [] };
  const problem = (p: string): void => {
    if (report.problems.length < MAX_PROBLEMS) report.problems.push(p);
  };
  const counts = new Map<string, number>();
  const totals = new Map<number, number>();
  for (const { key, value } of events.range()) {
    report.events++;
    const no = readTenant(key);
    const tl = tenantLenAt(key);
    const ts = readU64(key, tl);
    const id = key.subarray(tl + 8);
    let e;
    try {
      e = decodeEvent(eventJson(key, value));
    } catch {
      problem(`event ${key.toString('hex')} is not valid JSON`);
      continue;
    }
    if (e.timestamp !== ts) problem(`event ${e.id} has timestamp ${e.timestamp} but is keyed at ${ts}`);
    totals.set(no, (totals.get(no) ?? 0) + 1);
    const entries: [number, string][] = [
      [KIND_ACTOR, e.actor.id],
      [KIND_ACTION, e.action],
      [KIND_OUTCOME, e.outcome],
      [KIND_CATEGORY, e.category],
    ];
    for (const [kind, v] of entries) {
      const p = valuePrefix(no, kind, v, true);
      if (!index.has(indexKey(p, ts, id))) problem(`event ${e.id} lacks its index entry of kind ${kind}`);
      const k = p.toString('latin1');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    if (!index.has(resourceIndexKey(no, resourceValue(e.resource.type, e.resource.id), ts, id))) problem(`event ${e.id} lacks its index entry of kind ${KIND_RESOURCE}`);
    if (idFromKey(key, tl + 8, key.length, ts) !== e.id) problem(`event ${e.id} is keyed under the id ${idFromKey(key, tl + 8, key.length, ts)}`);
    if (!isSelfKeyed(id) && !ids.has(idsKey(no, idBytesOfKey(key, tl + 8, key.length, ts)))) problem(`event ${e.id} lacks its audit.ids entry`);
  }
  for (const { key } of index.range()) {
    report.indexEntries++;
    const at = indexTsAt(key);
    if (at < 0) {
      problem(`index entry ${key.toString('hex')} is malformed`);
      continue;
    }
    const ts = readU64(key, at);
    const id = key.subarray(at + 8);
    const tl = tenantLenAt(key);
    if (key[tl] === KIND_RESOURCE && readU32(key, tl + 1) !== resourceWeek(ts)) problem(`index entry ${key.toString('hex')} is filed under another week than its timestamp's`);
    if (!events.has(eventKey(readTenant(key), ts, id))) problem(`index entry ${key.toString('hex')} points at a missing event`);
  }
  for (const { key, value } of ids.range()) {
    const no = readTenant(key);
    const id = key.subarray(tenantLenAt(key));
    const ts = readU64(value, 0);
    if (!events.has(eventKey(no, ts, idKeyOf(id, ts)))) problem(`audit.ids entry ${key.toString('hex')} points at a missing event`);
  }
  for (const { key, value } of snap.table(T_STATS).range()) {
    const tl = tenantLenAt(key);
    if (key.length === tl + 1 && key[tl] === KIND_TOTAL) {
      const want = totals.get(readTenant(key)) ?? 0;
      const got = readTotals(value).count;
      if (got !== want) problem(`tenant ${readTenant(key)} total is ${got}, but it has ${want} events`);
      totals.delete(readTenant(key));
      continue;
    }
    const k = key.toString('latin1');
    const want = counts.get(k) ?? 0;
    if (readCount(value) !== want) problem(`statistics entry ${key.toString('hex')} says ${readCount(value)}, the index holds ${want}`);
    counts.delete(k);
  }
  for (const [no, n] of totals) problem(`tenant ${no} has ${n} events but no total`);
  for (const [k, n] of counts) problem(`statistics entry ${Buffer.from(k, 'latin1').toString('hex')} is missing (the index holds ${n})`);
  return report;
}
