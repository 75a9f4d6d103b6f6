/**
 * Tenant numbers: each shard gives every tenant it holds a 4-byte number (1, 2, ...), stored both
 * ways in audit.tenants ('i' + tenant id -> number as 4 bytes BE, 'n' + number as in keys.ts ->
 * tenant id), so keys carry four
 * bytes instead of the tenant string. A number is assigned inside the insert transaction that first
 * writes the tenant and is never reused or changed, so a cache of durable assignments stays valid
 * for the life of the shard's files (restore and repair drop the cache).
 */
import { ValidationError } from '../errors.js';
import type { SnapshotTable } from '../shard/snapshot.js';
import type { TxTable } from '../shard/txn/write-txn.js';
import { MAX_TENANT_NO, readTenant, readU32, tenantLen, writeTenant, writeU32 } from './keys.js';
import { META_TENANT } from './tables.js';

export function tenantIdKey(tenantId: string): Buffer {
  return Buffer.from('i' + tenantId, 'utf8');
}

export function tenantNoKey(no: number): Buffer {
  const k = Buffer.allocUnsafe(1 + tenantLen(no));
  k[0] = 0x6e; // 'n'
  writeTenant(k, 1, no);
  return k;
}

/** Looks a tenant up in a snapshot or transaction table; undefined when the shard has none of it. */
export function lookupTenant(tenants: { get(key: Uint8Array): Buffer | undefined }, tenantId: string): number | undefined {
  const v = tenants.get(tenantIdKey(tenantId));
  return v ? readU32(v, 0) : undefined;
}

/** Assigns the next tenant number inside a write transaction. */
export function assignTenant(tenants: TxTable, meta: TxTable, tenantId: string): number {
  const last = meta.get(META_TENANT);
  const no = (last ? readU32(last, 0) : 0) + 1;
  if (no > MAX_TENANT_NO) throw new ValidationError(`this shard holds ${MAX_TENANT_NO} tenants already; no tenant number is left`);
  const v = Buffer.allocUnsafe(4);
  writeU32(v, 0, no);
  meta.put(META_TENANT, v);
  tenants.put(tenantIdKey(tenantId), v);
  tenants.put(tenantNoKey(no), Buffer.from(tenantId, 'utf8'));
  return no;
}

/** Every tenant of a shard: [number, id] pairs in number order. */
export function* listTenants(tenants: SnapshotTable): Generator<[number, string]> {
  for (const { key, value } of tenants.range({ gte: Buffer.from([0x6e]), lt: Buffer.from([0x6f]) })) {
    yield [readTenant(key, 1), value.toString('utf8')];
  }
}
