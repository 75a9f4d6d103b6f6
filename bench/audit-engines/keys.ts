// Key shapes shared by the key-value peers (lmdb-js, classic-level): one keyspace, prefixed.
//
//   event   0x01 tenant 0x00 ts(8 bytes, big-endian) id                  -> the event's JSON
//   index   0x02 tenant 0x00 kind(1 byte) value 0x00 ts(8 bytes) id       -> empty
//
// `value` is the actor id, action, resource type 0x00 resource id, outcome or category. Keys sort
// by tenant, then time, then id, so a tenant's time window and an index value's latest entries are
// contiguous ranges, and an action prefix ('auth.') is the range of index keys starting with it.

import type { AuditEvent } from '../../src/audit/types.js';
import { INDEX_KINDS } from './types.js';

const EVENT = 0x01;
const INDEX = 0x02;

function writeTs(b: Buffer, off: number, ts: number): void {
  b.writeUInt32BE(Math.floor(ts / 0x1_0000_0000), off);
  b.writeUInt32BE(ts >>> 0, off + 4);
}

export function readTs(b: Uint8Array, off: number): number {
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return v.readUInt32BE(off) * 0x1_0000_0000 + v.readUInt32BE(off + 4);
}

/** 0x01 tenant 0x00, the start of every event key of the tenant. */
export function eventPrefix(tenantId: string): Buffer {
  return Buffer.concat([Buffer.of(EVENT), Buffer.from(tenantId), Buffer.of(0)]);
}

export function eventKey(tenantId: string, ts: number, id: string): Buffer {
  const prefix = Buffer.from(tenantId);
  const idBytes = Buffer.from(id);
  const b = Buffer.allocUnsafe(2 + prefix.length + 8 + idBytes.length);
  b[0] = EVENT;
  prefix.copy(b, 1);
  b[1 + prefix.length] = 0;
  writeTs(b, 2 + prefix.length, ts);
  idBytes.copy(b, 10 + prefix.length);
  return b;
}

/** The event key before every event of the tenant at or after `ts`. */
export function eventBound(tenantId: string, ts: number): Buffer {
  const p = eventPrefix(tenantId);
  const b = Buffer.allocUnsafe(p.length + 8);
  p.copy(b, 0);
  writeTs(b, p.length, ts);
  return b;
}

/** 0x02 tenant 0x00 kind value; `terminated` adds the 0x00 that ends an exact value. */
export function indexPrefix(tenantId: string, kind: number, value: string, terminated: boolean): Buffer {
  return Buffer.concat([Buffer.of(INDEX), Buffer.from(tenantId), Buffer.of(0, kind), Buffer.from(value), terminated ? Buffer.of(0) : Buffer.alloc(0)]);
}

export function indexKey(prefix: Buffer, ts: number, id: string): Buffer {
  const idBytes = Buffer.from(id);
  const b = Buffer.allocUnsafe(prefix.length + 8 + idBytes.length);
  prefix.copy(b, 0);
  writeTs(b, prefix.length, ts);
  idBytes.copy(b, prefix.length + 8);
  return b;
}

/** The first key after every key that starts with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] !== 0xff) {
      b[i]!++;
      return b.subarray(0, i + 1);
    }
  }
  throw new Error('a prefix of only 0xff bytes has no end');
}

/** The five index keys of an event. */
export function indexKeys(e: AuditEvent): Buffer[] {
  const t = e.tenantId;
  return [
    indexKey(indexPrefix(t, INDEX_KINDS.actor, e.actor.id, true), e.timestamp, e.id),
    indexKey(indexPrefix(t, INDEX_KINDS.action, e.action, true), e.timestamp, e.id),
    indexKey(indexPrefix(t, INDEX_KINDS.resource, `${e.resource.type}\u0000${e.resource.id}`, true), e.timestamp, e.id),
    indexKey(indexPrefix(t, INDEX_KINDS.outcome, e.outcome, true), e.timestamp, e.id),
    indexKey(indexPrefix(t, INDEX_KINDS.category, e.category, true), e.timestamp, e.id),
  ];
}

/** The event key an index key points at: same tenant, timestamp and id. */
export function eventKeyOfIndex(tenantId: string, indexKeyBytes: Uint8Array, prefixLength: number): Buffer {
  const ts = readTs(indexKeyBytes, prefixLength);
  const id = Buffer.from(indexKeyBytes.buffer, indexKeyBytes.byteOffset + prefixLength + 8, indexKeyBytes.byteLength - prefixLength - 8).toString('latin1');
  return eventKey(tenantId, ts, id);
}
