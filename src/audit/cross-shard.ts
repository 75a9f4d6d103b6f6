/**
 * All-or-nothing batches across shards. Each shard commits atomically on its own, so a batch that
 * spans shards is made atomic as seen after a crash like this:
 *
 *   1. intent: the coordinator (the lowest shard of the batch) durably records
 *      audit.intents[batchId] = the list of shards of the batch;
 *   2. parts: each shard commits its events together with audit.parts[batchId] = coordinator +
 *      the audit.events keys it inserted (duplicates are not listed: they were there before);
 *   3. the batch is acknowledged only once every part is durable; then the intent is deleted (the
 *      batch is complete from then on) and the part records after it, lazily.
 *
 * Recovery on open: an intent whose parts are all present is complete (its records are cleared); an
 * intent with a part missing is rolled back: the present parts' events are deleted with all their
 * index entries, ids, feed entries and statistics, then the intent. A part record whose intent is
 * gone belongs to a complete batch and is cleared. Single-shard batches use none of this.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from '../shard/database.js';
import type { WriteTxn } from '../shard/txn/write-txn.js';
import { deleteEvents } from './delete-events.js';
import type { TenantInserted } from './insert.js';
import { T_INTENTS, T_PARTS } from './tables.js';

export function newBatchId(): Buffer {
  return randomBytes(16);
}

export function encodeShards(shards: readonly number[]): Buffer {
  const b = Buffer.allocUnsafe(2 * shards.length);
  shards.forEach((s, i) => b.writeUInt16BE(s, 2 * i));
  return b;
}

function decodeShards(b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) out.push(b.readUInt16BE(i));
  return out;
}

/** Records, inside a part's insert transaction, what it inserted. */
export function recordPart(tx: WriteTxn, batchId: Buffer, coordinator: number, tenants: readonly TenantInserted[]): void {
  let size = 2;
  for (const t of tenants) for (const k of t.keys) size += 2 + k.length;
  const b = Buffer.allocUnsafe(size);
  b.writeUInt16BE(coordinator, 0);
  let o = 2;
  for (const t of tenants) {
    for (const k of t.keys) {
      b.writeUInt16BE(k.length, o);
      k.copy(b, o + 2);
      o += 2 + k.length;
    }
  }
  tx.table(T_PARTS).put(batchId, b);
}

function decodePart(b: Buffer): { coordinator: number; keys: Buffer[] } {
  const keys: Buffer[] = [];
  let o = 2;
  while (o + 2 <= b.length) {
    const n = b.readUInt16BE(o);
    keys.push(b.subarray(o + 2, o + 2 + n));
    o += 2 + n;
  }
  return { coordinator: b.readUInt16BE(0), keys };
}

/** Deletes a part's events and its record (the roll-back of one part). Returns events deleted. */
export function rollBackPart(tx: WriteTxn, batchId: Buffer): number {
  const parts = tx.table(T_PARTS);
  const v = parts.get(batchId);
  if (!v) return 0;
  const n = deleteEvents(tx, decodePart(v).keys);
  parts.remove(batchId);
  return n;
}

/** What recovery did with the cross-shard batches it found. */
export interface BatchRecovery {
  completed: number;
  rolledBack: number;
  eventsRemoved: number;
}

/** Settles every cross-shard batch left by a crash (see the header). `shard(i)` gives shard i. */
export function recoverBatches(shardCount: number, shard: (i: number) => Database): BatchRecovery {
  const report: BatchRecovery = { completed: 0, rolledBack: 0, eventsRemoved: 0 };
  for (let c = 0; c < shardCount; c++) {
    const intents = [...shard(c).table(T_INTENTS).range()];
    for (const { key: batchId, value } of intents) {
      const shards = decodeShards(value);
      const complete = shards.every((s) => shard(s).table(T_PARTS).has(batchId));
      if (complete) {
        shard(c).write((tx) => tx.table(T_INTENTS).remove(batchId));
        report.completed++;
      } else {
        for (const s of shards) report.eventsRemoved += shard(s).write((tx) => rollBackPart(tx, batchId));
        shard(c).write((tx) => tx.table(T_INTENTS).remove(batchId));
        report.rolledBack++;
      }
    }
  }
  // Part records whose intent is gone belong to complete batches.
  for (let s = 0; s < shardCount; s++) {
    const stale: Buffer[] = [];
    for (const { key, value } of shard(s).table(T_PARTS).range()) {
      const coordinator = value.readUInt16BE(0);
      if (coordinator >= shardCount || !shard(coordinator).table(T_INTENTS).has(key)) stale.push(key);
    }
    if (stale.length > 0) shard(s).write((tx) => {
      for (const k of stale) tx.table(T_PARTS).remove(k);
    });
  }
  return report;
}
