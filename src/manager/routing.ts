/**
 * Tenant routing: shard = jump(fnv1a64(utf8(tenantId)), shardCount).
 *
 * - fnv1a64: FNV-1a over the UTF-8 bytes, 64-bit, offset basis 0xcbf29ce484222325, prime
 *   0x100000001b3.
 * - jump: Lamping and Veach's jump consistent hash (2014): b = -1, j = 0; while j < n: b = j,
 *   key = key * 2862933555777941757 + 1 (mod 2^64), j = floor((b + 1) * 2^31 / ((key >> 33) + 1)).
 *   The result is b.
 *
 * Both are fixed functions of the tenant id and the shard count, so a store moved to another machine
 * routes the same way; and were the shard count ever changed, jump hash moves only about 1/n of the
 * tenants. Test vectors are in docs/format.md and test/manager/routing.test.ts.
 */
const MASK64 = (1n << 64n) - 1n;
const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const JUMP_MULTIPLIER = 2862933555777941757n;

export function fnv1a64(bytes: Uint8Array): bigint {
  let h = FNV_OFFSET;
  for (const b of bytes) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h;
}

export function jumpHash(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  let k = key;
  while (j < buckets) {
    b = j;
    k = (k * JUMP_MULTIPLIER + 1n) & MASK64;
    j = Math.floor(((b + 1) * 2 ** 31) / (Number(k >> 33n) + 1));
  }
  return b;
}

/** The shard index (0-based) a tenant's data lives in. */
export function routeTenant(tenantId: string, shardCount: number): number {
  if (shardCount === 1) return 0;
  return jumpHash(fnv1a64(Buffer.from(tenantId, 'utf8')), shardCount);
}
