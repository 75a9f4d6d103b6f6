// classic-level (LevelDB) with raw Uint8Array keys and values and default LevelDB options
// (snappy compression on). Writes go through a chained batch written with `sync: true`, which
// makes LevelDB fsync its log before the write is acknowledged. Gets use `getSync` (added in
// abstract-level 3) so they cost what LevelDB costs, not a thread-pool round trip each; range
// scans have only an asynchronous iterator.

import { ClassicLevel } from 'classic-level';
import type { Pair } from '../data.js';
import type { EngineAdapter, EngineModule, Visit } from './types.js';

type Db = ClassicLevel<Uint8Array, Uint8Array>;

class LevelAdapter implements EngineAdapter {
  constructor(
    readonly dir: string,
    private readonly db: Db,
  ) {}

  async putBatch(pairs: readonly Pair[]): Promise<void> {
    const batch = this.db.batch();
    for (const [key, value] of pairs) batch.put(key, value);
    await batch.write({ sync: true });
  }

  async deleteBatch(keys: readonly Uint8Array[]): Promise<void> {
    const batch = this.db.batch();
    for (const key of keys) batch.del(key);
    await batch.write({ sync: true });
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.db.getSync(key);
  }

  async range(start: Uint8Array, limit: number, visit: Visit): Promise<number> {
    // LevelDB reads a limit of -1 as "no limit".
    const iterator = this.db.iterator({ gte: start, limit: Number.isFinite(limit) ? limit : -1 });
    let n = 0;
    try {
      // nextv hands over entries in chunks, which is the iterator's fast path.
      for (;;) {
        const chunk = await iterator.nextv(1000);
        if (chunk.length === 0) break;
        for (const [key, value] of chunk) visit(key, value);
        n += chunk.length;
      }
    } finally {
      await iterator.close();
    }
    return n;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export const engine: EngineModule = {
  async open(dir) {
    const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    return new LevelAdapter(dir, db);
  },
};
