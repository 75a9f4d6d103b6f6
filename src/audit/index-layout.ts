/**
 * The layout of each shard's audit.index, recorded in its audit.meta under 'index.layout' (one byte):
 *
 *   absent  the first layout: resource entries `T 0x03 type 0x00 id 0x00 ts idkey`, with no week
 *   0x02    resource entries under their week, `T 0x03 week(4) type 0x00 id 0x00 ts idkey` (keys.ts)
 *
 * Every other index kind is the same in both. A writable open brings each shard to the current
 * layout: a shard with no marker and an empty index only gets the marker; one with entries has its
 * resource entries rekeyed, in one transaction with the marker (all or nothing, so a crash midway
 * leaves the shard in the old layout, and the next open starts again). A read-only open of a store
 * with a shard still in the old layout is refused: its resource queries would find nothing.
 */
import { CorruptionError, ValidationError } from '../errors.js';
import type { RedbManager } from '../manager/redb-manager.js';
import type { Database } from '../shard/database.js';
import { KIND_RESOURCE, readU64, resourceWeek, tenantLenAt, writeU32 } from './keys.js';
import { T_INDEX, T_META } from './tables.js';

/** audit.meta key of the index layout (every shard). */
export const META_INDEX_LAYOUT = Buffer.from('index.layout');

/** The layout this version writes. */
export const INDEX_LAYOUT = 2;

const EMPTY = new Uint8Array(0);

/** Whether shard `db` is in the current layout, or (no marker yet) has nothing indexed to convert. */
function layoutOf(db: Database): 'current' | 'empty' | 'old' {
  const v = db.table(T_META).get(META_INDEX_LAYOUT);
  if (v !== undefined) {
    if (v.length !== 1 || v[0] !== INDEX_LAYOUT) {
      throw new ValidationError(`the audit index of ${db.path} has layout ${v.length === 1 ? v[0] : 'unknown'}, which this version of redb-audit does not know (it writes layout ${INDEX_LAYOUT}); open the store with the version that wrote it`);
    }
    return 'current';
  }
  const probe = db.table(T_INDEX).range({ limit: 1 });
  const empty = probe.next().done === true;
  probe.return?.();
  return empty ? 'empty' : 'old';
}

/**
 * Brings every shard of a writable store to the current layout (see the module comment). A
 * read-only store is only checked: a shard in the old layout makes it throw a ValidationError.
 */
export function upgradeIndexLayout(mgr: RedbManager): void {
  for (let i = 0; i < mgr.shardCount; i++) {
    const db = mgr.shardAt(i);
    const layout = layoutOf(db);
    if (layout === 'current') continue;
    if (mgr.options.readOnly) {
      if (layout === 'empty') continue;
      throw new ValidationError(
        `shard ${i} of the store at ${mgr.options.baseDir} keeps its resource index in the layout of an earlier version of redb-audit; ` +
          'open the store once for writing (RedbAuditStore.open without readOnly, or any writing verb of the CLI), which converts it, and try again',
      );
    }
    db.write((tx) => {
      const ix = tx.table(T_INDEX);
      const old: Buffer[] = [];
      if (layout === 'old') for (const { key } of ix.range()) if (key[tenantLenAt(key)] === KIND_RESOURCE) old.push(Buffer.from(key));
      for (const k of old) {
        ix.remove(k);
        ix.put(weekKeyed(k, db.path), EMPTY);
      }
      tx.table(T_META).put(META_INDEX_LAYOUT, Buffer.from([INDEX_LAYOUT]));
    });
  }
}

/** The current key of a resource entry in the first layout: its week inserted after the kind. */
function weekKeyed(old: Uint8Array, path: string): Buffer {
  const tl = tenantLenAt(old);
  const typeEnd = old.indexOf(0, tl + 1);
  const valueEnd = typeEnd < 0 ? -1 : old.indexOf(0, typeEnd + 1);
  if (valueEnd < 0 || valueEnd + 9 > old.length) throw new CorruptionError(path, 0, `the resource index entry ${Buffer.from(old).toString('hex')} is malformed; run verify() and repair()`);
  const k = Buffer.allocUnsafe(old.length + 4);
  k.set(old.subarray(0, tl + 1), 0);
  writeU32(k, tl + 1, resourceWeek(readU64(old, valueEnd + 1)));
  k.set(old.subarray(tl + 1), tl + 5);
  return k;
}
