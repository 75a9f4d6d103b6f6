// better-sqlite3: WAL journal with synchronous=FULL (the WAL is fsynced at every commit), a
// WITHOUT ROWID table so the key is the b-tree key (no second index), prepared statements, and
// one transaction per commit.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Pair } from '../data.js';
import type { EngineAdapter, EngineModule, Visit } from './types.js';

class SqliteAdapter implements EngineAdapter {
  private readonly putMany: (pairs: readonly Pair[]) => void;
  private readonly deleteMany: (keys: readonly Uint8Array[]) => void;
  private readonly getStmt: Database.Statement<[Uint8Array], Buffer>;
  private readonly rangeStmt: Database.Statement<[Uint8Array, number], [Buffer, Buffer]>;

  constructor(
    readonly dir: string,
    private readonly db: Database.Database,
  ) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
    const put = db.prepare<[Uint8Array, Uint8Array]>('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
    const del = db.prepare<[Uint8Array]>('DELETE FROM kv WHERE k = ?');
    // pluck/raw return the column values directly instead of building a row object per row.
    this.getStmt = db.prepare<[Uint8Array], Buffer>('SELECT v FROM kv WHERE k = ?').pluck();
    this.rangeStmt = db
      .prepare<[Uint8Array, number], [Buffer, Buffer]>('SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?')
      .raw();
    this.putMany = db.transaction((pairs: readonly Pair[]) => {
      for (const [key, value] of pairs) put.run(key, value);
    });
    this.deleteMany = db.transaction((keys: readonly Uint8Array[]) => {
      for (const key of keys) del.run(key);
    });
  }

  putBatch(pairs: readonly Pair[]): void {
    this.putMany(pairs);
  }

  deleteBatch(keys: readonly Uint8Array[]): void {
    this.deleteMany(keys);
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.getStmt.get(key);
  }

  range(start: Uint8Array, limit: number, visit: Visit): number {
    // SQLite reads a negative LIMIT as "no limit".
    const rows = this.rangeStmt.all(start, Number.isFinite(limit) ? limit : -1);
    for (const [key, value] of rows) visit(key, value);
    return rows.length;
  }

  close(): void {
    // Closing the last connection checkpoints the WAL into the main file and removes it.
    this.db.close();
  }
}

export const engine: EngineModule = {
  open(dir) {
    mkdirSync(dir, { recursive: true });
    return new SqliteAdapter(dir, new Database(join(dir, 'kv.sqlite')));
  },
};
