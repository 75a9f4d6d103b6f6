/**
 * The integrity layer's view of the audit store's tables: reading a tenant's stored events for
 * verifyTenant, writing a proof bundle from query rows, and keeping a purged event's leaf. Kept here
 * (not in src/audit) so the audit store only delegates to it.
 *
 * Invariants: everything reads the snapshot the caller passes, so a bundle's proofs, its checkpoints
 * and its events are from the same commit of each shard.
 */
import { ValidationError } from '../errors.js';
import type { Snapshot } from '../shard/snapshot.js';
import type { WriteTxn } from '../shard/txn/write-txn.js';
import { eventKey, idBytes, idFromKey, idKeyOf, idsKey, prefixEnd, readU64, TAG_ULID, tenantLenAt, tenantPrefix as auditTenantPrefix } from '../audit/keys.js';
import { ulidTime } from '../audit/ulid.js';
import type { Row } from '../audit/query-exec.js';
import { eventJson } from '../audit/stored-event.js';
import { T_EVENTS, T_IDS, T_TENANTS } from '../audit/tables.js';
import { lookupTenant } from '../audit/tenants.js';
import type { CheckpointSigner } from './checkpoint-signer.js';
import { LOG_TABLE } from './log-keys.js';
import { ProofBundleWriter } from './proof-bundle.js';
import { TileLog } from './tile-log.js';
import type { StoredEvents } from './verify-log.js';

/** The stored events of a tenant in one snapshot. */
export function storedEvents(snap: Snapshot, tenantId: string): StoredEvents {
  const no = lookupTenant(snap.table(T_TENANTS), tenantId);
  const events = snap.table(T_EVENTS);
  const ids = snap.table(T_IDS);
  return {
    bytesOf(eventId: string): Uint8Array | undefined {
      if (no === undefined) return undefined;
      const id = idBytes(eventId);
      // An event keyed by its own ULID time has no audit.ids entry (see insert.ts).
      const v = ids.get(idsKey(no, id));
      const ts = v !== undefined && v.length >= 8 ? readU64(v, 0) : id[0] === TAG_ULID ? ulidTime(eventId) : undefined;
      if (ts === undefined) return undefined;
      const key = eventKey(no, ts, idKeyOf(id, ts));
      const stored = events.get(key);
      return stored === undefined ? undefined : eventJson(key, stored);
    },
    *ids(): Iterable<string> {
      if (no === undefined) return;
      const gte = auditTenantPrefix(no);
      const lt = prefixEnd(gte);
      for (const { key } of events.range(lt === undefined ? { gte } : { gte, lt })) {
        const tl = tenantLenAt(key);
        yield idFromKey(key, tl + 8, key.length, readU64(key, tl));
      }
    },
  };
}

/**
 * Called by deleteEvents with the events it removed (retention purge, roll-back of an incomplete
 * cross-shard batch): each event's leaf stays in the log and is marked purged, so proofs of the
 * other events and every checkpoint stay valid. Nothing is written for an event without a leaf.
 * Every leaf is looked up before any marker is written: a range read of a transaction re-sorts the
 * table's pending writes after each new one, so interleaving would cost a sort per event.
 */
export function keepLeavesOfDeleted(tx: WriteTxn, events: readonly { tenantId: string; id: string }[]): void {
  const logs = new Map<string, TileLog>();
  const found: { log: TileLog; at: number; id: string }[] = [];
  for (const e of events) {
    let log = logs.get(e.tenantId);
    if (log === undefined) {
      log = new TileLog(tx.table(LOG_TABLE), e.tenantId);
      logs.set(e.tenantId, log);
    }
    const at = log.leafIndexOf(e.id);
    if (at !== undefined) found.push({ log, at, id: e.id });
  }
  for (const f of found) f.log.markPurged(f.at, f.id);
}

/**
 * The proof bundle of `rows` (the rows of an export, in order), as pieces to write in order. Each
 * tenant's proofs are against its log as of the row's snapshot; the trailer carries a checkpoint
 * signed for exactly that size.
 */
export function* proofBundlePieces(rows: Iterable<Row>, signer: CheckpointSigner): Generator<string> {
  const w = new ProofBundleWriter();
  const logs = new Map<string, { log: TileLog; size: number; root: Buffer }>();
  yield w.header();
  for (const row of rows) {
    const k = `${row.view.shard}\u0000${row.tenantId}`;
    let l = logs.get(k);
    if (l === undefined) {
      const log = new TileLog(row.view.snap.table(LOG_TABLE), row.tenantId);
      l = { log, size: log.size(), root: log.currentRoot() };
      logs.set(k, l);
    }
    const id = idFromKey(row.id, 0, row.id.length, row.ts);
    const leafIndex = l.log.leafIndexOf(id);
    if (leafIndex === undefined || leafIndex >= l.size) {
      throw new ValidationError(`event ${id} of tenant ${row.tenantId} has no leaf in the integrity log (it predates the log, or integrity is off), so it cannot be exported with proofs; export it without withProofs`);
    }
    const event = JSON.parse(row.bytes().toString('utf8')) as unknown;
    yield w.line({ tenantId: row.tenantId, leafIndex, proof: l.log.inclusionPath(leafIndex, l.size), event });
  }
  const checkpoints = new Map<string, string>();
  for (const { log, size, root } of logs.values()) checkpoints.set(log.tenantId, signer.sign(log.tenantId, size, root));
  yield w.trailer(checkpoints);
}
