/** Fills a store made by `redb-audit init` with key-value records, for tests of verbs that need data. */
import { RedbManager } from '../../src/index.js';

/** Writes `count` records spread over a few tenants into the store in `dir` (created with `shards`). */
export function seedKv(dir: string, count: number, shards = 1, key?: { file: string }): void {
  const m = RedbManager.open({
    baseDir: dir,
    shardingEnabled: shards > 1,
    shardCount: shards,
    ...(key ? { encryptionEnabled: true, encryptionKey: key } : {}),
  });
  try {
    for (let start = 0; start < count; start += 500) {
      const ops = [];
      for (let i = start; i < Math.min(count, start + 500); i++) {
        ops.push({ tenantId: `tenant-${i % 5}`, table: 'records', key: Buffer.from(`k/${String(i).padStart(8, '0')}`), value: Buffer.from(`value ${i} `.repeat(8)) });
      }
      m.writeBatch(ops);
    }
    m.checkpoint();
  } finally {
    m.close();
  }
}

/**
 * Entries a store of `shards` shards has from `redb-audit init` alone, in audit.meta: the store id
 * (shard 0) and each shard's index layout (src/audit/index-layout.ts).
 */
export function initEntries(shards: number): number {
  return 1 + shards;
}
