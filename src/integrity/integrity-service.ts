/**
 * The integrity layer of a RedbAuditStore: appends each tenant's new events to its Merkle log inside
 * the insert transaction, signs checkpoints (every `checkpointEvery` leaves in that same
 * transaction, on a timer for tenants that grew, and on close), and answers checkpoint, proof and
 * verification requests from one read snapshot of the tenant's shard.
 *
 * Invariants: a tenant's log lives in the shard its events live in, so one engine transaction
 * covers both; every read-only request reads one snapshot, so a proof, its checkpoint and the events
 * it covers are from the same commit.
 */
import { ValidationError } from '../errors.js';
import type { Database } from '../shard/database.js';
import type { WriteTxn } from '../shard/txn/write-txn.js';
import { parseCheckpoint } from './checkpoint-note.js';
import { CheckpointSigner, type CheckpointPublicKey } from './checkpoint-signer.js';
import type { ResolvedIntegrityOptions } from './integrity-options.js';
import { LOG_TABLE } from './log-keys.js';
import { openNote } from './signed-note.js';
import { TileLog, tenantsWithLogs, type LeafInput, type LogReader } from './tile-log.js';
import { verifyLog, type StoredEvents, type TenantVerifyReport } from './verify-log.js';

/** A signed checkpoint of one tenant's log. */
export interface Checkpoint {
  origin: string;
  size: number;
  /** The tree hash, base64. */
  rootHash: string;
  /** The whole signed note (C2SP tlog-checkpoint). */
  text: string;
}

/** An RFC 9162 inclusion proof. Hashes are base64. */
export interface InclusionProof {
  leafIndex: number;
  treeSize: number;
  leafHash: string;
  /** Audit path, nearest sibling first. */
  path: string[];
  /** The tree hash at treeSize (as in the checkpoint of that size). */
  rootHash: string;
}

/** How the service reaches the shards. */
export interface ShardAccess {
  shard(tenantId: string): Database;
  shardAt(index: number): Database;
  readonly shardCount: number;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

export class IntegrityService {
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** The last failure of a timed checkpoint, reported by warnings() until one succeeds. */
  private timerError: string | undefined;

  constructor(
    readonly options: ResolvedIntegrityOptions,
    readonly signer: CheckpointSigner,
    private readonly shards: ShardAccess,
  ) {
    if (options.checkpointIntervalMs > 0) {
      this.timer = setInterval(() => {
        // A timer callback must not throw (it would take the process down): keep the failure for health().
        try {
          this.checkpointGrown();
          this.timerError = undefined;
        } catch (err) {
          this.timerError = (err as Error).message;
        }
      }, options.checkpointIntervalMs);
      this.timer.unref();
    }
  }

  static open(options: ResolvedIntegrityOptions, baseDir: string, shards: ShardAccess, readOnly = false): IntegrityService {
    return new IntegrityService(options, CheckpointSigner.open(baseDir, options.signingKey, options.origin, readOnly), shards);
  }

  /**
   * Appends a tenant's newly inserted events (in commit order, with their canonical bytes) to its
   * log, inside the insert transaction `tx`; signs a checkpoint in it when the log crosses a
   * multiple of checkpointEvery.
   */
  appendLeaves(tx: WriteTxn, tenantId: string, events: readonly LeafInput[]): void {
    if (events.length === 0) return;
    const log = new TileLog(tx.table(LOG_TABLE), tenantId);
    const first = log.append(events);
    const every = this.options.checkpointEvery;
    const size = first + events.length;
    if (Math.floor(first / every) !== Math.floor(size / every)) {
      log.addCheckpoint(this.signer.sign(tenantId, size, log.currentRoot()));
      this.dirty.delete(tenantId);
    } else {
      this.dirty.add(tenantId);
    }
  }

  /** Records, inside a purge transaction, that retention removed these events: their leaves stay. */
  markPurged(tx: WriteTxn, tenantId: string, eventIds: readonly string[]): void {
    // Lookups first, then markers: see keepLeavesOfDeleted.
    const log = new TileLog(tx.table(LOG_TABLE), tenantId);
    const found: [number, string][] = [];
    for (const id of eventIds) {
      const at = log.leafIndexOf(id);
      if (at !== undefined) found.push([at, id]);
    }
    for (const [at, id] of found) log.markPurged(at, id);
  }

  private read<T>(tenantId: string, fn: (table: LogReader, snap: ReturnType<Database['read']>) => T): T {
    const snap = this.shards.shard(tenantId).read();
    try {
      return fn(snap.table(LOG_TABLE), snap);
    } finally {
      snap.close();
    }
  }

  /** Signs and stores a checkpoint for the tenant's current size unless the last one has it. */
  checkpointTenant(tenantId: string): string {
    return this.shards.shard(tenantId).write((tx) => {
      const log = new TileLog(tx.table(LOG_TABLE), tenantId);
      const last = log.lastCheckpoint();
      const size = log.size();
      if (last !== undefined && parseCheckpoint(last.slice(0, last.indexOf('\n\n') + 1))?.size === size) return last;
      const note = this.signer.sign(tenantId, size, log.currentRoot());
      // The empty log of a tenant never seen is vouched for but not stored: no rows for stray names.
      if (size > 0) log.addCheckpoint(note);
      this.dirty.delete(tenantId);
      return note;
    });
  }

  /** Signs checkpoints for every tenant whose log grew since its last one (timer and close). */
  checkpointGrown(): void {
    for (const t of [...this.dirty]) {
      const db = this.shards.shard(t);
      if (db.isClosed) continue;
      this.checkpointTenant(t);
    }
  }

  /** The latest checkpoint (signing one when the tenant has none), or with `fresh` one for the current size. */
  getCheckpoint(tenantId: string, options?: { fresh?: boolean }): Checkpoint {
    if (options !== undefined && (typeof options !== 'object' || (options.fresh !== undefined && typeof options.fresh !== 'boolean'))) {
      throw new ValidationError('getCheckpoint options must be { fresh?: boolean }');
    }
    if (!options?.fresh) {
      const last = this.read(tenantId, (t) => new TileLog(t, tenantId).lastCheckpoint());
      if (last !== undefined) return this.describe(last);
    }
    return this.describe(this.checkpointTenant(tenantId));
  }

  /** Stored checkpoints of a tenant, oldest first (the newest `limit` when given). */
  listCheckpoints(tenantId: string, options?: { limit?: number }): Checkpoint[] {
    const limit = options?.limit;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new ValidationError('listCheckpoints limit must be a positive integer');
    return this.read(tenantId, (t) => new TileLog(t, tenantId).checkpoints(limit)).map((n) => this.describe(n));
  }

  private describe(note: string): Checkpoint {
    const body = openNote(note, this.signer.verifier);
    const cp = body === undefined ? undefined : parseCheckpoint(body);
    if (cp === undefined) throw new ValidationError('a stored checkpoint does not verify under the current signing key; run verifyTenant');
    return { origin: cp.origin, size: cp.size, rootHash: b64(cp.rootHash), text: note };
  }

  publicKey(): CheckpointPublicKey {
    return this.signer.publicInfo();
  }

  /** An inclusion proof of an event, against `treeSize` or the latest checkpoint. */
  proveInclusion(eventId: string, options: { tenantId: string; treeSize?: number }): InclusionProof {
    if (typeof eventId !== 'string' || eventId.length === 0) throw new ValidationError('proveInclusion needs an event id');
    if (typeof options !== 'object' || options === null || typeof options.tenantId !== 'string') throw new ValidationError('proveInclusion needs { tenantId }');
    const { tenantId } = options;
    let treeSize = options.treeSize;
    if (treeSize === undefined) {
      const index = this.read(tenantId, (t) => new TileLog(t, tenantId).leafIndexOf(eventId));
      if (index === undefined) throw new ValidationError(`event ${eventId} is not in the log of tenant ${tenantId}; check the event id and tenant`);
      let cp = this.getCheckpoint(tenantId);
      if (cp.size <= index) cp = this.getCheckpoint(tenantId, { fresh: true });
      treeSize = cp.size;
    }
    const size = treeSize;
    return this.read(tenantId, (t) => {
      const log = new TileLog(t, tenantId);
      const index = log.leafIndexOf(eventId);
      if (index === undefined) throw new ValidationError(`event ${eventId} is not in the log of tenant ${tenantId}; check the event id and tenant`);
      if (!Number.isSafeInteger(size) || size <= index || size > log.size()) {
        throw new ValidationError(`treeSize ${size} must be an integer above the event's leaf index ${index} and at most the log's size ${log.size()}`);
      }
      return { leafIndex: index, treeSize: size, leafHash: b64(log.leafHashAt(index)), path: log.inclusionPath(index, size).map(b64), rootHash: b64(log.rootAt(size)) };
    });
  }

  /** An RFC 9162 consistency proof (base64 hashes). */
  proveConsistency(tenantId: string, oldSize: number, newSize: number): string[] {
    if (typeof tenantId !== 'string') throw new ValidationError('proveConsistency needs a tenant id');
    return this.read(tenantId, (t) => new TileLog(t, tenantId).consistencyProof(oldSize, newSize).map(b64));
  }

  /** Runs verifyTenant's algorithm on one snapshot; `events` reads the stored events from it. */
  verifyTenant(tenantId: string, events: (snap: ReturnType<Database['read']>) => StoredEvents, trustedCheckpoint?: string): TenantVerifyReport {
    if (trustedCheckpoint !== undefined && typeof trustedCheckpoint !== 'string') throw new ValidationError('the trusted checkpoint must be the signed note text');
    return this.read(tenantId, (t, snap) => verifyLog(new TileLog(t, tenantId), events(snap), this.signer.verifier, trustedCheckpoint));
  }

  /** Tenants with a log in shard `index`. */
  tenantsOfShard(index: number): string[] {
    const snap = this.shards.shardAt(index).read();
    try {
      return tenantsWithLogs(snap.table(LOG_TABLE));
    } finally {
      snap.close();
    }
  }

  /** Health warnings of the integrity layer. */
  warnings(): string[] {
    const out: string[] = [];
    if (this.signer.generated) {
      out.push(`checkpoints are signed with a key generated in the store's own directory (${this.signer.keyFile}); in production pass integrity.signingKey from outside the store, so that whoever can rewrite the store cannot also re-sign its checkpoints`);
    }
    if (this.timerError !== undefined) out.push(`the last timed checkpoint failed: ${this.timerError}; it is retried at the next interval`);
    return out;
  }

  /** Signs checkpoints for tenants that grew and stops the timer; call before the shards close. */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.checkpointGrown();
  }
}

