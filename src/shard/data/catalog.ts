/**
 * The catalog: every table's name, entry count and root. In memory it is part of each Version; on
 * disk it is one block (kind 4) per checkpoint:
 *
 *   u32 table count
 *   per table, in name order:
 *     u16  name length, UTF-8 name
 *     u64  entry count
 *     16   root block ref (offset 0: empty table)
 */
import { readBlockRef, writeBlockRef } from '../../pagefile/block-ref-codec.js';
import { BLOCK_REF_SIZE, type BlockRef } from '../../pagefile/layout.js';
import type { Node } from '../../btree/node.js';
import type { MemTable } from './memtable.js';
import { readU16, readU32, readU64, writeU16, writeU32, writeU64 } from '../../util/binary.js';

/** One table in one version. Immutable. */
export interface TableState {
  readonly name: string;
  readonly root: Node | null;
  /** Entries in the tree under `root` (the memtable's changes are counted apart). */
  readonly count: number;
  /** User tables: commits since the last fold, not yet in the tree. Never stored. */
  readonly mem?: MemTable | null;
}

/** A catalog entry as stored, before its root is loaded. */
export interface StoredTable {
  name: string;
  count: number;
  root: BlockRef | null;
}

export function encodeCatalog(tables: readonly StoredTable[]): Uint8Array {
  const names = tables.map((t) => Buffer.from(t.name, 'utf8'));
  let size = 4;
  for (const n of names) size += 2 + n.length + 8 + BLOCK_REF_SIZE;
  const b = new Uint8Array(size);
  writeU32(b, 0, tables.length);
  let o = 4;
  tables.forEach((t, i) => {
    const n = names[i]!;
    writeU16(b, o, n.length);
    b.set(n, o + 2);
    o += 2 + n.length;
    writeU64(b, o, t.count);
    writeBlockRef(b, o + 8, t.root);
    o += 8 + BLOCK_REF_SIZE;
  });
  return b;
}

/** Decodes a catalog payload; returns a reason string when malformed. */
export function decodeCatalog(b: Uint8Array): StoredTable[] | string {
  if (b.length < 4) return 'catalog is truncated';
  const count = readU32(b, 0);
  const out: StoredTable[] = [];
  let o = 4;
  for (let i = 0; i < count; i++) {
    if (o + 2 > b.length) return 'catalog entry runs past the payload';
    const nl = readU16(b, o);
    if (o + 2 + nl + 8 + BLOCK_REF_SIZE > b.length) return 'catalog entry runs past the payload';
    const name = Buffer.from(b.buffer, b.byteOffset + o + 2, nl).toString('utf8');
    o += 2 + nl;
    const entries = readU64(b, o);
    const root = readBlockRef(b, o + 8);
    if (entries < 0 || root === undefined) return 'catalog entry field out of range';
    out.push({ name, count: entries, root });
    o += 8 + BLOCK_REF_SIZE;
  }
  if (o !== b.length) return 'catalog has trailing bytes';
  return out;
}
