// lmdb-js with its default (synced) settings and raw binary keys and values.
//
// Durability: lmdb-js opens with `overlappingSync` on Linux, and its asynchronous writes
// (`put`, `db.transaction`) commit with MDB_NOSYNC and flush afterwards, so their promise
// resolves when the commit is visible, not when it is on disk (only `db.flushed` tells that).
// `transactionSync` begins its transaction without MDB_NOSYNC, so LMDB fdatasyncs the data file
// and writes the meta page through its O_DSYNC descriptor before the call returns: one durable
// commit per call, which is the contract every engine here is held to.

import { open, type Database } from 'lmdb';
import type { Pair } from '../data.js';
import type { EngineAdapter, EngineModule, Visit } from './types.js';

class LmdbAdapter implements EngineAdapter {
  constructor(
    readonly dir: string,
    private readonly db: Database<Buffer, Buffer>,
  ) {}

  putBatch(pairs: readonly Pair[]): void {
    this.db.transactionSync(() => {
      for (const [key, value] of pairs) this.db.put(key as Buffer, value as Buffer);
    });
  }

  deleteBatch(keys: readonly Uint8Array[]): void {
    this.db.transactionSync(() => {
      for (const key of keys) this.db.remove(key as Buffer);
    });
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.db.get(key as Buffer);
  }

  range(start: Uint8Array, limit: number, visit: Visit): number {
    const options = Number.isFinite(limit) ? { start: start as Buffer, limit } : { start: start as Buffer };
    let n = 0;
    for (const { key, value } of this.db.getRange(options)) {
      visit(key, value);
      n++;
    }
    return n;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

export const engine: EngineModule = {
  open(dir) {
    const db = open<Buffer, Buffer>({ path: dir, encoding: 'binary', keyEncoding: 'binary' });
    return new LmdbAdapter(dir, db);
  },
};
