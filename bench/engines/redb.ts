// redb-audit itself, through its public API, with `immediate` durability: every `write` is one
// atomic commit that is fsynced before the call returns. The runner starts this adapter only
// when src/index.ts exists. Besides the default configuration (zstd), variants measure what each
// codec costs (no compression, lz4, and zstd with AES-256-GCM encryption) and the old 4 KiB nodes.

import { join } from 'node:path';
import { Database, type DatabaseOptions } from '../../src/index.js';
import type { Pair } from '../data.js';
import type { EngineAdapter, EngineModule, MaybePromise, Visit } from './types.js';

type Db = ReturnType<typeof Database.open>;

/** `write` is synchronous under `immediate`; should it ever hand back a promise, wait for that
 * instead of reporting a commit as done before it is durable. */
function settled(result: unknown): MaybePromise<void> {
  return result instanceof Promise ? result.then(() => undefined) : undefined;
}

class RedbAdapter implements EngineAdapter {
  constructor(
    readonly dir: string,
    private readonly db: Db,
  ) {}

  putBatch(pairs: readonly Pair[]): MaybePromise<void> {
    return settled(
      this.db.write((tx) => {
        for (const [key, value] of pairs) tx.put(key, value);
      }),
    );
  }

  deleteBatch(keys: readonly Uint8Array[]): MaybePromise<void> {
    return settled(
      this.db.write((tx) => {
        // remove() is the blind delete (like LevelDB's del): it does not look the key up to report
        // whether it existed, which delete() does.
        for (const key of keys) tx.remove(key);
      }),
    );
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.db.get(key);
  }

  range(start: Uint8Array, limit: number, visit: Visit): number {
    const options = Number.isFinite(limit) ? { gte: start, limit } : { gte: start };
    let n = 0;
    for (const { key, value } of this.db.range(options)) {
      visit(key, value);
      n++;
    }
    return n;
  }

  close(): MaybePromise<void> {
    return settled(this.db.close());
  }

  /** The page file: commits go to the WAL, and only a checkpoint (or a compaction) writes here. */
  checkpointFiles(): string[] {
    return [join(this.dir, 'data.redb')];
  }
}

function variant(options: DatabaseOptions): EngineModule {
  return { open: (dir) => new RedbAdapter(dir, Database.open(dir, { durability: 'immediate', ...options })) };
}

/** A fixed benchmark key: the point is the cost of encrypting, not keeping a secret. */
const BENCH_KEY = new Uint8Array(32).fill(0x5a);

export const engine = variant({});
export const engineNone = variant({ compression: 'none' });
export const engineLz4 = variant({ compression: 'lz4' });
export const engineAes = variant({ encryptionEnabled: true, encryptionKey: BENCH_KEY });
/** The node size the engine defaulted to before 16 KiB, for the trade-off in docs/performance.md ("Node size"). */
export const engine4k = variant({ pageSize: 4096 });
