/**
 * The layout of each shard's audit.index, recorded in its audit.meta under 'index.layout' (one byte):
 *
 *   absent  the first layout: resource entries `T 0x03 type 0x00 id 0x00 ts idkey`, with no week
 *   0x02    resource entries under their week, `T 0x03 week(4) type 0x00 id 0x00 ts idkey` (keys.ts)
 *
 * Every other index kind is the same in both. A writable open brings each shard to the current
 * layout: a shard with no marker and an empty index only gets the marker; one with entries has its
 * resource entries rekeyed, tenant by tenant, in transactions of at most {@link CONVERT_BATCH}
 * entries (a store written for months holds tens of millions of them: one transaction would hold
 * them all in memory), the last of which writes the marker. The two layouts tell themselves apart
 * by the byte after the kind: a week's first byte is 0x00 for every timestamp the store accepts
 * (weeks stay below 2^24 up to 8.64e15 ms), a type's first byte never is (types are non-empty and
 * hold no NUL). So the entries still to convert are always `T 0x03 0x01..` up to `T 0x04`, and a
 * conversion stopped between two transactions (a crash, a kill) is taken up again by the next
 * writable open where it stood. A read-only open of a store with a shard that has no marker and
 * any index entry is refused: its resource queries would miss events.
 */
import { CorruptionError, ValidationError } from '../errors.js';
import type { RedbManager } from '../manager/redb-manager.js';
import type { Database } from '../shard/database.js';
import type { TxTable } from '../shard/txn/write-txn.js';
import { KIND_RESOURCE, prefixEnd, readTenant, readU64, resourceWeek, tenantLenAt, tenantPrefix, writeU32 } from './keys.js';
import { T_INDEX, T_META } from './tables.js';

/** audit.meta key of the index layout (every shard). */
export const META_INDEX_LAYOUT = Buffer.from('index.layout');

/** The layout this version writes. */
export const INDEX_LAYOUT = 2;

/** Most resource entries one conversion transaction rekeys (a few MB of keys in memory). */
export const CONVERT_BATCH = 50_000;

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
 * Brings every shard of a writable store to the current layout (see the module comment), rekeying
 * at most `batch` entries a transaction. A read-only store is only checked: a shard in the old
 * layout makes it throw a ValidationError.
 */
export function upgradeIndexLayout(mgr: RedbManager, batch = CONVERT_BATCH): void {
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
    convertShard(db, batch);
  }
}

/**
 * Rekeys every first-layout resource entry of `db`, then writes the marker. Each transaction walks
 * the tenants from `from` (the first still to look at) and takes up to `batch` entries; a tenant
 * left with more starts the next one.
 */
function convertShard(db: Database, batch: number): void {
  let from: Buffer | undefined;
  let done = false;
  while (!done) {
    db.write((tx) => {
      const ix = tx.table(T_INDEX);
      const old: Buffer[] = [];
      while (old.length < batch) {
        const next = firstKeyFrom(ix, from);
        if (next === undefined) {
          done = true;
          break;
        }
        const tenant = tenantPrefix(readTenant(next));
        const gte = Buffer.concat([tenant, Buffer.from([KIND_RESOURCE, 1])]);
        const lt = Buffer.concat([tenant, Buffer.from([KIND_RESOURCE + 1])]);
        for (const { key } of ix.range({ gte, lt, limit: batch - old.length })) old.push(Buffer.from(key));
        // A full batch may have stopped inside this tenant: the next transaction starts at it again.
        from = tenant;
        if (old.length === batch) break;
        from = prefixEnd(tenant);
        if (from === undefined) done = true;
      }
      for (const k of old) {
        ix.remove(k);
        ix.put(weekKeyed(k, db.path), EMPTY);
      }
      if (done) tx.table(T_META).put(META_INDEX_LAYOUT, Buffer.from([INDEX_LAYOUT]));
    });
  }
}

/** The first key of audit.index at or after `from` (the table's first when undefined). */
function firstKeyFrom(ix: TxTable, from: Buffer | undefined): Buffer | undefined {
  for (const { key } of ix.range({ ...(from === undefined ? {} : { gte: from }), limit: 1 })) return Buffer.from(key);
  return undefined;
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
